"""Batch-norm fixtures: the matrix of issue 3.

{1d (N,C), 1d (N,C,L), 2d, 3d} x momentum {0.1, 0.3, 1.0, None} x affine {on, off}
x track_running_stats {on, off}, each run through the call sequence train, train, eval, train
(and eval-first sequences): after every call the output, the buffers, num_batches_tracked and the
gradient of that call's input for loss = sum(out * r_k); weight/bias gradients accumulated over all
calls at the end. Plus inputs with mean 1e3 and unit variance. Everything in double from
float32-representable inputs; the C++ test runs the same in float and in double.
"""
import torch

from _common import randn, rand, seeded

LAYOUTS = {
    "1d": (torch.nn.BatchNorm1d, (6, 3)),
    "1dL": (torch.nn.BatchNorm1d, (4, 3, 5)),
    "2d": (torch.nn.BatchNorm2d, (4, 3, 3, 2)),
    "3d": (torch.nn.BatchNorm3d, (3, 2, 2, 3, 2)),
}
MOMENTA = {"m0.1": 0.1, "m0.3": 0.3, "m1.0": 1.0, "mNone": None}
SEQUENCES = {"tteT": ["train", "train", "eval", "train"], "eTe": ["eval", "train", "eval"]}


def run_case(cls, shape, momentum, affine, track, sequence, seed, offset=0.0, eps=1e-5):
    gen = seeded(seed)
    C = shape[1]
    bn = cls(C, eps=eps, momentum=momentum, affine=affine, track_running_stats=track).double()
    tensors = {}
    if affine:
        with torch.no_grad():
            bn.weight.copy_(rand((C,), gen, 0.5, 1.5))
            bn.bias.copy_(randn((C,), gen))
        tensors["weight0"] = bn.weight.detach().clone()
        tensors["bias0"] = bn.bias.detach().clone()
    for k, mode in enumerate(sequence):
        bn.train(mode == "train")
        x = randn(shape, gen, scale=1.0 + k, offset=offset + 0.5 * k).requires_grad_(True)
        r = randn(shape, gen)
        out = bn(x)
        (out * r).sum().backward()
        tensors[f"x{k}"] = x.detach()
        tensors[f"r{k}"] = r
        tensors[f"y{k}"] = out.detach()
        tensors[f"dx{k}"] = x.grad.detach()
        if track:
            tensors[f"running_mean{k}"] = bn.running_mean.detach().clone()
            tensors[f"running_var{k}"] = bn.running_var.detach().clone()
            tensors[f"num_batches_tracked{k}"] = bn.num_batches_tracked.detach().clone()
    if affine:
        tensors["dweight"] = bn.weight.grad.detach()
        tensors["dbias"] = bn.bias.grad.detach()
    call = (f"bn = torch.nn.{cls.__name__}({C}, eps={eps}, momentum={momentum}, affine={affine}, "
            f"track_running_stats={track}).double(); per step: bn.train(mode); out = bn(x_k); "
            f"(out * r_k).sum().backward()")
    params = {"sequence": sequence, "momentum": momentum, "affine": affine, "track": track, "eps": eps,
              "repr": repr(bn)}
    return {"call": call, "params": params, "tensors": tensors}


def cases():
    seed = 0
    for lname, (cls, shape) in LAYOUTS.items():
        for mname, momentum in MOMENTA.items():
            for affine in (True, False):
                for track in (True, False):
                    for sname, seq in SEQUENCES.items():
                        if sname == "eTe" and not (mname in ("m0.1", "mNone")):
                            continue
                        seed += 1
                        name = f"{lname}_{mname}_affine{int(affine)}_track{int(track)}_{sname}"
                        yield name, run_case(cls, shape, momentum, affine, track, seq, seed)
    # Large offsets: mean 1e3, unit variance. A naive E[x^2] - E[x]^2 in float loses everything here.
    for lname, shape in (("1d", (64, 5)), ("2d", (16, 3, 6, 5))):
        cls = LAYOUTS[lname][0]
        seed += 1
        yield f"offset1e3_{lname}", run_case(cls, shape, 0.1, True, True, ["train", "train", "eval"], seed,
                                             offset=1e3)
    # eps and a wide 2d case.
    seed += 1
    yield "2d_eps1e-3_wide", run_case(torch.nn.BatchNorm2d, (5, 7, 4, 3), 0.1, True, True,
                                      ["train", "eval", "train"], seed, eps=1e-3)
