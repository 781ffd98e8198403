"""Loss fixtures: every loss with every reduction and target kind.

cross_entropy with class indices (plain, label_smoothing, ignore_index, K-dim inputs, unbatched), with
probability and one-hot targets (plain, label_smoothing, K-dim); nll_loss (plain, ignore_index);
mse_loss; binary_cross_entropy with probabilities exactly 0 and 1 (the -100 log clamp) and near them;
binary_cross_entropy_with_logits with |x| up to 100 and with pos_weight; class weights on cross_entropy
(class indices with smoothing and ignore_index, K-dim, probabilities) and nll_loss, element weights on
binary_cross_entropy (full shape and broadcast). For each: the output and the
gradient of the input for loss = out (mean/sum) or sum(out * r) (none). Computed in double from
float32-representable inputs; the C++ test runs them in float and double.
"""
import torch
import torch.nn.functional as F

from _common import randn, rand, seeded

REDUCTIONS = ("mean", "sum", "none")


def run(fn, call, x, target, gen, params, extra=None):
    """Evaluates fn(x, target, reduction) for every reduction; yields (suffix, case)."""
    for reduction in REDUCTIONS:
        xr = x.clone().requires_grad_(True)
        out = fn(xr, target, reduction)
        tensors = {"input": x, "target": target, "output": out.detach()}
        if reduction == "none":
            r = randn(tuple(out.shape), gen) if out.dim() else randn((1,), gen).reshape(())
            (out * r).sum().backward()
            tensors["r"] = r
        else:
            out.backward()
        tensors["grad_input"] = xr.grad.detach()
        if extra:
            tensors.update(extra)
        p = dict(params)
        p["reduction"] = reduction
        yield reduction, {"call": call.format(reduction=reduction), "params": p, "tensors": tensors}


