"""Fixtures for the special-value table (issue 17, item 3): PyTorch's answer, computed in float32 and in
float64 (each case in its own type, not both in double), for NaN, +-inf, +-0, subnormals, the largest
finite value and inputs at exp's overflow and underflow thresholds, through the elementwise ops,
reductions, max/argmax, softmax and the losses; with PyTorch's gradients where they are defined at such
values and say something.

Cases are named "<family>/<op>/<dtype>[/<variant>]", family one of unary, binary, scalar, reduction,
extreme (max/min/argmax/argmin), softmax, loss. Their params:
  op       the op (tests/ops/special_values_test.cpp dispatches on it; UNARY, BINARY, SCALAR, REDUCTION,
           EXTREME, SOFTMAX and LOSS below are the PyTorch side)
  dtype    "float32" or "float64": the type PyTorch computed in and the C++ test runs in
  inputs   input names in argument order (tensors of the case; class-index targets are int64)
  args     the op's arguments; non-finite floats are written "nan", "inf", "-inf" as in tensors
  grad     the inputs whose gradient the case carries (tensors grad_out and grad_<input>); may be empty
  raises   PyTorch raises on these inputs (no "out"): hnn must throw too
  ulp      how many units in the last place a finite value may differ (NaN, infinities and zeros match
           exactly, sign included)
Tensors: the inputs, "out" ("indices" too for max(dim)/min(dim)), and for gradient cases "grad_out" (ones:
the gradients read as derivatives) and the gradients.
"""
import math

import torch

DTYPES = {"float32": torch.float32, "float64": torch.float64}
NAN, INF = math.nan, math.inf


def special_inputs(dtype):
    """The special inputs of a type: non-finite, signed zeros, subnormals, extremes, exp's thresholds."""
    if dtype == "float32":
        # exp overflows just above 88.7228 and its result leaves the normal range below -87.34; -103 is
        # the last input with a nonzero float result, -104 gives 0.
        limits = [1e-40, 1.4e-45, -1e-40, 3.4028234663852886e38, -3.4028234663852886e38, 1e30, -1e30,
                  88.72, 88.73, -87.5, -103.0, -104.0]
    else:
        # exp overflows just above 709.7827; -745 is the last input with a nonzero double result.
        limits = [1e-310, 5e-324, -1e-310, 1.7976931348623157e308, -1.7976931348623157e308, 1e300, -1e300,
                  709.7, 709.79, -745.0, -746.0]
    return [NAN, INF, -INF, 0.0, -0.0, -1.0, 1.0, 0.5, 2.0] + limits


def tensor(values, dtype, shape=None):
    t = torch.tensor(values, dtype=DTYPES[dtype])
    return t.reshape(shape) if shape is not None else t


def encode_scalar(v):
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def in_dtype(v, dtype):
    """v rounded to the case's type, the value both PyTorch and the C++ test use."""
    return torch.tensor(v, dtype=DTYPES[dtype]).item()


def case(family, op, dtype, variant, call, fn, inputs, args=None, grad=(), ulp=4, raises=False):
    """Runs fn(inputs, args) in PyTorch and records out (and the gradients of the inputs named in grad)."""
    name = "/".join(p for p in (family, op, dtype, variant) if p)
    args = dict(args or {})
    leaves = {}
    for k, v in inputs.items():
        leaf = v.detach().clone()
        if k in grad:
            leaf.requires_grad_(True)
        leaves[k] = leaf
    params = {"op": op, "dtype": dtype, "inputs": list(inputs), "args": {k: encode_scalar(v) for k, v in args.items()},
              "grad": list(grad), "ulp": ulp}
    tensors = {k: v.detach() for k, v in leaves.items()}
    if raises:
        try:
            fn(leaves, args)
        except RuntimeError:
            params["raises"] = True
            return name, {"call": call, "params": params, "tensors": tensors}
        raise AssertionError(f"{name}: expected PyTorch to raise")
    out = fn(leaves, args)
    if isinstance(out, tuple):  # max(dim): values and indices
        out, indices = out
        tensors["indices"] = indices
    tensors["out"] = out.detach()
    if grad:
        grad_out = torch.ones_like(out)
        grads = torch.autograd.grad(out, [leaves[k] for k in grad], grad_out)
        tensors["grad_out"] = grad_out
        for k, g in zip(grad, grads):
            tensors["grad_" + k] = g
    if args:
        call += " with " + ", ".join(f"{k}={v!r}" for k, v in args.items())
    return name, {"call": call, "params": params, "tensors": tensors}


