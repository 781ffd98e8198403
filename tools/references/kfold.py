"""KFold / StratifiedKFold fixtures from scikit-learn (Debian's python3-sklearn, 1.2), shuffle=False.

For each case the (train, test) index arrays of every fold, as sklearn's split() yields them; the C++
test compares hnn::data::KFold / StratifiedKFold fold by fold. Shuffled splits are hnn's own
permutation (not numpy's), so only the unshuffled ones are compared with sklearn.
"""
import numpy as np
import torch
from sklearn.model_selection import KFold, StratifiedKFold

KFOLD_CASES = [(10, 5), (10, 3), (7, 2), (13, 4), (5, 5), (23, 6)]

STRATIFIED_CASES = {
    # name: (labels, n_splits); labels are arbitrary int64 values in order of appearance
    "binary_balanced": ([0, 1] * 6, 3),
    "binary_unbalanced": ([1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0], 3),
    "three_classes": ([2, 0, 1, 1, 2, 0, 0, 2, 1, 1, 0, 2, 2, 1, 0, 0, 1], 4),
    "sorted_blocks": ([0] * 5 + [1] * 7 + [2] * 4, 3),
    "unseen_order": ([7, 7, 3, 9, 3, 7, 9, 9, 3, 3, 7, 9, 3], 2),
    "five_folds": ([i % 3 for i in range(20)] + [5, 5, 5, 5, 5], 5),
}


def folds_to_tensors(splits):
    tensors = {}
    for k, (train, test) in enumerate(splits):
        tensors[f"train{k}"] = torch.tensor(np.asarray(train, dtype=np.int64))
        tensors[f"test{k}"] = torch.tensor(np.asarray(test, dtype=np.int64))
    return tensors


def cases():
    for n, k in KFOLD_CASES:
        splits = list(KFold(n_splits=k, shuffle=False).split(np.zeros((n, 1))))
        yield f"kfold_n{n}_k{k}", {
            "call": f"sklearn.model_selection.KFold(n_splits={k}, shuffle=False).split(np.zeros(({n}, 1)))",
            "params": {"n": n, "n_splits": k},
            "tensors": folds_to_tensors(splits),
        }
    for name, (labels, k) in STRATIFIED_CASES.items():
        y = np.asarray(labels, dtype=np.int64)
        splits = list(StratifiedKFold(n_splits=k, shuffle=False).split(np.zeros((len(y), 1)), y))
        tensors = folds_to_tensors(splits)
        tensors["labels"] = torch.tensor(y)
        yield f"stratified_{name}", {
            "call": f"sklearn.model_selection.StratifiedKFold(n_splits={k}, shuffle=False).split(X, y={labels})",
            "params": {"n_splits": k},
            "tensors": tensors,
        }
