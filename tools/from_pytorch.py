"""PyTorch -> hnn -> PyTorch with LeNet-BN on Fashion-MNIST, as a user moving a model would do it:

1. train LeNet-BN in PyTorch (the network of examples/common/models.hpp: same layers, same state-dict
   names) and torch.save(model.state_dict(), "<out>/pytorch_lenet_bn.pt");
2. run build/examples/from_pytorch on that file: hnn loads it, evaluates it, fine-tunes it and saves it in
   PyTorch's format as "<out>/hnn_finetuned.pt";
3. load that file back here with torch.load(..., weights_only=True) and load_state_dict(strict=True), and
   evaluate it: the accuracy must be the one hnn printed.

    /usr/bin/python3 tools/from_pytorch.py [--epochs 1] [--limit-train 10000] [--out from-pytorch-run]

--fixture writes tests/references/torch/lenet_bn_fmnist.pt (a short PyTorch training run) and, next to it,
lenet_bn_fmnist.json with the eval-mode logits of four fixed images, which tests/io/from_pytorch_test.cpp
compares with hnn's. Needs Debian's python3-torch and dataset-fashion-mnist.
"""
import argparse
import gzip
import json
import os
import re
import subprocess
import sys

import numpy as np
import torch
from torch import nn

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))
DATA = "/usr/share/datasets/fashion-mnist"


def idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(train, limit):
    prefix = "train" if train else "t10k"
    x = idx(os.path.join(DATA, f"{prefix}-images-idx3-ubyte.gz"))
    y = idx(os.path.join(DATA, f"{prefix}-labels-idx1-ubyte.gz"))
    if limit:
        x, y = x[:limit], y[:limit]
    # hnn's MNIST dataset scales pixels to [0, 1], as torchvision's ToTensor does.
    return torch.tensor(x, dtype=torch.float32).unsqueeze(1) / 255.0, torch.tensor(y, dtype=torch.int64)


def lenet_bn():
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
        nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(), nn.Linear(84, 10))
    for m in net:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
    return net


def accuracy(net, x, y):
    net.eval()
    with torch.no_grad():
        return (net(x).argmax(1) == y).float().mean().item()


def train(net, x, y, epochs, lr=0.9, batch=256):
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), batch):
            idx_ = perm[i:i + batch]
            opt.zero_grad()
            loss_fn(net(x[idx_]), y[idx_]).backward()
            opt.step()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=1, help="PyTorch training epochs (and hnn fine-tuning epochs)")
    p.add_argument("--limit-train", type=int, default=10000)
    p.add_argument("--limit-test", type=int, default=0)
    p.add_argument("--out", default="from-pytorch-run")
    p.add_argument("--example", default=os.path.join(ROOT, "build", "examples", "from_pytorch"))
    p.add_argument("--fixture", action="store_true", help="write tests/references/torch/lenet_bn_fmnist.*")
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    x, y = load(True, a.limit_train)
    xt, yt = load(False, a.limit_test)
    net = lenet_bn()
    train(net, x, y, a.epochs)
    if a.fixture:
        folder = os.path.join(ROOT, "tests", "references", "torch")
        os.makedirs(folder, exist_ok=True)
        torch.save(net.state_dict(), os.path.join(folder, "lenet_bn_fmnist.pt"))
        images = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(7))
        net.eval()
        with torch.no_grad():
            logits = net(images)
        with open(os.path.join(folder, "lenet_bn_fmnist.json"), "w") as f:
            json.dump({"generator": "tools/from_pytorch.py --fixture", "torch": torch.__version__,
                       "images": images.flatten().tolist(), "logits": logits.flatten().tolist(),
                       "test_acc": accuracy(net, xt, yt)}, f)
        print(f"wrote {folder}/lenet_bn_fmnist.pt and .json (test_acc {accuracy(net, xt, yt):.4f})")
        return
    os.makedirs(a.out, exist_ok=True)
    source = os.path.join(a.out, "pytorch_lenet_bn.pt")
    target = os.path.join(a.out, "hnn_finetuned.pt")
    torch.save(net.state_dict(), source)
    print(f"PyTorch: trained {a.epochs} epoch(s), test_acc {accuracy(net, xt, yt):.4f}; saved {source}")
    cmd = [a.example, "--weights", source, "--save", target, "--epochs", str(a.epochs), "--lr", "0.1", "--quiet",
           "--limit-train", str(a.limit_train), "--limit-test", str(a.limit_test), "--data", DATA]
    run = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(run.stdout)
    if run.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({run.returncode}):\n{run.stderr}")
    hnn_acc = float(re.search(r"^test_acc=([0-9.]+)$", run.stdout, re.M).group(1))
    back = lenet_bn()
    print("PyTorch: load_state_dict(torch.load(..., weights_only=True), strict=True):",
          back.load_state_dict(torch.load(target, weights_only=True), strict=True))
    acc = accuracy(back, xt, yt)
    print(f"PyTorch on hnn's fine-tuned weights: test_acc {acc:.4f} (hnn printed {hnn_acc:.4f})")
    if abs(acc - hnn_acc) > 1.5 / len(yt):
        sys.exit("the accuracies differ")


if __name__ == "__main__":
    main()
