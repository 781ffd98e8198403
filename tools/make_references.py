#!/usr/bin/python3
"""Writes the reference fixtures hnn's tests compare against, computed by PyTorch.

Run with Debian's python3-torch:  /usr/bin/python3 tools/make_references.py [area ...]
Each area is a module in tools/references/ with a `cases()` generator; its fixtures go to
tests/references/<area>.json. Every case records the PyTorch call that produced it.
Inputs are drawn from a seeded generator and rounded to float32 so the same values are exact
in float and double; references are computed in double unless a case says otherwise.
"""
import importlib
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "references"))  # fixture modules import _common directly

import torch  # noqa: E402

AREAS = sorted(f[:-3] for f in os.listdir(os.path.join(HERE, "references"))
               if f.endswith(".py") and not f.startswith("_"))


def encode_value(v):
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def encode_tensor(t):
    t = t.detach().cpu()
    dtype = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64"}[t.dtype]
    data = [encode_value(v) for v in t.reshape(-1).tolist()]
    return {"dtype": dtype, "shape": list(t.shape), "data": data}


def write_area(area):
    module = importlib.import_module("references." + area)
    cases = {}
    for name, case in module.cases():
        assert name not in cases, f"duplicate case {name}"
        cases[name] = {
            "call": case.get("call", ""),
            "params": case.get("params", {}),
            "tensors": {k: encode_tensor(v) for k, v in case["tensors"].items()},
        }
    path = os.path.join(ROOT, "tests", "references", area + ".json")
    with open(path + ".tmp", "w") as f:
        json.dump({"generator": "tools/make_references.py", "torch": torch.__version__, "cases": cases},
                  f, separators=(",", ":"))
    os.replace(path + ".tmp", path)
    print(f"{path}: {len(cases)} cases")


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    for area in (sys.argv[1:] or AREAS):
        write_area(area)
