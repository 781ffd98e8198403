#!/usr/bin/python3
"""PyTorch's own torch.save files (the zip format, the default since PyTorch 1.6) for
tests/io/torch_format_test.cpp, which reads them with hnn::io::read_torch, and the check that PyTorch
reads what hnn::io::write_torch writes. Written to tests/references/torch/:

- lenet_bn.pt            LeNet with BatchNorm2d/BatchNorm1d (a few training steps move its statistics)
- named_submodules.pt    nn.Sequential inside a Module with attribute names (features.0.weight, classifier.fc1.bias)
- float64.pt             a double-precision MLP with BatchNorm1d (model.double().state_dict())
- half_bfloat16.pt       float16 and bfloat16 tensors: special values, subnormals, a transposed view
- integer_types.pt       int8, uint8, int16, int32, int64 and bool tensors
- views.pt               entries that view one storage: a slice with a storage offset, a transposed view,
                         a column (stride 6), a 0-dim element, an empty view, a second key holding the same
                         tensor, a reshaped view, an expanded tensor (stride 0), an int64 strided view
- no_num_batches_tracked.pt  a plain dict (not an OrderedDict) of a model whose BatchNorm keeps no statistics
- parameter.pt           nn.Parameter values in a dict (torch._utils._rebuild_parameter)
- protocol4.pt           torch.save(..., pickle_protocol=4): FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL
- whole_model.pt         torch.save(model): a pickled model object, which hnn refuses
- legacy.pt              torch.save(sd, f, _use_new_zipfile_serialization=False): the pre-1.6 format, refused
- torch_files.json       the expected keys (in order), dtypes, shapes and values of each file, in
                         tests/support/reference.hpp's case format (values as float64 or int lists)

and checks hnn's writer: written_by_hnn.pt and written_by_hnn_zip64.pt (the same tensors with ZIP64 records
forced) are written by hnn::io::write_torch in tests/io/torch_format_test.cpp, which compares its output with
them byte for byte. This script loads both with torch.load(path, weights_only=True), compares every key,
dtype, shape and value with HNN_WRITTEN (the tensors the C++ test writes) and fails loudly on any
difference; the JSON records the check ("written_by_hnn" case).

Run:  /usr/bin/python3 tools/references/torch_files.py
Deterministic (seeded, torch.save writes no timestamps), so a rerun rewrites identical files; legacy.pt, whose
storage keys are memory addresses, is written only when missing.

To (re)create written_by_hnn*.pt after changing write_torch or HNN_WRITTEN (keep both sides in step):
    cmake --build build --target test_io_torch_format_test
    HNN_REGENERATE_TORCH_FIXTURES=1 build/tests/test_io_torch_format_test "[regenerate]"
    /usr/bin/python3 tools/references/torch_files.py
"""
import collections
import json
import math
import os
import sys

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "references", "torch")
HNN_DTYPE = {torch.float32: "float32", torch.float16: "float32", torch.bfloat16: "float32",
             torch.float64: "float64", torch.int64: "int64", torch.int32: "int64", torch.int16: "int64",
             torch.int8: "int64", torch.uint8: "int64", torch.bool: "int64"}


def encode_value(v):
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def encode_tensor(t):
    """Values as hnn holds them: floating kinds widened exactly to float64, integer kinds and bool as int."""
    t = t.detach()
    dtype = HNN_DTYPE[t.dtype]
    flat = t.reshape(-1)
    data = flat.double().tolist() if dtype != "int64" else flat.to(torch.int64).tolist()
    return {"dtype": dtype, "shape": list(t.shape), "data": [encode_value(v) for v in data]}


def case(call, sd, file):
    return {"call": call,
            "params": {"file": file, "keys": list(sd.keys()),
                       "torch_dtypes": {k: str(v.dtype).replace("torch.", "") for k, v in sd.items()}},
            "tensors": {k: encode_tensor(v) for k, v in sd.items()}}


def train_a_little(model, shape, steps=3):
    """A few training-mode forwards and SGD steps, so running statistics and weights are not their init."""
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):
        opt.zero_grad()
        out = model(torch.randn(*shape, dtype=next(model.parameters()).dtype))
        (out * out).mean().backward()
        opt.step()
    return model


