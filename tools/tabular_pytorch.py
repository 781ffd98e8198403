"""The PyTorch + scikit-learn side of examples/tabular: the same k-fold pipelines on scikit-learn's bundled
data, so hnn's numbers, run time and memory can be put next to PyTorch's.

    /usr/bin/python3 tools/tabular_pytorch.py --dataset breast_cancer --norm batchnorm --optimizer sgd --lr 0.01
    build/examples/tabular --sklearn breast_cancer --norm batchnorm --optimizer sgd --lr 0.01

Per fold, as examples/tabular does: the tail of the shuffled training part (--val-fraction) validates, the
rest fits; a StandardScaler (and SimpleImputer when asked) is fitted on the fitting rows only; an MLP
(Linear -> [BatchNorm1d] -> ReLU -> [Dropout(0.2)], 60-30 to classify, 64-32 to regress) trains with BCE on a
sigmoid, cross-entropy or MSE, batch 32, Adam or SGD with momentum, and early stopping that restores the
best weights; the held-out fold is scored. Prints the mean over folds, the wall time and the peak RSS in the
lines examples/tabular prints. Needs Debian's python3-torch and python3-sklearn.
"""
import argparse
import copy
import resource
import time

import numpy as np
import torch
from sklearn import datasets
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def load(name):
    if name == "diabetes":
        x, y = datasets.load_diabetes(return_X_y=True, scaled=False)
        return x, y, "regression"
    loader = {"breast_cancer": datasets.load_breast_cancer, "iris": datasets.load_iris,
              "wine": datasets.load_wine}[name]
    x, y = loader(return_X_y=True)
    return x, y, "classification"


def make_model(inputs, outputs, classification, norm):
    layers, width = [], inputs
    for hidden in ((60, 30) if classification else (64, 32)):
        layers.append(nn.Linear(width, hidden))
        if norm == "batchnorm":
            layers.append(nn.BatchNorm1d(hidden))
        layers.append(nn.ReLU())
        if norm == "dropout":
            layers.append(nn.Dropout(0.2))
        width = hidden
    layers.append(nn.Linear(width, outputs))
    if classification and outputs == 1:
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="breast_cancer", choices=["breast_cancer", "diabetes", "iris", "wine"])
    p.add_argument("--norm", default="auto", choices=["auto", "none", "dropout", "batchnorm"])
    p.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--min-delta", type=float, default=0.0)
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--impute", default="", choices=["", "mean", "median", "most_frequent"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    start = time.perf_counter()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x, y, task = load(a.dataset)
    classification = task == "classification"
    classes = int(y.max()) + 1 if classification else 0
    binary = classification and classes <= 2
    norm = a.norm if a.norm != "auto" else ("dropout" if classification else "none")
    splitter = (StratifiedKFold if classification else KFold)(a.folds, shuffle=True, random_state=a.seed)
    scores = []
    for fold, (train_index, test_index) in enumerate(splitter.split(x, y)):
        rng = np.random.default_rng(a.seed + fold)
        train_index = rng.permutation(train_index)
        n_val = round(a.val_fraction * len(train_index))
        fit, val = train_index[:len(train_index) - n_val], train_index[len(train_index) - n_val:]
        steps = ([SimpleImputer(strategy=a.impute)] if a.impute else []) + [StandardScaler()]
        x_fit = x[fit]
        for s in steps:
            x_fit = s.fit_transform(x_fit)

        def prepare(idx):
            z = x[idx]
            for s in steps:
                z = s.transform(z)
            return torch.tensor(z, dtype=torch.float32)

        def target(idx):
            t = torch.tensor(y[idx], dtype=torch.float32)
            return t.long() if classification and not binary else t.reshape(-1, 1)

        fit_set = TensorDataset(prepare(fit), target(fit))
        val_x, val_y, test_x, test_y = prepare(val), target(val), prepare(test_index), target(test_index)
        loader = DataLoader(fit_set, batch_size=a.batch_size, shuffle=True)
        model = make_model(x.shape[1], 1 if binary or not classification else classes, classification, norm)
        loss_fn = nn.MSELoss() if not classification else nn.BCELoss() if binary else nn.CrossEntropyLoss()
        optimizer = (torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum) if a.optimizer == "sgd"
                     else torch.optim.Adam(model.parameters(), lr=a.lr))
        best, best_state, waited, epochs_run = float("inf"), None, 0, 0
        for epoch in range(1, a.epochs + 1):
            model.train()
            for xb, yb in loader:
                optimizer.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                optimizer.step()
            model.eval()
            with torch.no_grad():
                val_loss = loss_fn(model(val_x), val_y).item()
            epochs_run = epoch
            if val_loss < best - a.min_delta:
                best, best_state, waited = val_loss, copy.deepcopy(model.state_dict()), 0
            else:
                waited += 1
                if waited >= a.patience:
                    break
        model.load_state_dict(best_state)
        model.eval()
        with torch.no_grad():
            out = model(test_x)
            if not classification:
                score = loss_fn(out, test_y).item()
            elif binary:
                score = ((out >= 0.5) == (test_y >= 0.5)).float().mean().item()
            else:
                score = (out.argmax(1) == test_y).float().mean().item()
        scores.append(score)
        print(f"fold {fold + 1}/{a.folds}  epochs {epochs_run:3d} (best val_loss {best:.4f})  "
              f"test_{'acc' if classification else 'mse'} {score:.4f}", flush=True)
    name = "acc" if classification else "mse"
    print(f"cross-validated test_{name}: {np.mean(scores):.4f} +- {np.std(scores, ddof=1):.4f} "
          f"(mean +- std over {a.folds} folds)")
    print(f"seconds={time.perf_counter() - start:.2f}")
    print(f"peak_rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")
    print(f"test_{name}={np.mean(scores):.4f}")


if __name__ == "__main__":
    main()
