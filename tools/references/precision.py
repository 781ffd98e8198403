"""Fixtures of the precision audit (issue 17): PyTorch's own error on every floating-point op and loss of
shared/API.md, in float32 and float64, against an exact reference, so tests/ops/precision_test.cpp can hold
hnn to the rule  hnn_error <= max(2 * torch_error, 4 * epsilon(dtype)).

Errors, measured identically here and in the C++ test:
  elementwise   max over elements i of |got_i - exact_i| / |exact_i|, over the elements whose exact value,
                rounded to the dtype, is finite and at least the dtype's smallest normal number; a got_i that
                is NaN or infinite there counts as an infinite error;
  normwise      ||got - exact||_2 / ||exact||_2 (reductions, matmul, linear, conv, batch norm, the losses'
                reduced values, and gradients that sum over something).
Exact references are computed in numpy's long double (x87, 64-bit mantissa) from the dtype-rounded inputs.

Inputs are never stored: both sides generate them with the same integer formulas (each op on doubles is
exact, so no compiler contraction or libm can make them differ), and a digest of each input checks that.
  dense       (i - 20000) / 200 for i in [0, 40000]                      (-100 .. 100, step 0.005)
  magnitudes  +-ldexp(1 + j/8, e) for e in [-100, 99], j in [0, 8)         (7.9e-31 .. 1.9e30)
  subnormal   ldexp(1 + j/8, e) for e in [-149, -127] (float), [-1074, -1023] (double), j in [0, 8)
  uniform     splitmix64(seed): u = ((z >> 11) - 2^52) * 2^-52 in [-1, 1), times `scale` or plus `offset`
  grid        (i - center) / div for i < count;  list / cycle: values written out (cycled to a shape)
  pick        `count` values of another class at (j * 7919 + 13) mod n: the broadcast operand b of a op b
Elementwise cases store only PyTorch's error (the C++ side computes its own long double reference: the
functions are libm's); the others store the exact result as a double-double: exact = hi + lo (lo for
float64 only; for float32 the double hi is exact enough).

Case names: "<op>/<dtype>/<input class>"; params: op, dtype, kind ("elementwise" or "normwise"), class,
the generator specs of the inputs, the op's arguments, torch_error, count (elements judged) and, for a
gradient, the same under grad_*. Run: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/make_references.py
precision (with libopenblas0-pthread installed, as the fixtures were made).
"""
import math

import numpy as np
import torch

LD = np.longdouble
MASK = (1 << 64) - 1
DTYPES = {"float32": (torch.float32, np.float32), "float64": (torch.float64, np.float64)}


# ---- input generators (mirrored in tests/ops/precision_test.cpp) -------------------------------------

def splitmix_uniform(seed, n):
    """n values in [-1, 1): ((z >> 11) - 2^52) * 2^-52 for splitmix64's outputs z from state `seed`."""
    state = (np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) - 2.0 ** 52) * 2.0 ** -52


def dense():
    return (np.arange(40001, dtype=np.float64) - 20000.0) / 200.0


def magnitudes():
    out = []
    for e in range(-100, 100):
        for j in range(8):
            v = math.ldexp(1 + j / 8, e)
            out += [v, -v]
    return np.array(out)


def subnormal(dtype):
    lo, hi = (-149, -127) if dtype == "float32" else (-1074, -1023)
    return np.array([math.ldexp(1 + j / 8, e) for e in range(lo, hi + 1) for j in range(8)])