def cases():
    gen = seeded(4)

    def emit(name, fn, call, x, target, params, extra=None):
        for suffix, case in run(fn, call, x, target, gen, params, extra):
            yield f"{name}_{suffix}", case

    # ---- cross_entropy, class indices ----------------------------------------------------------------
    x = randn((6, 5), gen, scale=2.0)
    t = torch.tensor([0, 4, 2, 2, 1, 3])
    yield from emit("ce_idx", lambda a, b, r: F.cross_entropy(a, b, reduction=r),
                    "F.cross_entropy(input, target, reduction='{reduction}')", x, t,
                    {"kind": "indices", "ignore_index": -100, "label_smoothing": 0.0})
    yield from emit("ce_idx_ls", lambda a, b, r: F.cross_entropy(a, b, reduction=r, label_smoothing=0.2),
                    "F.cross_entropy(input, target, reduction='{reduction}', label_smoothing=0.2)", x, t,
                    {"kind": "indices", "ignore_index": -100, "label_smoothing": 0.2})
    t_ign = torch.tensor([0, -100, 2, -100, 1, 3])
    yield from emit("ce_idx_ignore", lambda a, b, r: F.cross_entropy(a, b, reduction=r),
                    "F.cross_entropy(input, target, reduction='{reduction}')  # target holds -100", x, t_ign,
                    {"kind": "indices", "ignore_index": -100, "label_smoothing": 0.0})
    yield from emit("ce_idx_ignore1_ls",
                    lambda a, b, r: F.cross_entropy(a, b, reduction=r, ignore_index=2, label_smoothing=0.1),
                    "F.cross_entropy(input, target, reduction='{reduction}', ignore_index=2, label_smoothing=0.1)",
                    x, t, {"kind": "indices", "ignore_index": 2, "label_smoothing": 0.1})
    x4 = randn((3, 4, 2, 2), gen)
    t4 = torch.randint(0, 4, (3, 2, 2), generator=gen)
    yield from emit("ce_idx_kdim", lambda a, b, r: F.cross_entropy(a, b, reduction=r, label_smoothing=0.1),
                    "F.cross_entropy(input (3,4,2,2), target (3,2,2), reduction='{reduction}', label_smoothing=0.1)",
                    x4, t4, {"kind": "indices", "ignore_index": -100, "label_smoothing": 0.1})
    x1 = randn((5,), gen)
    yield from emit("ce_idx_unbatched", lambda a, b, r: F.cross_entropy(a, b, reduction=r),
                    "F.cross_entropy(input (5,), target (), reduction='{reduction}')", x1, torch.tensor(3),
                    {"kind": "indices", "ignore_index": -100, "label_smoothing": 0.0})
    # Large logits: the row maximum must be subtracted.
    xl = randn((4, 3), gen, scale=300.0)
    yield from emit("ce_idx_large", lambda a, b, r: F.cross_entropy(a, b, reduction=r),
                    "F.cross_entropy(input * 300, target, reduction='{reduction}')", xl, torch.tensor([0, 1, 2, 1]),
                    {"kind": "indices", "ignore_index": -100, "label_smoothing": 0.0})

    # ---- cross_entropy, probabilities / one-hot ------------------------------------------------------
    probs = torch.softmax(randn((6, 5), gen), 1).float().double()
    yield from emit("ce_prob", lambda a, b, r: F.cross_entropy(a, b, reduction=r),
                    "F.cross_entropy(input, probs, reduction='{reduction}')", x, probs,
                    {"kind": "probabilities", "label_smoothing": 0.0})
    onehot = F.one_hot(t, 5).double()
    yield from emit("ce_onehot", lambda a, b, r: F.cross_entropy(a, b, reduction=r),
                    "F.cross_entropy(input, F.one_hot(target, 5).double(), reduction='{reduction}')", x, onehot,
                    {"kind": "probabilities", "label_smoothing": 0.0})
    yield from emit("ce_prob_ls", lambda a, b, r: F.cross_entropy(a, b, reduction=r, label_smoothing=0.3),
                    "F.cross_entropy(input, probs, reduction='{reduction}', label_smoothing=0.3)", x, probs,
                    {"kind": "probabilities", "label_smoothing": 0.3})
    probs4 = torch.softmax(randn((3, 4, 2, 2), gen), 1).float().double()
    yield from emit("ce_prob_kdim", lambda a, b, r: F.cross_entropy(a, b, reduction=r),
                    "F.cross_entropy(input (3,4,2,2), probs (3,4,2,2), reduction='{reduction}')", x4, probs4,
                    {"kind": "probabilities", "label_smoothing": 0.0})

    # ---- nll_loss ------------------------------------------------------------------------------------
    logp = torch.log_softmax(x, 1).float().double()
    yield from emit("nll", lambda a, b, r: F.nll_loss(a, b, reduction=r),
                    "F.nll_loss(log_probs, target, reduction='{reduction}')", logp, t,
                    {"kind": "indices", "ignore_index": -100})
    yield from emit("nll_ignore", lambda a, b, r: F.nll_loss(a, b, reduction=r, ignore_index=2),
                    "F.nll_loss(log_probs, target, reduction='{reduction}', ignore_index=2)", logp, t,
                    {"kind": "indices", "ignore_index": 2})

    # ---- mse_loss ------------------------------------------------------------------------------------
    a = randn((4, 3), gen)
    b = randn((4, 3), gen)
    yield from emit("mse", lambda u, v, r: F.mse_loss(u, v, reduction=r),
                    "F.mse_loss(input, target, reduction='{reduction}')", a, b, {"kind": "values"})

    # ---- binary_cross_entropy: exact 0 and 1 hit the -100 clamp ---------------------------------------
    p = rand((2, 5), gen, 0.05, 0.95)
    p[0, 0], p[0, 1], p[1, 0], p[1, 1] = 0.0, 1.0, 1e-30, 1.0 - 2 ** -20
    y = rand((2, 5), gen)
    y[0, 0], y[0, 1], y[1, 0], y[1, 1] = 0.0, 1.0, 0.25, 0.75
    yield from emit("bce", lambda u, v, r: F.binary_cross_entropy(u, v, reduction=r),
                    "F.binary_cross_entropy(probs (with 0, 1, 1e-30, 1-2^-20), target, reduction='{reduction}')",
                    p, y, {"kind": "values"})

    # ---- binary_cross_entropy_with_logits: |x| up to 100, pos_weight -----------------------------------
    z = randn((3, 4), gen, scale=3.0)
    z[0, 0], z[0, 1], z[0, 2], z[0, 3] = 100.0, -100.0, 30.0, -30.0
    yz = rand((3, 4), gen)
    yz[0, 0], yz[0, 1] = 0.0, 1.0
    yield from emit("bce_logits", lambda u, v, r: F.binary_cross_entropy_with_logits(u, v, reduction=r),
                    "F.binary_cross_entropy_with_logits(input (with +-100, +-30), target, reduction='{reduction}')",
                    z, yz, {"kind": "values"})
    pw = rand((4,), gen, 0.5, 3.0)
    yield from emit("bce_logits_posw",
                    lambda u, v, r: F.binary_cross_entropy_with_logits(u, v, reduction=r, pos_weight=pw),
                    "F.binary_cross_entropy_with_logits(input, target, reduction='{reduction}', pos_weight=pw (4,))",
                    z, yz, {"kind": "values"}, {"pos_weight": pw})

    # ---- class weights (issue 22): per-class weight on cross_entropy / nll_loss, per-element on BCE ---
    # Appended last so that the cases above keep their random draws.
    w5 = rand((5,), gen, 0.2, 3.0)
    yield from emit("ce_idx_weight", lambda a, b, r: F.cross_entropy(a, b, weight=w5, reduction=r),
                    "F.cross_entropy(input, target, weight=w (5,), reduction='{reduction}')", x, t,
                    {"kind": "indices", "ignore_index": -100, "label_smoothing": 0.0}, {"weight": w5})
    yield from emit("ce_idx_weight_ls_ignore",
                    lambda a, b, r: F.cross_entropy(a, b, weight=w5, reduction=r, ignore_index=2,
                                                    label_smoothing=0.2),
                    "F.cross_entropy(input, target, weight=w, reduction='{reduction}', ignore_index=2, "
                    "label_smoothing=0.2)", x, t,
                    {"kind": "indices", "ignore_index": 2, "label_smoothing": 0.2}, {"weight": w5})
    w4 = rand((4,), gen, 0.2, 3.0)
    yield from emit("ce_idx_weight_kdim",
                    lambda a, b, r: F.cross_entropy(a, b, weight=w4, reduction=r, label_smoothing=0.1),
                    "F.cross_entropy(input (3,4,2,2), target (3,2,2), weight=w (4,), reduction='{reduction}', "
                    "label_smoothing=0.1)", x4, t4,
                    {"kind": "indices", "ignore_index": -100, "label_smoothing": 0.1}, {"weight": w4})
    yield from emit("ce_prob_weight", lambda a, b, r: F.cross_entropy(a, b, weight=w5, reduction=r),
                    "F.cross_entropy(input, probs, weight=w (5,), reduction='{reduction}')", x, probs,
                    {"kind": "probabilities", "label_smoothing": 0.0}, {"weight": w5})
    yield from emit("ce_prob_weight_ls",
                    lambda a, b, r: F.cross_entropy(a, b, weight=w5, reduction=r, label_smoothing=0.3),
                    "F.cross_entropy(input, probs, weight=w (5,), reduction='{reduction}', label_smoothing=0.3)",
                    x, probs, {"kind": "probabilities", "label_smoothing": 0.3}, {"weight": w5})
    yield from emit("nll_weight", lambda a, b, r: F.nll_loss(a, b, weight=w5, reduction=r),
                    "F.nll_loss(log_probs, target, weight=w (5,), reduction='{reduction}')", logp, t,
                    {"kind": "indices", "ignore_index": -100}, {"weight": w5})
    yield from emit("nll_weight_ignore", lambda a, b, r: F.nll_loss(a, b, weight=w5, reduction=r, ignore_index=2),
                    "F.nll_loss(log_probs, target, weight=w (5,), reduction='{reduction}', ignore_index=2)", logp,
                    t, {"kind": "indices", "ignore_index": 2}, {"weight": w5})
    wb = rand((2, 5), gen, 0.2, 3.0)
    yield from emit("bce_weight", lambda u, v, r: F.binary_cross_entropy(u, v, weight=wb, reduction=r),
                    "F.binary_cross_entropy(probs, target, weight=w (2, 5), reduction='{reduction}')", p, y,
                    {"kind": "values"}, {"weight": wb})
    wr = rand((5,), gen, 0.2, 3.0)
    yield from emit("bce_weight_broadcast", lambda u, v, r: F.binary_cross_entropy(u, v, weight=wr, reduction=r),
                    "F.binary_cross_entropy(probs, target, weight=w (5,) broadcast, reduction='{reduction}')", p,
                    y, {"kind": "values"}, {"weight": wr})
