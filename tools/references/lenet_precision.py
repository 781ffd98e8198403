"""Model-level precision fixture (issue 17): how far PyTorch's float LeNet-BN is from the same model in double.

A PyTorch-initialised LeNet-BN (weights rounded to float32, BatchNorm running statistics from a few warm-up
batches) runs one batch of Fashion-MNIST-like pixels in float32 and in float64: eval-mode logits, then
train-mode logits, cross entropy and the gradients of every parameter and of the input. The fixture keeps
the model and the batch, the double logits and loss, the double gradients' norms and sums, and PyTorch's float32
errors against the double run, so the C++ test can hold hnn's float errors to PyTorch's without Python.

Size: 45k weights written as float64 would take ~0.9 MB of JSON, so every float state entry is stored as
its float32 bit pattern (int64, "bits.<key>"; the value is std::bit_cast<float>(uint32_t(bits))) and the
input as its 0..255 pixel bytes (x = pixels.float() / 255, as torchvision's ToTensor computes it).

Made with `/usr/bin/python3 tools/make_references.py lenet_precision`, libopenblas0-pthread as the BLAS at its
default thread count (2 here) and torch.set_num_threads(1). PyTorch's own float errors move with that setting:
with OPENBLAS_NUM_THREADS=1 its error on 1.weight's gradient is 1.00e-6 instead of 1.62e-6 (hnn: 1.02e-6),
so "no farther than PyTorch" is measured against this configuration.
"""
import copy

import torch

from _common import lenet_bn, seeded

F = torch.nn.functional

MODEL_SEED = 17
DATA_SEED = 1717
BATCH = 16
WARMUP_BATCHES = 4
# Elementwise relative errors divide by max(|exact|, floor): logits that cross zero would otherwise
# turn a 1e-9 absolute difference into an arbitrary relative one. The issue measured with this floor.
ELEMENTWISE_FLOOR = 1e-2


def pixel_batch(gen, n):
    """Bytes 0..255 shaped (n, 1, 28, 28), as an IDX file holds them."""
    return torch.randint(0, 256, (n, 1, 28, 28), generator=gen, dtype=torch.int64)


def to_image(pixels, dtype):
    # ToTensor divides in float32; the double model gets those same float32 values.
    return (pixels.float() / 255).to(dtype)


def make_model(gen):
    """PyTorch's default initialisation (global seed), float32 values, warmed-up running statistics."""
    # Initialised as a user's float32 model is, whatever default dtype the generator runs under.
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(MODEL_SEED)
    model = lenet_bn()
    torch.set_default_dtype(default_dtype)
    model = model.double()
    # Running statistics: the plain average (momentum=None) of a few training batches' statistics in
    # double, so eval mode normalises with realistic, non-trivial mean and variance.
    bns = [m for m in model if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(WARMUP_BATCHES):
            model(to_image(pixel_batch(gen, BATCH), torch.float64))
        for bn in bns:
            bn.momentum = 0.1
            bn.running_mean.copy_(bn.running_mean.float().double())
            bn.running_var.copy_(bn.running_var.float().double())
    return model


def run(model, pixels, labels, dtype):
    """Eval logits first (no buffer update), then the train step: logits, loss and gradients."""
    model = copy.deepcopy(model).to(dtype)
    model.eval()
    with torch.no_grad():
        logits_eval = model(to_image(pixels, dtype))
    model.train()
    x = to_image(pixels, dtype).requires_grad_(True)
    logits_train = model(x)
    loss = F.cross_entropy(logits_train, labels)
    loss.backward()
    grads = {name: p.grad.detach().double() for name, p in model.named_parameters()}
    grads["input"] = x.grad.detach().double()
    return logits_eval.double(), logits_train.detach().double(), loss.detach().double(), grads


def normwise(approx, exact):
    return ((approx - exact).norm() / exact.norm()).item()


def elementwise(approx, exact):
    return ((approx - exact).abs() / exact.abs().clamp(min=ELEMENTWISE_FLOOR)).max().item()


def float32_bits(t):
    return t.float().contiguous().view(torch.int32).long()


def cases():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread, as the fixtures are made; restored for the other areas
    try:
        yield "lenet_bn", lenet_case()
    finally:
        torch.set_num_threads(threads)


def lenet_case():
    gen = seeded(DATA_SEED)
    model = make_model(gen)
    pixels = pixel_batch(gen, BATCH)
    labels = torch.randint(0, 10, (BATCH,), generator=gen, dtype=torch.int64)

    eval64, train64, loss64, grads64 = run(model, pixels, labels, torch.float64)
    eval32, train32, loss32, grads32 = run(model, pixels, labels, torch.float32)

    tensors = {"pixels": pixels, "labels": labels, "logits_eval": eval64, "logits_train": train64,
               "loss": loss64}
    state = model.state_dict()
    for key, value in state.items():
        if value.dtype == torch.int64:
            tensors["state." + key] = value.clone()  # num_batches_tracked
        else:
            assert torch.equal(value.float().double(), value), key
            tensors["bits." + key] = float32_bits(value)

    torch_float_error = {
        "logits_eval": normwise(eval32, eval64),
        "logits_train": normwise(train32, train64),
        "logits_eval_elementwise": elementwise(eval32, eval64),
        "logits_train_elementwise": elementwise(train32, train64),
        "loss": abs((loss32 - loss64) / loss64).item(),
    }
    for name in grads64:
        torch_float_error["grad." + name] = normwise(grads32[name], grads64[name])
    # The biases of the layers that feed a training-mode BatchNorm have an exactly zero gradient (the
    # batch mean removes them), so their relative error is rounding noise over ~1e-16; their float
    # results are judged by the absolute size of that noise instead.
    torch_float_abs_error = {name: (grads32[name] - grads64[name]).norm().item() for name in grads64}

    call = (f"torch.manual_seed({MODEL_SEED}); model = lenet_bn() (float32 init); model.double(); "
            f"{WARMUP_BATCHES} warm-up train forwards with momentum=None; then for dtype in (float64, float32): "
            "m = copy.deepcopy(model).to(dtype); x = (pixels.float() / 255).to(dtype); m.eval(); "
            "logits_eval = m(x); m.train(); logits_train = m(x); loss = F.cross_entropy(logits_train, labels); "
            "loss.backward(); torch.set_num_threads(1). Errors of float32 against float64: "
            "||f32 - f64|| / ||f64||; elementwise max |f32 - f64| / max(|f64|, floor)")
    params = {
        "state_keys": list(state.keys()),
        "batch": BATCH,
        "elementwise_floor": ELEMENTWISE_FLOOR,
        "torch_float_error": torch_float_error,
        "torch_float_abs_error": torch_float_abs_error,
        "double_grad_norm": {name: g.norm().item() for name, g in grads64.items()},
        "double_grad_sum": {name: g.sum().item() for name, g in grads64.items()},
        "torch_float_loss": loss32.item(),
        "repr": repr(model),
    }
    return {"call": call, "params": params, "tensors": tensors}