# ---- elementwise ----------------------------------------------------------------------------------------

UNARY = {
    "exp": ("torch.exp(a)", lambda x, p: torch.exp(x["a"])),
    "log": ("torch.log(a)", lambda x, p: torch.log(x["a"])),
    "sqrt": ("torch.sqrt(a)", lambda x, p: torch.sqrt(x["a"])),
    "tanh": ("torch.tanh(a)", lambda x, p: torch.tanh(x["a"])),
    "sigmoid": ("torch.sigmoid(a)", lambda x, p: torch.sigmoid(x["a"])),
    "relu": ("torch.relu(a)", lambda x, p: torch.relu(x["a"])),
    "neg": ("torch.neg(a)", lambda x, p: torch.neg(x["a"])),
    "abs": ("torch.abs(a)", lambda x, p: torch.abs(x["a"])),
    "pow": ("torch.pow(a, p)", lambda x, p: torch.pow(x["a"], p["p"])),
    "clamp": ("torch.clamp(a, min, max)", lambda x, p: torch.clamp(x["a"], p["min"], p["max"])),
}


def unary_cases(dtype):
    a = tensor(special_inputs(dtype), dtype)
    for op in ("exp", "log", "sqrt", "tanh", "sigmoid", "relu", "neg", "abs"):
        call, fn = UNARY[op]
        yield case("unary", op, dtype, "", call, fn, {"a": a}, grad=["a"])
    call, fn = UNARY["pow"]
    for p in (2.0, 0.5, 3.0, -1.0, 1.5, 0.0):
        yield case("unary", "pow", dtype, f"p{p}", call, fn, {"a": a}, {"p": p}, grad=["a"])
    call, fn = UNARY["clamp"]
    for variant, lo, hi in (("both", -1.0, 1.0), ("min_only", 0.0, None), ("max_only", None, 0.0)):
        yield case("unary", "clamp", dtype, variant, call, fn, {"a": a}, {"min": lo, "max": hi}, grad=["a"])


BINARY = {
    "add": ("torch.add(a, b)", lambda x, p: x["a"] + x["b"]),
    "sub": ("torch.sub(a, b)", lambda x, p: x["a"] - x["b"]),
    "mul": ("torch.mul(a, b)", lambda x, p: x["a"] * x["b"]),
    "div": ("torch.div(a, b)", lambda x, p: x["a"] / x["b"]),
    # PyTorch propagates NaN from either side of maximum/minimum and splits the gradient at NaN as at a tie
    "maximum": ("torch.maximum(a, b)", lambda x, p: torch.maximum(x["a"], x["b"])),
    "minimum": ("torch.minimum(a, b)", lambda x, p: torch.minimum(x["a"], x["b"])),
}


def binary_pairs(dtype):
    fmax = torch.finfo(DTYPES[dtype]).max
    tiny = 1e-40 if dtype == "float32" else 1e-310
    huge = 1e30 if dtype == "float32" else 1e300
    return [(0.0, INF), (INF, 0.0), (-0.0, INF), (INF, -INF), (INF, INF), (-INF, -INF), (1.0, 0.0), (-1.0, 0.0),
            (1.0, -0.0), (0.0, 0.0), (-0.0, 0.0), (0.0, -0.0), (-0.0, -0.0), (NAN, 1.0), (1.0, NAN), (NAN, INF),
            (1.0, INF), (-1.0, -INF), (fmax, fmax), (fmax, -fmax), (huge, huge), (tiny, 0.5), (tiny, huge),
            (huge, tiny), (2.0, 3.0)]