def generate(spec, dtype):
    """Values of an input spec, rounded to the dtype, as float64 (the dtype's values exactly)."""
    kind = spec["kind"]
    if kind == "dense":
        x = dense()
    elif kind == "grid":  # (i - center) / div for i in [0, count)
        x = (np.arange(spec["count"], dtype=np.float64) - spec["center"]) / spec["div"]
    elif kind == "magnitudes":
        x = magnitudes()
    elif kind == "subnormal":
        x = subnormal(dtype)
    elif kind == "uniform":
        x = splitmix_uniform(spec["seed"], int(np.prod(spec["shape"])))
        if spec.get("scale", 1.0) != 1.0:
            x = x * spec["scale"]
        if spec.get("offset", 0.0) != 0.0:
            x = x + spec["offset"]
    elif kind == "list":  # values written out (float64; rounded to the dtype like the others)
        x = np.array(spec["values"], dtype=np.float64)
    elif kind == "cycle":  # the listed values repeated to the shape
        n = int(np.prod(spec["shape"]))
        x = np.resize(np.array(spec["values"], dtype=np.float64), n)
    elif kind == "pick":  # 64 values of another class, at (j * 7919 + 13) mod n: a broadcast operand
        base = generate(spec["of"], dtype)
        x = base[(np.arange(spec["count"]) * 7919 + 13) % len(base)]
    else:
        raise ValueError(kind)
    x = x.astype(DTYPES[dtype][1]).astype(np.float64)
    if "shape" in spec and kind not in ("uniform", "cycle"):
        x = x[: int(np.prod(spec["shape"]))]
    return x.reshape(spec.get("shape", [len(x)]))


def digest(x):
    """Sum of |x| in long double, as float64: checks that both sides generated the same input."""
    return float(np.sum(np.abs(x.astype(LD))))


# ---- error measures (mirrored in tests/ops/precision_test.cpp) ---------------------------------------

def elementwise_error(got, exact, dtype):
    """(max relative error over the judged elements, number of judged elements)."""
    np_type = DTYPES[dtype][1]
    got = np.asarray(got, dtype=np.float64).astype(LD).reshape(-1)
    exact = np.asarray(exact, dtype=LD).reshape(-1)
    with np.errstate(all="ignore"):
        rounded = exact.astype(np_type)
        judged = np.isfinite(rounded) & (np.abs(rounded) >= np.finfo(np_type).tiny)
        err = np.abs(got - exact) / np.abs(exact)
    err = np.where(np.isfinite(got), err, np.inf)[judged]
    return (float(err.max()) if err.size else 0.0), int(judged.sum())


def normwise_error(got, exact):
    got = np.asarray(got, dtype=np.float64).astype(LD).reshape(-1)
    exact = np.asarray(exact, dtype=LD).reshape(-1)
    if not np.all(np.isfinite(got)):
        return math.inf
    den = np.sqrt(np.sum(exact * exact))
    return float(np.sqrt(np.sum((got - exact) ** 2)) / den) if den > 0 else float(np.sqrt(np.sum(got * got)))


def double_double(exact, dtype):
    """exact (long double) as float64 tensors hi (+ lo for float64 cases)."""
    exact = np.asarray(exact, dtype=LD)
    hi = exact.astype(np.float64)
    out = {"exact_hi": torch.from_numpy(np.ascontiguousarray(hi))}
    if dtype == "float64":
        out["exact_lo"] = torch.from_numpy(np.ascontiguousarray((exact - hi.astype(LD)).astype(np.float64)))
    return out


def torch_tensor(x, dtype, requires_grad=False):
    t = torch.from_numpy(np.ascontiguousarray(x)).to(DTYPES[dtype][0])
    return t.requires_grad_(requires_grad)


# ---- elementwise ops -----------------------------------------------------------------------------------

def sigmoid_ld(x):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def dsigmoid_ld(x):
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
        return e / ((1 + e) * (1 + e))


def dtanh_ld(x):
    with np.errstate(over="ignore"):
        c = np.cosh(x)
        return 1 / (c * c)


S = 3.7  # the scalar of the scalar ops, rounded to the dtype


def pow_case(p):
    return (f"torch.pow(x, {p})", lambda x: torch.pow(x, p), lambda x: np.power(x, LD(p)),
            lambda x: LD(p) * np.power(x, LD(p - 1)))


