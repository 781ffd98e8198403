"""DistributedSampler fixtures from PyTorch (Debian's python3-torch), shuffle=False.

For each (dataset size, num_replicas, drop_last) the index list of every rank, as
torch.utils.data.DistributedSampler yields it: rank r reads r, r + num_replicas, ... of the list padded by
repeating its start (or cut to a multiple of num_replicas with drop_last). Shuffled orders are hnn's own
permutation (not torch.randperm's), so only the unshuffled lists are compared with PyTorch; the C++ test
checks the shuffled ones for the properties PyTorch guarantees.
"""
import torch
from torch.utils.data import DistributedSampler

# (dataset size, num_replicas): divisible, padded by one or several, fewer samples than ranks, one rank,
# an empty dataset.
SIZES = [(12, 3), (10, 3), (11, 4), (7, 2), (2, 3), (1, 4), (5, 1), (0, 2), (100, 3), (9, 4)]


def cases():
    for size, replicas in SIZES:
        for drop_last in (False, True):
            tensors = {}
            for rank in range(replicas):
                sampler = DistributedSampler(range(size), num_replicas=replicas, rank=rank, shuffle=False,
                                             drop_last=drop_last)
                tensors[f"rank{rank}"] = torch.tensor(list(sampler), dtype=torch.int64)
            yield f"size{size}_replicas{replicas}_drop{int(drop_last)}", {
                "call": f"list(torch.utils.data.DistributedSampler(range({size}), num_replicas={replicas}, rank=r, "
                        f"shuffle=False, drop_last={drop_last}))",
                "params": {"size": size, "num_replicas": replicas, "drop_last": drop_last,
                           "num_samples": len(DistributedSampler(range(size), num_replicas=replicas, rank=0,
                                                                 shuffle=False, drop_last=drop_last))},
                "tensors": tensors,
            }