def binary_cases(dtype):
    pairs = binary_pairs(dtype)
    a = tensor([p[0] for p in pairs], dtype)
    b = tensor([p[1] for p in pairs], dtype)
    for op, (call, fn) in BINARY.items():
        if op in ("maximum", "minimum"):
            # Which zero maximum(0, -0) returns depends on whether the element falls in a SIMD lane or the
            # scalar tail of PyTorch's kernel: not a property to pin.
            keep = [i for i, (x, y) in enumerate(pairs)
                    if not (x == 0 and y == 0 and math.copysign(1, x) != math.copysign(1, y))]
            yield case("binary", op, dtype, "", call, fn, {"a": a[keep], "b": b[keep]}, grad=["a", "b"])
            continue
        yield case("binary", op, dtype, "", call, fn, {"a": a, "b": b}, grad=["a", "b"])


SCALAR = {
    "add_scalar": ("a + s", lambda x, p: x["a"] + p["s"]),
    "sub_scalar": ("a - s", lambda x, p: x["a"] - p["s"]),
    "rsub_scalar": ("s - a", lambda x, p: p["s"] - x["a"]),
    "mul_scalar": ("a * s", lambda x, p: x["a"] * p["s"]),
    "div_scalar": ("a / s", lambda x, p: x["a"] / p["s"]),
    # Tensor.__rtruediv__ is a.reciprocal() * s: 1 / a may overflow to inf where s / a would not.
    "rdiv_scalar": ("s / a (Tensor.__rtruediv__, which is a.reciprocal() * s)", lambda x, p: p["s"] / x["a"]),
}


def scalar_cases(dtype):
    a = tensor(special_inputs(dtype), dtype)
    tiny = in_dtype(1e-40 if dtype == "float32" else 1e-310, dtype)
    for op, (call, fn) in SCALAR.items():
        scalars = [INF, -INF, NAN, 0.0, -0.0, 3.0]
        if op in ("div_scalar", "rdiv_scalar", "mul_scalar"):
            scalars.append(tiny)  # a subnormal scalar: its reciprocal overflows
        for s in scalars:
            s = in_dtype(s, dtype)
            if s == tiny:
                variant = "s_subnormal"
            elif math.isfinite(s):
                variant = ("s_minus_" if math.copysign(1, s) < 0 else "s_") + f"{abs(s):g}"
            else:
                variant = "s_" + encode_scalar(s).replace("-", "minus_")
            yield case("scalar", op, dtype, variant, call, fn, {"a": a}, {"s": s})


# ---- reductions -------------------------------------------------------------------------------------------

def reduction_rows(dtype):
    fmax = torch.finfo(DTYPES[dtype]).max
    tiny = 1e-40 if dtype == "float32" else 1e-310
    huge = 1e30 if dtype == "float32" else 1e300
    return [[1.0, NAN, 2.0], [INF, 1.0, 2.0], [-INF, 1.0, 2.0], [INF, -INF, 1.0], [INF, INF, 0.0], [-INF, -INF, -INF],
            [fmax, fmax, 0.0], [fmax, -fmax, 0.0], [huge, -huge, 0.0], [tiny, tiny, -0.0], [-0.0, -0.0, -0.0],
            [NAN, INF, -INF]]


REDUCTION = {
    "sum_dims": ("a.sum(dims, keepdim)", lambda x, p: x["a"].sum(p["dims"], keepdim=p["keepdim"])),
    "mean_dims": ("a.mean(dims, keepdim)", lambda x, p: x["a"].mean(p["dims"], keepdim=p["keepdim"])),
    "var_dims": ("a.var(dims, unbiased, keepdim)",
                 lambda x, p: x["a"].var(p["dims"], unbiased=p["unbiased"], keepdim=p["keepdim"])),
    "sum": ("a.sum()", lambda x, p: x["a"].sum()),
}