# name: (PyTorch call, torch function, exact f (long double), exact f' (long double) or None)
UNARY = {
    "exp": ("torch.exp(x)", torch.exp, np.exp, np.exp),
    "log": ("torch.log(x)", torch.log, np.log, lambda x: 1 / x),
    "sqrt": ("torch.sqrt(x)", torch.sqrt, np.sqrt, lambda x: 1 / (2 * np.sqrt(x))),
    "tanh": ("torch.tanh(x)", torch.tanh, np.tanh, dtanh_ld),
    "sigmoid": ("torch.sigmoid(x)", torch.sigmoid, sigmoid_ld, dsigmoid_ld),
    "relu": ("torch.relu(x)", torch.relu, lambda x: np.maximum(x, LD(0)), lambda x: (x > 0).astype(LD)),
    "neg": ("torch.neg(x)", torch.neg, np.negative, lambda x: np.full_like(x, -1)),
    "abs": ("torch.abs(x)", torch.abs, np.abs, np.sign),
    "pow_2": pow_case(2.0),
    "pow_3": pow_case(3.0),
    "pow_0.5": pow_case(0.5),
    "pow_-1": pow_case(-1.0),
    "pow_1.5": pow_case(1.5),
    "add_scalar": ("x + s", lambda x: x + S, None, None),
    "sub_scalar": ("x - s", lambda x: x - S, None, None),
    "mul_scalar": ("x * s", lambda x: x * S, None, None),
    "div_scalar": ("x / s", lambda x: x / S, None, None),
    "rsub_scalar": ("s - x", lambda x: S - x, None, None),
    "rdiv_scalar": ("s / x", lambda x: S / x, None, None),
}


def scalar_exact(op, x, s):
    """Exact value and derivative of the scalar ops, s being the scalar rounded to the dtype."""
    s = LD(s)
    one = np.ones_like(x)
    return {
        "add_scalar": (x + s, one),
        "sub_scalar": (x - s, one),
        "mul_scalar": (x * s, one * s),
        "div_scalar": (x / s, one / s),
        "rsub_scalar": (s - x, -one),
        "rdiv_scalar": (s / x, -s / (x * x)),
    }[op]


BINARY = {
    "add": ("torch.add(a, b)", torch.add, lambda a, b: a + b, lambda a, b: (np.ones_like(a), np.ones_like(b))),
    "sub": ("torch.sub(a, b)", torch.sub, lambda a, b: a - b, lambda a, b: (np.ones_like(a), -np.ones_like(b))),
    "mul": ("torch.mul(a, b)", torch.mul, lambda a, b: a * b, lambda a, b: (b, a)),
    "div": ("torch.div(a, b)", torch.div, lambda a, b: a / b, lambda a, b: (1 / b, -a / (b * b))),
}


