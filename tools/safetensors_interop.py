#!/usr/bin/python3
"""safetensors interchange between PyTorch and hnn, without the safetensors package (Debian has none).

  /usr/bin/python3 tools/safetensors_interop.py write
      Builds two small batch-norm models with PyTorch (MLP 784->32 BN ->10; Conv 1->4 k3, BN2d, ReLU,
      AvgPool 2, Linear 100->10), moves their running statistics with a few training forwards, and writes
      tests/references/interop/<model>.safetensors (the published format: u64 LE header length, JSON
      header, raw little-endian data) plus interop.json with a fixed input and the eval-mode output.
  /usr/bin/python3 tools/safetensors_interop.py check [FILE:MODEL ...]
      Reads hnn-written files back into PyTorch (default: tests/references/interop/<model>.hnn.safetensors,
      which tests/io/safetensors_test.cpp reproduces byte for byte) and checks the outputs on the fixture
      input equal PyTorch's exactly.
"""
import json
import os
import struct
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "references", "interop")
DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
TORCH_DTYPES = {v: k for k, v in DTYPES.items()}


def mlp():
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 32), torch.nn.BatchNorm1d(32),
                               torch.nn.ReLU(), torch.nn.Linear(32, 10))


def conv():
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(100, 10))


MODELS = {"mlp_bn": (mlp, (4, 1, 28, 28)), "conv_bn": (conv, (3, 1, 12, 12))}


def save_file(tensors, path, metadata):
    """The format as published: data laid out in key order, header padded with spaces to 8 bytes."""
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for key in sorted(tensors):
        t = tensors[key].detach().contiguous().cpu()
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[key] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def load_file(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", {})
    buffer = raw[8 + n:]
    out = {}
    for key, e in header.items():
        begin, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(buffer[begin:end]), dtype=TORCH_DTYPES[e["dtype"]])
        out[key] = t.reshape(e["shape"]).clone()
    return out, metadata


def encode(t):
    t = t.detach()
    return {"dtype": {torch.float32: "float32", torch.float64: "float64"}[t.dtype], "shape": list(t.shape),
            "data": t.reshape(-1).tolist()}


def write():
    os.makedirs(OUT, exist_ok=True)
    cases = {}
    for seed, (name, (build, shape)) in enumerate(MODELS.items()):
        torch.manual_seed(100 + seed)
        model = build()
        model.train()
        with torch.no_grad():
            for _ in range(3):  # moves running_mean/var and num_batches_tracked away from their defaults
                model(torch.rand(shape) * 2.0)
        model.eval()
        x = torch.rand(shape)
        with torch.no_grad():
            y = model(x)
        save_file(model.state_dict(), os.path.join(OUT, name + ".safetensors"), {"format": "pt"})
        cases[name] = {"call": f"{name}: torch.manual_seed({100 + seed}); 3 train forwards; eval; model(x)",
                       "params": {"keys": list(model.state_dict().keys())},
                       "tensors": {"input": encode(x), "output": encode(y)}}
    with open(os.path.join(OUT, "interop.json"), "w") as f:
        json.dump({"generator": "tools/safetensors_interop.py", "torch": torch.__version__, "cases": cases}, f,
                  separators=(",", ":"))
    print("wrote", OUT)


def check(pairs):
    with open(os.path.join(OUT, "interop.json")) as f:
        cases = json.load(f)["cases"]
    ok = True
    for path, name in pairs:
        tensors, metadata = load_file(path)
        model = MODELS[name][0]()
        model.load_state_dict(tensors, strict=True)
        model.eval()
        x = torch.tensor(cases[name]["tensors"]["input"]["data"], dtype=torch.float32)
        x = x.reshape(cases[name]["tensors"]["input"]["shape"])
        want = torch.tensor(cases[name]["tensors"]["output"]["data"], dtype=torch.float32)
        with torch.no_grad():
            got = model(x).reshape(-1)
        same = torch.equal(got, want)
        ok = ok and same
        print(f"{path}: keys {list(tensors)} metadata {metadata}: outputs {'equal' if same else 'DIFFER'}")
    return ok


if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) > 1 and sys.argv[1] == "check":
        args = sys.argv[2:] or [os.path.join(OUT, n + ".hnn.safetensors") + ":" + n for n in MODELS]
        sys.exit(0 if check([a.rsplit(":", 1) for a in args]) else 1)
    write()