def reduction_cases(dtype):
    a = tensor(reduction_rows(dtype), dtype)
    call, fn = REDUCTION["sum_dims"]
    yield case("reduction", "sum_dims", dtype, "rows", call, fn, {"a": a}, {"dims": [1], "keepdim": False})
    call, fn = REDUCTION["mean_dims"]
    yield case("reduction", "mean_dims", dtype, "rows", call, fn, {"a": a}, {"dims": [1], "keepdim": False})
    call, fn = REDUCTION["var_dims"]
    for unbiased in (True, False):
        yield case("reduction", "var_dims", dtype, "rows_" + ("unbiased" if unbiased else "biased"), call, fn,
                   {"a": a}, {"dims": [1], "unbiased": unbiased, "keepdim": False})
    # One element per row: the unbiased variance divides by 0 and is nan (PyTorch warns, returns nan).
    yield case("reduction", "var_dims", dtype, "single_element", call, fn, {"a": tensor([[1.0], [INF], [0.0]], dtype)},
               {"dims": [1], "unbiased": True, "keepdim": False})
    # Along dim 0 (columns): the strided path of the reduction.
    call, fn = REDUCTION["sum_dims"]
    yield case("reduction", "sum_dims", dtype, "columns", call, fn, {"a": a.t().contiguous()},
               {"dims": [0], "keepdim": False})
    call, fn = REDUCTION["sum"]
    for variant, values in (("nan", [1.0, NAN, 2.0, 3.0]), ("inf_minus_inf", [INF, 1.0, -INF]),
                            ("negative_zeros", [-0.0, -0.0]), ("overflow", [torch.finfo(DTYPES[dtype]).max] * 2)):
        yield case("reduction", "sum", dtype, variant, call, fn, {"a": tensor(values, dtype)})


EXTREME = {
    "max": ("a.max()", lambda x, p: x["a"].max()),
    "min": ("a.min()", lambda x, p: x["a"].min()),
    # max(dim)/min(dim) return values and indices; the gradient goes to the index.
    "max_dim": ("a.max(dim, keepdim)", lambda x, p: tuple(x["a"].max(p["dim"], keepdim=p["keepdim"]))),
    "min_dim": ("a.min(dim, keepdim)", lambda x, p: tuple(x["a"].min(p["dim"], keepdim=p["keepdim"]))),
    "argmax": ("a.argmax(dim, keepdim)", lambda x, p: x["a"].argmax(p["dim"], keepdim=p["keepdim"])),
    "argmin": ("a.argmin(dim, keepdim)", lambda x, p: x["a"].argmin(p["dim"], keepdim=p["keepdim"])),
}


def extreme_rows(dtype):
    fmax = torch.finfo(DTYPES[dtype]).max
    return [[1.0, NAN, 3.0, 2.0], [3.0, 1.0, NAN, NAN], [NAN, 2.0, 5.0, NAN], [INF, 1.0, NAN, -INF],
            [-INF, -INF, -INF, -INF], [1.0, 3.0, 3.0, -1.0], [INF, INF, 0.0, 1.0], [-0.0, 0.0, -1.0, -1.0],
            [fmax, -fmax, INF, -INF], [-INF, NAN, NAN, INF]]