def elementwise_cases(dtype):
    classes = [("dense", {"kind": "dense"}), ("magnitudes", {"kind": "magnitudes"}),
               ("subnormal", {"kind": "subnormal"})]
    for op, (call, fn, exact_fn, dexact_fn) in UNARY.items():
        for cls, spec in classes:
            x = generate(spec, dtype)
            xt = torch_tensor(x, dtype, requires_grad=True)
            y = fn(xt)
            y.backward(torch.ones_like(y))
            x_ld = x.astype(LD)
            with np.errstate(all="ignore"):
                if exact_fn is None:
                    s = float(np.array(S, dtype=DTYPES[dtype][1]))
                    exact, dexact = scalar_exact(op, x_ld, s)
                else:
                    exact, dexact = exact_fn(x_ld), dexact_fn(x_ld)
            err, count = elementwise_error(y.detach().numpy(), exact, dtype)
            gerr, gcount = elementwise_error(xt.grad.numpy(), dexact, dtype)
            yield f"{op}/{dtype}/{cls}", {
                "call": call + " and its gradient for grad_output = ones",
                "params": {"op": op, "dtype": dtype, "kind": "elementwise", "class": cls, "inputs": {"x": spec},
                           "digests": {"x": digest(x)}, "scalar": S, "torch_error": err, "count": count,
                           "grad_torch_errors": {"x": gerr}, "grad_counts": {"x": gcount}},
                "tensors": {}}
    for op, (call, fn, exact_fn, dexact_fn) in BINARY.items():
        for cls, spec in classes[:2]:
            n = len(generate(spec, dtype)) // 64 * 64
            a_spec = dict(spec, shape=[n // 64, 64])
            b_spec = {"kind": "pick", "of": spec, "count": 64, "shape": [64]}
            a, b = generate(a_spec, dtype), generate(b_spec, dtype)
            at, bt = torch_tensor(a, dtype, True), torch_tensor(b, dtype, True)
            y = fn(at, bt)
            y.backward(torch.ones_like(y))
            a_ld, b_ld = a.astype(LD), b.astype(LD)
            with np.errstate(all="ignore"):
                exact = exact_fn(a_ld, b_ld)
                da, db = dexact_fn(a_ld, np.broadcast_to(b_ld, a_ld.shape))
            err, count = elementwise_error(y.detach().numpy(), exact, dtype)
            params = {"op": op, "dtype": dtype, "kind": "elementwise", "class": cls,
                      "inputs": {"a": a_spec, "b": b_spec}, "digests": {"a": digest(a), "b": digest(b)},
                      "torch_error": err, "count": count}
            if cls == "dense":  # gradients: a's elementwise, b's summed over the broadcast rows (normwise)
                gerr_a, gcount_a = elementwise_error(at.grad.numpy(), da, dtype)
                params["grad_torch_errors"] = {"a": gerr_a, "b": normwise_error(bt.grad.numpy(), db.sum(axis=0))}
                params["grad_counts"] = {"a": gcount_a}
            yield f"{op}/{dtype}/{cls}", {"call": call + " with b of shape (64) broadcast over a's rows",
                                          "params": params, "tensors": {}}


# ---- normwise ops: exact results stored ---------------------------------------------------------------

def uniform(seed, shape, scale=1.0, offset=0.0):
    spec = {"kind": "uniform", "seed": seed, "shape": list(shape)}
    if scale != 1.0:
        spec["scale"] = scale
    if offset != 0.0:
        spec["offset"] = offset
    return spec


def normwise_case(name, dtype, call, inputs, run, exact, args=None, kinds=None):
    """inputs: {name: spec}; run(tensors) -> (output, {input: grad}) with PyTorch; exact(long double arrays)
    -> (output, {input: grad}). kinds: {output or input name: "elementwise"} for the few judged elementwise."""
    kinds = kinds or {}
    values = {k: generate(spec, dtype) for k, spec in inputs.items()}
    tensors_in = {k: torch_tensor(v, dtype, True) for k, v in values.items()}
    out, grads = run(tensors_in)
    with np.errstate(all="ignore"):
        exact_out, exact_grads = exact({k: v.astype(LD) for k, v in values.items()})

    def error(got, ex, key):
        if kinds.get(key) == "elementwise":
            return elementwise_error(got, ex, dtype)[0]
        return normwise_error(got, ex)

    tensors = dict(double_double(exact_out, dtype))
    params = {"op": name.split("/")[0], "dtype": dtype, "kind": kinds.get("out", "normwise"),
              "class": name.split("/")[-1], "inputs": inputs,
              "digests": {k: digest(v) for k, v in values.items()}, "args": args or {},
              "torch_error": error(out.detach().numpy(), exact_out, "out"), "grad_torch_errors": {},
              "grad_kinds": {k: kinds.get(k, "normwise") for k in grads}}
    for k, g in grads.items():
        params["grad_torch_errors"][k] = error(g.numpy(), exact_grads[k], k)
        for part, v in double_double(exact_grads[k], dtype).items():
            tensors[f"grad_{k}_{part}"] = v
    return f"{name.split('/')[0]}/{dtype}/{name.split('/')[-1]}", {"call": call, "params": params, "tensors": tensors}


def backward(out, tensors, grad_out=None):
    out.backward(torch.ones_like(out) if grad_out is None else grad_out)
    return out, {k: t.grad for k, t in tensors.items()}


def ld_pairwise_sum(x, axis=None):
    return np.sum(x, axis=axis)  # numpy sums long doubles pairwise: error ~ log2(n) * 1.1e-19


def reduction_cases(dtype):
    big = 10_000_000
    for cls, spec in [("noise", uniform(11, [big])), ("offset", uniform(12, [big], offset=1e4))]:
        n = big
        yield normwise_case(f"sum/{cls}", dtype, "torch.sum(x)", {"x": spec},
                            lambda t: (t["x"].sum(), {}), lambda v: (ld_pairwise_sum(v["x"]), {}))
        yield normwise_case(f"mean/{cls}", dtype, "torch.mean(x)", {"x": spec},
                            lambda t: (t["x"].mean(), {}), lambda v: (ld_pairwise_sum(v["x"]) / n, {}))
        yield normwise_case(f"var/{cls}", dtype, "torch.var(x) (unbiased)", {"x": spec},
                            lambda t: (t["x"].var(), {}), lambda v: (var_ld(v["x"], None, 1), {}))
    # along a dim, on offset data (1e4 plus unit noise): 1000 results each
    rows = uniform(13, [1000, 10_000], offset=1e4)
    cols = uniform(14, [10_000, 1000], offset=1e4)
    for dim, spec in [(1, rows), (0, cols)]:
        yield normwise_case(f"sum/offset_dim{dim}", dtype, f"torch.sum(x, dim={dim})", {"x": spec},
                            lambda t, d=dim: (t["x"].sum(d), {}), lambda v, d=dim: (ld_pairwise_sum(v["x"], d), {}),
                            args={"dim": dim})
        yield normwise_case(f"mean/offset_dim{dim}", dtype, f"torch.mean(x, dim={dim})", {"x": spec},
                            lambda t, d=dim: (t["x"].mean(d), {}),
                            lambda v, d=dim: (ld_pairwise_sum(v["x"], d) / v["x"].shape[d], {}), args={"dim": dim})
        yield normwise_case(f"var/offset_dim{dim}", dtype, f"torch.var(x, dim={dim})", {"x": spec},
                            lambda t, d=dim: (t["x"].var(d), {}), lambda v, d=dim: (var_ld(v["x"], d, 1), {}),
                            args={"dim": dim})
    # gradients of mean and var (elementwise: each is a closed form per element), on a small offset input
    small = uniform(15, [16, 100], offset=1e4)
    g = uniform(16, [16])
    yield normwise_case("mean/offset_grad", dtype, "torch.mean(x, dim=1).backward(g)", {"x": small, "g": g},
                        lambda t: backward(t["x"].mean(1), {"x": t["x"]}, t["g"].detach()),
                        lambda v: (ld_pairwise_sum(v["x"], 1) / 100,
                                   {"x": np.broadcast_to(v["g"][:, None] / 100, v["x"].shape)}),
                        args={"dim": 1}, kinds={"x": "elementwise"})
    yield normwise_case("var/offset_grad", dtype, "torch.var(x, dim=1).backward(g)", {"x": small, "g": g},
                        lambda t: backward(t["x"].var(1), {"x": t["x"]}, t["g"].detach()),
                        lambda v: (var_ld(v["x"], 1, 1),
                                   {"x": v["g"][:, None] * 2 * (v["x"] - v["x"].mean(axis=1, keepdims=True)) / 99}),
                        args={"dim": 1}, kinds={"x": "elementwise"})


def var_ld(x, axis, correction):
    n = x.size if axis is None else x.shape[axis]
    mean = ld_pairwise_sum(x, axis) / n
    dev = x - (mean if axis is None else np.expand_dims(mean, axis))
    return ld_pairwise_sum(dev * dev, axis) / (n - correction)


def matmul_cases(dtype):
    for k in (64, 1024, 4096):
        yield normwise_case(f"matmul/k{k}", dtype, f"torch.matmul(a, b), a (32, {k}), b ({k}, 32)",
                            {"a": uniform(20 + k, [32, k]), "b": uniform(21 + k, [k, 32])},
                            lambda t: (torch.matmul(t["a"], t["b"]), {}),
                            lambda v: (np.matmul(v["a"], v["b"]), {}))
    yield normwise_case("matmul/k256_grad", dtype, "torch.matmul(a, b).backward(g), a (4, 256), b (256, 4)",
                        {"a": uniform(30, [4, 256]), "b": uniform(31, [256, 4]), "g": uniform(32, [4, 4])},
                        lambda t: backward(torch.matmul(t["a"], t["b"]), {"a": t["a"], "b": t["b"]}, t["g"].detach()),
                        lambda v: (np.matmul(v["a"], v["b"]),
                                   {"a": np.matmul(v["g"], v["b"].T), "b": np.matmul(v["a"].T, v["g"])}))


def softmax_ld(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax_ld(x):
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def softmax_cases(dtype):
    for cls, scale in [("normal", 4.0), ("wide", 1e4)]:
        inputs = {"x": uniform(40, [16, 50], scale=scale), "g": uniform(41, [16, 50])}
        yield normwise_case(f"softmax/{cls}", dtype, "torch.softmax(x, 1).backward(g)", inputs,
                            lambda t: backward(torch.softmax(t["x"], 1), {"x": t["x"]}, t["g"].detach()),
                            lambda v: (softmax_ld(v["x"]), {"x": softmax_ld(v["x"]) * (
                                v["g"] - (v["g"] * softmax_ld(v["x"])).sum(axis=1, keepdims=True))}),
                            kinds={"out": "elementwise"})
        yield normwise_case(f"log_softmax/{cls}", dtype, "torch.log_softmax(x, 1).backward(g)", inputs,
                            lambda t: backward(torch.log_softmax(t["x"], 1), {"x": t["x"]}, t["g"].detach()),
                            lambda v: (log_softmax_ld(v["x"]), {"x": v["g"] - softmax_ld(v["x"]) * v["g"].sum(
                                axis=1, keepdims=True)}),
                            kinds={"out": "elementwise"})


def loss_cases(dtype):
    F = torch.nn.functional
    n, c = 64, 10
    target_index = (np.arange(n) * 7) % c
    onehot = np.eye(c)[target_index]
    for cls, scale in [("normal", 5.0), ("apart_1e3", 1e3)]:
        x = uniform(50, [n, c], scale=scale)

        def ce_exact(v):
            ls = log_softmax_ld(v["x"])
            loss = -(ls * onehot).sum(axis=1)
            return loss.mean(), {"x": (softmax_ld(v["x"]) - onehot) / n}
        yield normwise_case(f"cross_entropy_index/{cls}", dtype, "F.cross_entropy(x, t) (mean)", {"x": x},
                            lambda t: backward(F.cross_entropy(t["x"], torch.from_numpy(target_index)), {"x": t["x"]}),
                            ce_exact, args={"target": "(i * 7) % 10"})
        yield normwise_case(f"cross_entropy_index_none/{cls}", dtype, "F.cross_entropy(x, t, reduction='none')",
                            {"x": x}, lambda t: (F.cross_entropy(t["x"], torch.from_numpy(target_index),
                                                                 reduction="none"), {}),
                            lambda v: (-(log_softmax_ld(v["x"]) * onehot).sum(axis=1), {}),
                            args={"target": "(i * 7) % 10"}, kinds={"out": "elementwise"})
    # probability targets: a softmax of seeded logits, rounded to float32 and written out (the loss does not
    # renormalise them, so both sides need the very same values)
    xp = uniform(51, [n, c], scale=5.0)
    target_logits = torch.from_numpy(splitmix_uniform(52, n * c).reshape(n, c) * 3)
    targets = torch.softmax(target_logits, 1).float().double()
    w_spec = {"kind": "list", "values": [float(v) for v in targets.reshape(-1)], "shape": [n, c]}

    def ce_prob_exact(v):
        target = v["w"]
        loss = -(log_softmax_ld(v["x"]) * target).sum(axis=1)
        return loss.mean(), {"x": (softmax_ld(v["x"]) * target.sum(axis=1, keepdims=True) - target) / n}
    for cls, x_spec in [("normal", xp), ("apart_1e3", uniform(51, [n, c], scale=1e3))]:
        yield normwise_case(f"cross_entropy_prob/{cls}", dtype, "F.cross_entropy(x, w) with probability targets w",
                            {"x": x_spec, "w": w_spec},
                            lambda t: backward(F.cross_entropy(t["x"], t["w"].detach()), {"x": t["x"]}),
                            ce_prob_exact)
    # nll on log-probabilities
    lp = uniform(53, [n, c], offset=-3.0)
    yield normwise_case("nll_loss/normal", dtype, "F.nll_loss(x, t)", {"x": lp},
                        lambda t: backward(F.nll_loss(t["x"], torch.from_numpy(target_index)), {"x": t["x"]}),
                        lambda v: (-(v["x"] * onehot).sum(axis=1).mean(), {"x": -onehot / n}),
                        args={"target": "(i * 7) % 10"})
    # MSE
    yield normwise_case("mse_loss/normal", dtype, "F.mse_loss(x, y)",
                        {"x": uniform(54, [256], scale=3.0), "y": uniform(55, [256])},
                        lambda t: backward(F.mse_loss(t["x"], t["y"]), {"x": t["x"], "y": t["y"]}),
                        lambda v: (((v["x"] - v["y"]) ** 2).mean(),
                                   {"x": 2 * (v["x"] - v["y"]) / 256, "y": -2 * (v["x"] - v["y"]) / 256}))
    # BCE with probabilities within 1e-7 of 0 and 1 (PyTorch clamps the logs at -100)
    yield from bce_cases(dtype)


def bce_cases(dtype):
    F = torch.nn.functional
    # p: 1e-7 * (k + 1) and 1 - 1e-7 * (k + 1) for k < 64, and mid-range values; y: 0, 1 and 0.3
    p = np.concatenate([1e-7 * (np.arange(64) + 1), 1 - 1e-7 * (np.arange(64) + 1), (np.arange(64) + 0.5) / 64])
    p_spec = {"kind": "list", "values": [float(v) for v in p]}
    y = np.tile(np.array([0.0, 1.0, 0.3]), 64)[: len(p)]
    y_spec = {"kind": "list", "values": [float(v) for v in y]}

    def bce_exact(v):
        x, t = v["p"], v["y"]
        log_x = np.maximum(np.log(x), LD(-100))
        log_1mx = np.maximum(np.log1p(-x), LD(-100))
        loss = -(t * log_x + (1 - t) * log_1mx)
        eps = LD(np.float32(1e-12))
        return loss.mean(), {"p": (x - t) / np.maximum(x * (1 - x), eps) / len(x)}
    yield normwise_case("binary_cross_entropy/near_0_and_1", dtype, "F.binary_cross_entropy(p, y)",
                        {"p": p_spec, "y": y_spec},
                        lambda t: backward(F.binary_cross_entropy(t["p"], t["y"].detach()), {"p": t["p"]}), bce_exact)
    # BCE with logits over [-100, 100]
    x_spec = {"kind": "grid", "count": 2001, "center": 1000, "div": 10}
    yl = np.resize(np.array([0.0, 1.0, 0.5]), 2001)
    yl_spec = {"kind": "cycle", "values": [0.0, 1.0, 0.5], "shape": [2001]}

    def bcel_exact(v):
        x, t = v["x"], v["y"]
        loss = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
        return loss.mean(), {"x": (sigmoid_ld(x) - t) / len(x)}
    yield normwise_case("binary_cross_entropy_with_logits/dense", dtype,
                        "F.binary_cross_entropy_with_logits(x, y), x over [-100, 100] in steps of 0.1", {"x": x_spec, "y": yl_spec},
                        lambda t: backward(F.binary_cross_entropy_with_logits(t["x"], t["y"].detach()), {"x": t["x"]}),
                        bcel_exact)
    assert np.array_equal(generate(yl_spec, dtype), yl)


def layer_cases(dtype):
    F = torch.nn.functional
    inputs = {"x": uniform(60, [8, 32]), "w": uniform(61, [16, 32], scale=0.125), "b": uniform(62, [16]),
              "g": uniform(63, [8, 16])}
    yield normwise_case("linear/normal", dtype, "F.linear(x, w, b).backward(g)", inputs,
                        lambda t: backward(F.linear(t["x"], t["w"], t["b"]), {k: t[k] for k in "xwb"},
                                           t["g"].detach()),
                        lambda v: (v["x"] @ v["w"].T + v["b"],
                                   {"x": v["g"] @ v["w"], "w": v["g"].T @ v["x"], "b": v["g"].sum(axis=0)}))
    cin, cout = 3, 4
    inputs = {"x": uniform(64, [2, cin, 10, 10]), "w": uniform(65, [cout, cin, 3, 3], scale=0.25),
              "b": uniform(66, [cout]), "g": uniform(67, [2, cout, 10, 10])}

    def conv_exact(v):
        x = np.pad(v["x"], ((0, 0), (0, 0), (1, 1), (1, 1)))
        w, g = v["w"], v["g"]
        out = np.zeros((2, cout, 10, 10), dtype=LD) + v["b"][None, :, None, None]
        gx = np.zeros_like(x)
        gw = np.zeros_like(w)
        for i in range(3):
            for j in range(3):
                patch = x[:, :, i:i + 10, j:j + 10]                      # (N, C, 10, 10)
                out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
                gw[:, :, i, j] = np.einsum("nohw,nchw->oc", g, patch)
                gx[:, :, i:i + 10, j:j + 10] += np.einsum("nohw,oc->nchw", g, w[:, :, i, j])
        return out, {"x": gx[:, :, 1:-1, 1:-1], "w": gw, "b": g.sum(axis=(0, 2, 3))}
    yield normwise_case("conv2d/normal", dtype, "F.conv2d(x, w, b, padding=1).backward(g)", inputs,
                        lambda t: backward(F.conv2d(t["x"], t["w"], t["b"], padding=1), {k: t[k] for k in "xwb"},
                                           t["g"].detach()),
                        conv_exact, args={"padding": 1})
    inputs = {"x": uniform(68, [2, 3, 8, 8], scale=10.0), "g": uniform(69, [2, 3, 4, 4])}
    yield normwise_case("avg_pool2d/normal", dtype, "F.avg_pool2d(x, 2, 2).backward(g)", inputs,
                        lambda t: backward(F.avg_pool2d(t["x"], 2, 2), {"x": t["x"]}, t["g"].detach()),
                        lambda v: (v["x"].reshape(2, 3, 4, 2, 4, 2).mean(axis=(3, 5)),
                                   {"x": np.repeat(np.repeat(v["g"], 2, axis=2), 2, axis=3) / 4}))
    # batch norm in training on data with a large common offset (1e4 plus unit noise)
    inputs = {"x": uniform(70, [8, 4, 4, 4], offset=1e4), "w": uniform(71, [4], offset=1.0),
              "b": uniform(72, [4]), "g": uniform(73, [8, 4, 4, 4])}

    def bn_exact(v):
        x, w, b, g = v["x"], v["w"], v["b"], v["g"]
        m = x.size // x.shape[1]
        mean = x.mean(axis=(0, 2, 3), keepdims=True)
        var = ((x - mean) ** 2).mean(axis=(0, 2, 3), keepdims=True)
        invstd = 1 / np.sqrt(var + LD(1e-5))
        xhat = (x - mean) * invstd
        out = xhat * w[None, :, None, None] + b[None, :, None, None]
        gsum = g.sum(axis=(0, 2, 3), keepdims=True)
        gxhat_sum = (g * xhat).sum(axis=(0, 2, 3), keepdims=True)
        gx = w[None, :, None, None] * invstd * (g - gsum / m - xhat * gxhat_sum / m)
        return out, {"x": gx, "w": gxhat_sum.reshape(-1), "b": gsum.reshape(-1)}
    yield normwise_case("batch_norm/offset_1e4", dtype,
                        "F.batch_norm(x, None, None, w, b, training=True).backward(g)", inputs,
                        lambda t: backward(F.batch_norm(t["x"], None, None, t["w"], t["b"], training=True),
                                           {k: t[k] for k in "xwb"}, t["g"].detach()),
                        bn_exact)


def cases():
    torch.set_num_threads(1)
    for dtype in ("float32", "float64"):
        yield from elementwise_cases(dtype)
        yield from reduction_cases(dtype)
        yield from matmul_cases(dtype)
        yield from softmax_cases(dtype)
        yield from loss_cases(dtype)
        yield from layer_cases(dtype)
