"""ActivationMonitor fixtures (issue 10, item 2): the statistics hnn::utils::ActivationMonitor records.

For each input x (float32-representable, computed in double): mean, torch.std (unbiased), torch.quantile
at the monitor's default percentiles 1, 15.87, 50, 84.13, 99 (interpolation='linear', torch's default),
the saturated fractions a Sigmoid/Tanh input (|x| > 4) and a ReLU input (x <= 0) report. "bn2d" cases
give the same statistics of batch norm's training-mode output (weight 1, bias 0, eps 1e-5), which the
monitor records at a BatchNorm2d's output.
"""
import math

import torch

from _common import rand, randn, seeded

F = torch.nn.functional

PERCENTILES = [1, 15.87, 50, 84.13, 99]


def statistics(x):
    flat = x.reshape(-1)
    q = torch.tensor([p / 100 for p in PERCENTILES], dtype=torch.float64)
    return {
        "x": x,
        "mean": flat.mean().reshape(1),
        "std": flat.std().reshape(1) if flat.numel() > 1 else torch.tensor([math.nan]),
        "quantiles": torch.quantile(flat, q, interpolation="linear"),
        "saturated_sigmoid": (flat.abs() > 4).double().mean().reshape(1),
        "relu_zero": (flat <= 0).double().mean().reshape(1),
    }


CALL = ("flat = x.reshape(-1); flat.mean(); flat.std(); torch.quantile(flat, torch.tensor([0.01, 0.1587, 0.5, "
        "0.8413, 0.99]), interpolation='linear'); (flat.abs() > 4).double().mean(); (flat <= 0).double().mean()")


def cases():
    gen = seeded(1010)
    inputs = {
        "normal_64x10": randn((64, 10), gen, scale=3.0, offset=0.5),
        "uniform_7x3x5": rand((7, 3, 5), gen, low=-6.0, high=6.0),
        "normal_16x256": randn((16, 256), gen, scale=2.0),
        # Large enough (>= 2048 values) for the monitor's bucketed selection: many exact zeros (a ReLU
        # output), and a few outliers that squeeze nearly every value into one histogram bucket.
        "relu_like_64x100": randn((64, 100), gen).clamp(min=0.0),
        "outliers_4096": torch.cat([rand((4090,), gen), torch.tensor([1e4, -3e3, 5e4, 2e4, -1e4, 7e3])]).reshape(64, 64),
        "ties_9": torch.tensor([2.0, 2.0, 2.0, -1.0, -1.0, 5.0, 0.0, 0.0, 0.0]).reshape(3, 3),
        "two_values": torch.tensor([[-5.0, 5.0]]),
        "single_value": torch.tensor([[1.5]]),
        "with_nan": torch.tensor([[1.0, math.nan, 3.0, -2.0]]),
    }
    for name, x in inputs.items():
        yield name, {"call": CALL, "params": {"percentiles": PERCENTILES}, "tensors": statistics(x)}

    x = randn((8, 3, 4, 4), gen, scale=2.0, offset=1.0)
    y = F.batch_norm(x, None, None, weight=None, bias=None, training=True, eps=1e-5)
    tensors = statistics(y)
    tensors["x"] = x
    yield "bn2d_8x3x4x4", {"call": "y = F.batch_norm(x, None, None, training=True, eps=1e-5); " + CALL.replace("x.", "y."),
                           "params": {"percentiles": PERCENTILES}, "tensors": tensors}