def extreme_cases(dtype):
    a = tensor(extreme_rows(dtype), dtype)
    for op in ("max_dim", "min_dim"):
        call, fn = EXTREME[op]
        yield case("extreme", op, dtype, "rows", call, fn, {"a": a}, {"dim": 1, "keepdim": False}, grad=["a"])
        yield case("extreme", op, dtype, "columns", call, fn, {"a": a.t().contiguous()}, {"dim": 0, "keepdim": True},
                   grad=["a"])
    for op in ("argmax", "argmin"):
        call, fn = EXTREME[op]
        yield case("extreme", op, dtype, "rows", call, fn, {"a": a}, {"dim": 1, "keepdim": False})
        yield case("extreme", op, dtype, "columns", call, fn, {"a": a.t().contiguous()}, {"dim": 0, "keepdim": False})
    # Over all elements: NaN propagates; ties (NaNs tie with NaNs) share the gradient evenly.
    for variant, values in (("nan", [1.0, NAN, 3.0]), ("two_nans", [NAN, 2.0, NAN, 7.0]), ("ties", [1.0, 3.0, 3.0]),
                            ("inf_ties", [INF, INF, -INF]), ("all_minus_inf", [-INF, -INF]),
                            ("nan_and_inf", [INF, NAN, -INF])):
        for op in ("max", "min"):
            call, fn = EXTREME[op]
            yield case("extreme", op, dtype, variant, call, fn, {"a": tensor(values, dtype)}, grad=["a"])


# ---- softmax ----------------------------------------------------------------------------------------------

SOFTMAX = {
    "softmax": ("torch.softmax(a, dim)", lambda x, p: torch.softmax(x["a"], p["dim"])),
    "log_softmax": ("torch.log_softmax(a, dim)", lambda x, p: torch.log_softmax(x["a"], p["dim"])),
}


def softmax_rows(dtype):
    fmax = torch.finfo(DTYPES[dtype]).max
    huge = 1e30 if dtype == "float32" else 1e300
    return [[1.0, INF, 2.0], [INF, INF, 0.0], [1.0, -INF, 2.0], [-INF, -INF, -INF], [NAN, 1.0, 2.0], [-INF, NAN, 0.0],
            [fmax, fmax, 0.0], [fmax, -fmax, 0.0], [huge, 0.0, -huge], [1000.0, 0.0, -1000.0]]


def softmax_cases(dtype):
    a = tensor(softmax_rows(dtype), dtype)
    for op, (call, fn) in SOFTMAX.items():
        yield case("softmax", op, dtype, "rows", call, fn, {"a": a}, {"dim": 1})
        yield case("softmax", op, dtype, "columns", call, fn, {"a": a.t().contiguous()}, {"dim": 0})
        # Gradients where a row holds -inf (probability 0) or is dominated by one logit.
        finite = tensor([[1.0, -INF, 2.0], [1000.0, 0.0, -1000.0], [-INF, 0.0, -INF]], dtype)
        # With grad_out = ones the gradient is 1 - 3 softmax (log_softmax) or a difference of products
        # (softmax): cancellation turns an ulp of the forward into a few more here.
        yield case("softmax", op, dtype, "gradient", call, fn, {"a": finite}, {"dim": 1}, grad=["a"], ulp=16)


# ---- losses -------------------------------------------------------------------------------------------------

F = torch.nn.functional

LOSS = {
    "cross_entropy": ("torch.nn.CrossEntropyLoss(reduction=reduction, ignore_index=ignore_index)(input, target)",
                      lambda x, p: F.cross_entropy(x["input"], x["target"], reduction=p["reduction"],
                                                   ignore_index=p.get("ignore_index", -100))),
    "cross_entropy_probabilities": (
        "torch.nn.CrossEntropyLoss(reduction=reduction)(input, target) with probability targets",
        lambda x, p: F.cross_entropy(x["input"], x["target"], reduction=p["reduction"])),
    "nll_loss": ("torch.nn.NLLLoss(reduction=reduction, ignore_index=ignore_index)(input, target)",
                 lambda x, p: F.nll_loss(x["input"], x["target"], reduction=p["reduction"],
                                         ignore_index=p.get("ignore_index", -100))),
    "mse_loss": ("torch.nn.MSELoss(reduction=reduction)(input, target)",
                 lambda x, p: F.mse_loss(x["input"], x["target"], reduction=p["reduction"])),
    "binary_cross_entropy": ("torch.nn.BCELoss(reduction=reduction)(input, target)",
                             lambda x, p: F.binary_cross_entropy(x["input"], x["target"], reduction=p["reduction"])),
    "binary_cross_entropy_with_logits": (
        "torch.nn.BCEWithLogitsLoss(reduction=reduction)(input, target)",
        lambda x, p: F.binary_cross_entropy_with_logits(x["input"], x["target"], reduction=p["reduction"])),
}