def lenet_bn():
    return nn.Sequential(nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * 2 * 2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 10))


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 6)
        self.bn = nn.BatchNorm1d(6)
        self.fc2 = nn.Linear(6, 3)

    def forward(self, x):
        return self.fc2(torch.relu(self.bn(self.fc1(x))))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.AdaptiveAvgPool2d(2))
        self.classifier = Classifier()

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


# The tensors tests/io/torch_format_test.cpp hands to hnn::io::write_torch (hnn_written_tensors there).
def hnn_written():
    nan, inf = float("nan"), float("inf")
    return collections.OrderedDict([
        ("conv.weight", torch.tensor([i * 0.25 - 1 for i in range(8)], dtype=torch.float32).reshape(2, 1, 2, 2)),
        ("conv.bias", torch.tensor([nan, inf, -inf, -0.0, 1e-45, 3.4028234663852886e38], dtype=torch.float32)),
        ("bn.running_var", torch.tensor([1.5, 2.25, 1e-300, -0.0], dtype=torch.float64)),
        ("bn.num_batches_tracked", torch.tensor(7, dtype=torch.int64)),
        ("big", torch.tensor([-2**63, 2**63 - 1, 0, -1], dtype=torch.int64)),
        ("empty", torch.zeros(0, 3, dtype=torch.float32)),
        ("transposed", torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=torch.float32).t()),
        ("scalar", torch.tensor(0.5, dtype=torch.float64)),
    ])


def same(a, b):
    return (a.dtype == b.dtype and a.shape == b.shape and
            (a.numel() == 0 or bool(torch.equal(torch.nan_to_num(a.double()), torch.nan_to_num(b.double()))
                                    and torch.equal(torch.isnan(a.double()), torch.isnan(b.double()))
                                    and torch.equal(torch.signbit(a.double()), torch.signbit(b.double())))))