def loss_case(op, dtype, variant, inputs, args, grad=("input",), ulp=4, raises=False):
    call, fn = LOSS[op]
    return case("loss", op, dtype, variant, call, fn, inputs, args, grad=list(grad), ulp=ulp, raises=raises)


def index_target(values):
    return torch.tensor(values, dtype=torch.int64)


def cross_entropy_cases(dtype):
    fmax = torch.finfo(DTYPES[dtype]).max
    # Rows: NaN at the target, NaN elsewhere, +inf logit, -inf at the target (loss inf), -inf elsewhere,
    # logits 1e3 apart, the largest finite logits.
    special = tensor([[NAN, 1.0, 2.0], [1.0, NAN, 2.0], [INF, 0.0, 0.0], [-INF, 0.0, 0.0], [-INF, 0.0, 0.0],
                      [1000.0, 0.0, -1000.0], [fmax, 0.0, -fmax]], dtype)
    special_target = index_target([0, 0, 0, 0, 1, 2, 0])
    finite = tensor([[-INF, 0.0, 0.0], [1000.0, 0.0, -1000.0], [1000.0, 0.0, -1000.0], [fmax, 0.0, -fmax]], dtype)
    finite_target = index_target([1, 2, 0, 0])
    for reduction in ("none", "mean"):
        yield loss_case("cross_entropy", dtype, "special_" + reduction, {"input": special, "target": special_target},
                        {"reduction": reduction})
        yield loss_case("cross_entropy", dtype, "finite_" + reduction, {"input": finite, "target": finite_target},
                        {"reduction": reduction})
    # A row holding NaN whose target is ignored does not reach the mean (nor its gradient).
    ignored = tensor([[NAN, 1.0, 2.0], [1.0, 2.0, 3.0]], dtype)
    yield loss_case("cross_entropy", dtype, "ignored_nan_row_mean",
                    {"input": ignored, "target": index_target([-100, 2])}, {"reduction": "mean", "ignore_index": -100})

    # Probability targets: 0 * log_softmax = 0 * -inf is nan, as in PyTorch's -(target * logp).sum(1).
    logits = tensor([[NAN, 1.0, 2.0], [-INF, 0.0, 0.0], [-INF, 0.0, 0.0], [INF, 0.0, 0.0], [1000.0, 0.0, -1000.0],
                     [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], dtype)
    probabilities = tensor([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0],
                            [NAN, 0.5, 0.5], [INF, 0.0, 0.0]], dtype)
    for reduction in ("none", "mean"):
        yield loss_case("cross_entropy_probabilities", dtype, "special_" + reduction,
                        {"input": logits, "target": probabilities}, {"reduction": reduction})
    yield loss_case("cross_entropy_probabilities", dtype, "finite_mean",
                    {"input": tensor([[-INF, 0.0, 0.0], [1000.0, 0.0, -1000.0]], dtype),
                     "target": tensor([[0.0, 1.0, 0.0], [0.0, 0.25, 0.75]], dtype)}, {"reduction": "mean"})


def nll_cases(dtype):
    # Log-probabilities holding NaN (at and away from the target), -inf at the target (loss inf), +inf.
    logp = tensor([[NAN, -1.0], [-1.0, NAN], [-INF, -1.0], [-1.0, -INF], [INF, -1.0]], dtype)
    target = index_target([0, 0, 0, 0, 0])
    for reduction in ("none", "mean"):
        yield loss_case("nll_loss", dtype, "special_" + reduction, {"input": logp, "target": target},
                        {"reduction": reduction})
    yield loss_case("nll_loss", dtype, "ignored_nan_mean", {"input": tensor([[NAN, -1.0], [-2.0, -1.0]], dtype),
                                                            "target": index_target([-100, 0])},
                    {"reduction": "mean", "ignore_index": -100})


def mse_cases(dtype):
    fmax = torch.finfo(DTYPES[dtype]).max
    big = 2e19 if dtype == "float32" else 2e154  # (big - 0)^2 overflows the type, half of it would not
    inputs = tensor([NAN, 1.0, INF, INF, -INF, fmax, big, 1.0, 0.0], dtype)
    targets = tensor([1.0, NAN, 1.0, INF, INF, -fmax, 0.0, -1.0, -0.0], dtype)
    for reduction in ("none", "mean"):
        yield loss_case("mse_loss", dtype, "special_" + reduction, {"input": inputs, "target": targets},
                        {"reduction": reduction})
    yield loss_case("mse_loss", dtype, "overflow_mean", {"input": tensor([big, 0.0], dtype),
                                                         "target": tensor([0.0, 0.0], dtype)},
                    {"reduction": "mean"})


def bce_cases(dtype):
    # p in {0, 1} against targets 0, 1, 1/2: PyTorch clamps each log at -100, so the loss is 0, 100 or 50,
    # and its gradient divides by max(p (1 - p), 1e-12).
    tiny = 1e-40 if dtype == "float32" else 1e-310
    p = tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, tiny, 0.5, 0.5], dtype)
    y = tensor([0.0, 1.0, 0.5, 0.0, 1.0, 0.5, 1.0, NAN, INF], dtype)
    for reduction in ("none", "mean"):
        yield loss_case("binary_cross_entropy", dtype, "extremes_" + reduction, {"input": p, "target": y},
                        {"reduction": reduction})
    yield loss_case("binary_cross_entropy", dtype, "finite_mean",
                    {"input": tensor([0.0, 1.0, 0.0, 1.0], dtype), "target": tensor([0.0, 0.0, 1.0, 0.25], dtype)},
                    {"reduction": "mean"})
    # PyTorch refuses an input outside [0, 1], NaN included.
    for variant, values in (("nan_input", [0.5, NAN]), ("inf_input", [INF, 0.5])):
        yield loss_case("binary_cross_entropy", dtype, variant, {"input": tensor(values, dtype),
                                                                 "target": tensor([1.0, 0.0], dtype)},
                        {"reduction": "mean"}, raises=True)


def bce_with_logits_cases(dtype):
    # At x = +-inf PyTorch's (1 - y) x + max(-x, 0) + log(exp(-max(-x, 0)) + exp(-x - max(-x, 0))) is nan
    # except for x = inf, y = 0; its gradient sigmoid(x) - y is finite at all four.
    x = tensor([INF, INF, -INF, -INF, NAN, 1.0, 100.0, -100.0, INF], dtype)
    y = tensor([0.0, 1.0, 0.0, 1.0, 1.0, NAN, 0.0, 1.0, 0.5], dtype)
    for reduction in ("none", "mean"):
        yield loss_case("binary_cross_entropy_with_logits", dtype, "special_" + reduction, {"input": x, "target": y},
                        {"reduction": reduction})


def cases():
    for dtype in DTYPES:
        yield from unary_cases(dtype)
        yield from binary_cases(dtype)
        yield from scalar_cases(dtype)
        yield from reduction_cases(dtype)
        yield from extreme_cases(dtype)
        yield from softmax_cases(dtype)
        yield from cross_entropy_cases(dtype)
        yield from nll_cases(dtype)
        yield from mse_cases(dtype)
        yield from bce_cases(dtype)
        yield from bce_with_logits_cases(dtype)