def check_hnn_written(name):
    path = os.path.join(OUT, name)
    if not os.path.exists(path):
        sys.exit(f"{path} is missing: create it with the C++ test (see this script's docstring)")
    loaded = torch.load(path, weights_only=True)
    expected = hnn_written()
    if not isinstance(loaded, collections.OrderedDict):
        sys.exit(f"{path}: torch.load gave a {type(loaded).__name__}, not an OrderedDict")
    if list(loaded.keys()) != list(expected.keys()):
        sys.exit(f"{path}: keys {list(loaded.keys())} != {list(expected.keys())}")
    for k, v in expected.items():
        if not same(loaded[k], v):
            sys.exit(f"{path}: '{k}' loaded as {loaded[k]!r}, expected {v!r}")
    print(f"{path}: torch.load(weights_only=True) reads {len(loaded)} tensors as hnn wrote them")
    return loaded


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    cases = {}

    def save(name, call, sd, **kwargs):
        path = os.path.join(OUT, name)
        torch.save(sd, path, **kwargs)
        cases[name[:-3]] = case(call, sd, name)

    model = train_a_little(lenet_bn(), (4, 1, 12, 12))
    save("lenet_bn.pt", "torch.save(lenet_bn().state_dict(), 'lenet_bn.pt')", model.state_dict())

    net = train_a_little(Net(), (4, 2, 6, 6))
    save("named_submodules.pt", "torch.save(Net().state_dict(), 'named_submodules.pt')", net.state_dict())

    mlp = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 2)).double()
    train_a_little(mlp, (6, 5))
    save("float64.pt", "torch.save(mlp.double().state_dict(), 'float64.pt')", mlp.state_dict())

    nan, inf = float("nan"), float("inf")
    half_values = [0.0, -0.0, 1.0, -2.5, 65504.0, 6.103515625e-05, 5.960464477539063e-08, -3.0517578125e-05,
                   inf, -inf, nan, 0.1, 1000.5]
    bf16_values = [0.0, -0.0, 1.0, -2.5, 3.3895313892515355e38, 1.1754943508222875e-38, 9.183549615799121e-41,
                   inf, -inf, nan, 0.1, -1e10]
    grid = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 8 - 0.7
    save("half_bfloat16.pt", "torch.save({'half': ..., 'bf16': ..., 'half_t': grid.half().t(), ...}, ...)",
         collections.OrderedDict([("half", torch.tensor(half_values, dtype=torch.float16)),
                                  ("bf16", torch.tensor(bf16_values, dtype=torch.bfloat16)),
                                  ("half_t", grid.half().t()),
                                  ("bf16_grid", grid.bfloat16()),
                                  ("half_scalar", torch.tensor(-0.33325195, dtype=torch.float16))]))

    save("integer_types.pt", "torch.save({int8, uint8, int16, int32, int64, bool tensors}, 'integer_types.pt')",
         collections.OrderedDict([
             ("int8", torch.tensor([-128, -1, 0, 1, 127], dtype=torch.int8)),
             ("uint8", torch.tensor([0, 1, 128, 255], dtype=torch.uint8)),
             ("int16", torch.tensor([[-32768, 32767], [-2, 300]], dtype=torch.int16)),
             ("int32", torch.tensor([-2**31, 2**31 - 1, 65536], dtype=torch.int32)),
             ("int64", torch.tensor([-2**63, 2**63 - 1, 2**53 + 1], dtype=torch.int64)),
             ("bool", torch.tensor([[True, False, True]], dtype=torch.bool))]))

    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.5 - 3
    longs = torch.arange(10, dtype=torch.int64) * 1000003
    views = collections.OrderedDict([
        ("base", base),
        ("row_slice", base[1:3]),            # storage offset 6
        ("transposed", base.t()),            # strides (1, 6)
        ("column", base[:, 2]),              # offset 2, stride 6
        ("element", base[2, 3]),             # 0-dim, offset 15
        ("empty_view", base[:, 6:]),         # shape (4, 0), offset 6
        ("same_tensor", base),               # a second key holding the same tensor (one memoized object)
        ("reshaped", base.view(6, 4)),       # another tensor over the same storage
        ("expanded", torch.tensor([1.5, -2.0]).expand(3, 2)),  # stride (0, 1)
        ("long_strided", longs[1::3]),       # int64, offset 1, stride 3
    ])
    save("views.pt", "torch.save(OrderedDict(base=b, row_slice=b[1:3], transposed=b.t(), ...), 'views.pt')", views)

    plain = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3, track_running_stats=False))
    save("no_num_batches_tracked.pt", "torch.save(dict(Sequential(Linear(4, 3), BatchNorm1d(3, "
         "track_running_stats=False)).state_dict()), ...)", dict(plain.state_dict()))

    save("parameter.pt", "torch.save({'weight': nn.Parameter(torch.randn(2, 3)), 'steps': torch.tensor(5)}, ...)",
         {"weight": nn.Parameter(torch.randn(2, 3)), "steps": torch.tensor(5)})

    small = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    save("protocol4.pt", "torch.save(Sequential(Linear(3, 2), BatchNorm1d(2)).state_dict(), ..., pickle_protocol=4)",
         small.state_dict(), pickle_protocol=4)

    torch.save(Net(), os.path.join(OUT, "whole_model.pt"))
    cases["whole_model"] = {"call": "torch.save(Net(), 'whole_model.pt')", "params": {"file": "whole_model.pt"},
                            "tensors": {}}
    legacy = os.path.join(OUT, "legacy.pt")
    if not os.path.exists(legacy):  # its storage keys are memory addresses: a rewrite would change its bytes
        torch.save(small.state_dict(), legacy, _use_new_zipfile_serialization=False)
    cases["legacy"] = {"call": "torch.save(sd, 'legacy.pt', _use_new_zipfile_serialization=False)",
                       "params": {"file": "legacy.pt"}, "tensors": {}}

    for name in ["written_by_hnn.pt", "written_by_hnn_zip64.pt"]:
        loaded = check_hnn_written(name)
        cases[name[:-3]] = case(f"torch.load('{name}', weights_only=True)", loaded, name)

    path = os.path.join(OUT, "torch_files.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"generator": "tools/references/torch_files.py", "torch": torch.__version__, "cases": cases},
                  f, separators=(",", ":"))
    os.replace(path + ".tmp", path)
    print(f"{path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
