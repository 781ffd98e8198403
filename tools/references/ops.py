"""Fixtures for the tensor core (issue 2): every op of API.md's "Ops" list plus the other elementwise and
shape ops, on contiguous, broadcast and non-contiguous inputs, with PyTorch's forward values and input
gradients; and PyTorch's str() of tensors for the printer tests.

Op cases are named "<op>/<variant>". Their params:
  op       the op (the C++ tests dispatch on it; OPS below is the PyTorch side)
  inputs   input names in argument order
  views    {name: [step, ...]}: view steps applied to the stored contiguous base before the op, so the op
           sees a non-contiguous (or broadcast-expanded) input: ["transpose", d0, d1], ["permute", [dims]],
           ["narrow", dim, start, length], ["expand", [sizes]], ["select", dim, index]
  patterns {name: {"shape", "mult", "add", "mod", "shift", "div"}}: a large input not stored in the file,
           element i = ((i * mult + add) % mod - shift) / div (exact in float and double)
  args     the op's arguments
  grad     whether the case carries gradients (tensors grad_out and grad_<input>, the gradient with
           respect to the base, i.e. through the view steps)
  gradcheck whether the C++ side also runs a finite-difference gradcheck (off at ties and kinks)
Tensors: each input's base (contiguous, float32-representable values), "out", and the gradients.
Creation cases (zeros, ones, full, arange) have no inputs: only "args" and "out".

Print cases are named "print/<variant>": tensors {"x"}, params {"str": str(x) under PyTorch's default
float32 dtype, "requires_grad", "views"}.
"""
import math
import zlib

import torch

from references import _common


def randn(shape, gen, scale=1.0, offset=0.0):
    """_common.randn (float32-representable normal samples), also for 0-dim shapes."""
    return _common.randn(list(shape) or [1], gen, scale, offset).reshape(list(shape))


def rand(shape, gen, low=0.0, high=1.0):
    return _common.rand(list(shape) or [1], gen, low, high).reshape(list(shape))


# ---- the ops, PyTorch side ---------------------------------------------------------------------------

OPS = {
    # binary, broadcasting
    "add": ("torch.add(a, b)", lambda x, p: torch.add(x[0], x[1])),
    "sub": ("torch.sub(a, b)", lambda x, p: torch.sub(x[0], x[1])),
    "mul": ("torch.mul(a, b)", lambda x, p: torch.mul(x[0], x[1])),
    "div": ("torch.div(a, b)", lambda x, p: torch.div(x[0], x[1])),
    "maximum": ("torch.maximum(a, b)", lambda x, p: torch.maximum(x[0], x[1])),
    "minimum": ("torch.minimum(a, b)", lambda x, p: torch.minimum(x[0], x[1])),
    # with a scalar on either side
    "add_scalar": ("a + s", lambda x, p: x[0] + p["s"]),
    "radd_scalar": ("s + a", lambda x, p: p["s"] + x[0]),
    "sub_scalar": ("a - s", lambda x, p: x[0] - p["s"]),
    "rsub_scalar": ("s - a", lambda x, p: p["s"] - x[0]),
    "mul_scalar": ("a * s", lambda x, p: x[0] * p["s"]),
    "rmul_scalar": ("s * a", lambda x, p: p["s"] * x[0]),
    "div_scalar": ("a / s", lambda x, p: x[0] / p["s"]),
    "rdiv_scalar": ("s / a", lambda x, p: p["s"] / x[0]),
    # unary
    "neg": ("torch.neg(a)", lambda x, p: torch.neg(x[0])),
    "exp": ("torch.exp(a)", lambda x, p: torch.exp(x[0])),
    "log": ("torch.log(a)", lambda x, p: torch.log(x[0])),
    "sqrt": ("torch.sqrt(a)", lambda x, p: torch.sqrt(x[0])),
    "abs": ("torch.abs(a)", lambda x, p: torch.abs(x[0])),
    "relu": ("torch.relu(a)", lambda x, p: torch.relu(x[0])),
    "sigmoid": ("torch.sigmoid(a)", lambda x, p: torch.sigmoid(x[0])),
    "tanh": ("torch.tanh(a)", lambda x, p: torch.tanh(x[0])),
    "pow": ("torch.pow(a, p)", lambda x, p: torch.pow(x[0], p["p"])),
    "clamp": ("torch.clamp(a, min, max)", lambda x, p: torch.clamp(x[0], p["min"], p["max"])),
    # comparisons (PyTorch returns bool; the fixture stores int64 0/1 like hnn)
    "eq": ("torch.eq(a, b)", lambda x, p: torch.eq(x[0], x[1]).long()),
    "eq_scalar": ("torch.eq(a, s)", lambda x, p: torch.eq(x[0], p["s"]).long()),
    "ne": ("torch.ne(a, b)", lambda x, p: torch.ne(x[0], x[1]).long()),
    "gt": ("torch.gt(a, b)", lambda x, p: torch.gt(x[0], x[1]).long()),
    "lt": ("torch.lt(a, b)", lambda x, p: torch.lt(x[0], x[1]).long()),
    "ge": ("torch.ge(a, b)", lambda x, p: torch.ge(x[0], x[1]).long()),
    "le": ("torch.le(a, b)", lambda x, p: torch.le(x[0], x[1]).long()),
    # reductions
    "sum": ("a.sum()", lambda x, p: x[0].sum()),
    "sum_dims": ("a.sum(dims, keepdim)", lambda x, p: x[0].sum(p["dims"], keepdim=p["keepdim"])),
    "mean": ("a.mean()", lambda x, p: x[0].mean()),
    "mean_dims": ("a.mean(dims, keepdim)", lambda x, p: x[0].mean(p["dims"], keepdim=p["keepdim"])),
    "var": ("a.var(unbiased=unbiased)", lambda x, p: x[0].var(unbiased=p["unbiased"])),
    "var_dims": ("a.var(dims, unbiased, keepdim)",
                 lambda x, p: x[0].var(p["dims"], unbiased=p["unbiased"], keepdim=p["keepdim"])),
    "std_dims": ("a.std(dims, unbiased, keepdim)",
                 lambda x, p: x[0].std(p["dims"], unbiased=p["unbiased"], keepdim=p["keepdim"])),
    "max": ("a.max()", lambda x, p: x[0].max()),
    "max_dim": ("a.max(dim, keepdim).values", lambda x, p: x[0].max(p["dim"], keepdim=p["keepdim"]).values),
    "min": ("a.min()", lambda x, p: x[0].min()),
    "min_dim": ("a.min(dim, keepdim).values", lambda x, p: x[0].min(p["dim"], keepdim=p["keepdim"]).values),
    "argmax": ("a.argmax(dim, keepdim)", lambda x, p: x[0].argmax(p["dim"], keepdim=p["keepdim"])),
    "argmax_all": ("a.argmax()", lambda x, p: x[0].argmax()),
    "argmin": ("a.argmin(dim, keepdim)", lambda x, p: x[0].argmin(p["dim"], keepdim=p["keepdim"])),
    "sum_to": ("a.sum_to_size(shape)", lambda x, p: x[0].sum_to_size(p["shape"])),
    # linear algebra and activations
    "matmul": ("torch.matmul(a, b)", lambda x, p: torch.matmul(x[0], x[1])),
    "softmax": ("torch.softmax(a, dim)", lambda x, p: torch.softmax(x[0], p["dim"])),
    "log_softmax": ("torch.log_softmax(a, dim)", lambda x, p: torch.log_softmax(x[0], p["dim"])),
    # shape ops
    "reshape": ("a.reshape(shape)", lambda x, p: x[0].reshape(p["shape"])),
    "view": ("a.view(shape)", lambda x, p: x[0].view(p["shape"])),
    "flatten": ("a.flatten(start, end)", lambda x, p: x[0].flatten(p["start"], p["end"])),
    "transpose": ("a.transpose(d0, d1)", lambda x, p: x[0].transpose(p["d0"], p["d1"])),
    "t": ("a.t()", lambda x, p: x[0].t()),
    "permute": ("a.permute(dims)", lambda x, p: x[0].permute(p["dims"])),
    "unsqueeze": ("a.unsqueeze(dim)", lambda x, p: x[0].unsqueeze(p["dim"])),
    "squeeze_dim": ("a.squeeze(dim)", lambda x, p: x[0].squeeze(p["dim"])),
    "squeeze": ("a.squeeze()", lambda x, p: x[0].squeeze()),
    "expand": ("a.expand(shape)", lambda x, p: x[0].expand(p["shape"])),
    "select": ("a.select(dim, index)", lambda x, p: x[0].select(p["dim"], p["index"])),
    "narrow": ("a.narrow(dim, start, length)", lambda x, p: x[0].narrow(p["dim"], p["start"], p["length"])),
    "cat": ("torch.cat(inputs, dim)", lambda x, p: torch.cat(x, p["dim"])),
    "stack": ("torch.stack(inputs, dim)", lambda x, p: torch.stack(x, p["dim"])),
    "clone": ("a.clone()", lambda x, p: x[0].clone()),
    "contiguous": ("a.contiguous()", lambda x, p: x[0].contiguous()),
    # creation (no inputs)
    "zeros": ("torch.zeros(shape)", lambda x, p: torch.zeros(p["shape"])),
    "ones": ("torch.ones(shape)", lambda x, p: torch.ones(p["shape"])),
    "full": ("torch.full(shape, value)", lambda x, p: torch.full(p["shape"], p["value"])),
    "arange": ("torch.arange(n)", lambda x, p: torch.arange(p["n"], dtype=torch.float64)),
    "arange_range": ("torch.arange(start, end, step)",
                     lambda x, p: torch.arange(p["start"], p["end"], p["step"], dtype=torch.float64)),
}

NOT_DIFFERENTIABLE = {"eq", "eq_scalar", "ne", "gt", "lt", "ge", "le", "argmax", "argmax_all", "argmin", "zeros",
                      "ones", "full", "arange", "arange_range"}


# ---- inputs -------------------------------------------------------------------------------------------

class In:
    """One input: the stored base tensor's shape, how to fill it, and the view steps the op sees."""

    def __init__(self, base_shape, steps=(), kind="randn", scale=1.0, offset=0.0, values=None, pattern=None):
        self.base_shape = list(base_shape)
        self.steps = [list(s) for s in steps]
        self.kind, self.scale, self.offset, self.values, self.pattern = kind, scale, offset, values, pattern

    def make(self, gen):
        if self.values is not None:
            return torch.tensor(self.values, dtype=torch.float64).reshape(self.base_shape)
        if self.pattern is not None:
            p = self.pattern
            i = torch.arange(math.prod(self.base_shape), dtype=torch.int64)
            return (((i * p["mult"] + p["add"]) % p["mod"] - p["shift"]).double() / p["div"]).reshape(self.base_shape)
        if self.kind == "randn":
            return randn(self.base_shape, gen, self.scale, self.offset)
        if self.kind == "pos":  # away from 0: log, sqrt, division, negative powers
            return rand(self.base_shape, gen, 0.5, 2.0)
        if self.kind == "int":  # small integers: ties for max/argmax/maximum/eq
            return torch.randint(-2, 3, self.base_shape or [1], generator=gen).double().reshape(self.base_shape)
        raise ValueError(self.kind)


def plain(shape, **kw):
    return In(shape, (), **kw)


def transposed(shape, d0=-2, d1=-1, **kw):
    """A view of `shape` made by transposing a contiguous base."""
    base = list(shape)
    base[d0], base[d1] = base[d1], base[d0]
    return In(base, [["transpose", d0, d1]], **kw)


def permuted(shape, perm, **kw):
    base = [0] * len(shape)
    for i, d in enumerate(perm):
        base[d] = shape[i]
    return In(base, [["permute", list(perm)]], **kw)


def narrowed(shape, dim, start=1, extra=2, **kw):
    base = list(shape)
    base[dim] += extra
    return In(base, [["narrow", dim, start, shape[dim]]], **kw)


def expanded(shape, base_shape, **kw):
    return In(base_shape, [["expand", list(shape)]], **kw)


def pattern(shape, mult=37, add=11, mod=101, shift=50, div=16):
    p = {"shape": list(shape), "mult": mult, "add": add, "mod": mod, "shift": shift, "div": div}
    return In(shape, (), pattern=p)


def apply_steps(t, steps):
    for step in steps:
        kind, args = step[0], step[1:]
        if kind == "transpose":
            t = t.transpose(args[0], args[1])
        elif kind == "permute":
            t = t.permute(*args[0])
        elif kind == "narrow":
            t = t.narrow(*args)
        elif kind == "expand":
            t = t.expand(*args[0])
        elif kind == "select":
            t = t.select(*args)
        else:
            raise ValueError(kind)
    return t


def steps_str(name, steps):
    out = name
    for step in steps:
        kind, args = step[0], step[1:]
        if kind in ("permute", "expand"):
            out += f".{kind}({', '.join(map(str, args[0]))})"
        else:
            out += f".{kind}({', '.join(map(str, args))})"
    return out


NAMES = "abcdefgh"


def op_case(name, op, inputs, args=None, grad=True, gradcheck=True):
    """One op case: draws the inputs, runs the op in double, and records values and gradients."""
    args = dict(args or {})
    gen = torch.Generator()
    gen.manual_seed(zlib.crc32(name.encode()))
    names = [NAMES[i] for i in range(len(inputs))]
    bases = [spec.make(gen) for spec in inputs]
    grad = grad and op not in NOT_DIFFERENTIABLE
    for b in bases:
        b.requires_grad_(grad)
    views = [apply_steps(b, spec.steps) for b, spec in zip(bases, inputs)]
    call, fn = OPS[op]
    out = fn(views, args)
    tensors, patterns = {}, {}
    for n, b, spec in zip(names, bases, inputs):
        if spec.pattern is not None:
            patterns[n] = spec.pattern
        else:
            tensors[n] = b.detach()
    tensors["out"] = out.detach()
    if grad:
        grad_out = randn(list(out.shape), gen)
        grads = torch.autograd.grad(out, bases, grad_out, allow_unused=True)
        tensors["grad_out"] = grad_out
        for n, b, g in zip(names, bases, grads):
            tensors["grad_" + n] = g if g is not None else torch.zeros_like(b)
    prelude = "; ".join(f"{n} = {steps_str(n + '_base', spec.steps)}" for n, spec in zip(names, inputs) if spec.steps)
    if op in ("cat", "stack"):
        call = call.replace("inputs", "[" + ", ".join(names) + "]")
    if args:
        call += " with " + ", ".join(f"{k}={v!r}" for k, v in args.items())
    params = {"op": op, "inputs": names, "views": {n: spec.steps for n, spec in zip(names, inputs) if spec.steps},
              "args": args, "grad": grad, "gradcheck": grad and gradcheck}
    if patterns:
        params["patterns"] = patterns
    return name, {"call": (prelude + "; " if prelude else "") + call, "params": params, "tensors": tensors}


# ---- op cases -------------------------------------------------------------------------------------------

def binary_cases():
    for op in ("add", "sub", "mul", "div", "maximum", "minimum"):
        b_kind = "pos" if op == "div" else "randn"
        yield op_case(f"{op}/same_shape", op, [plain([2, 3]), plain([2, 3], kind=b_kind)])
        yield op_case(f"{op}/broadcast_row", op, [plain([2, 3]), plain([3], kind=b_kind)])
        yield op_case(f"{op}/broadcast_column", op, [plain([4, 1]), plain([1, 5], kind=b_kind)])
        yield op_case(f"{op}/broadcast_3d", op, [plain([2, 1, 4]), plain([3, 1], kind=b_kind)])
        yield op_case(f"{op}/broadcast_0dim", op, [plain([2, 3]), plain([], kind=b_kind)])
        yield op_case(f"{op}/0dim_left", op, [plain([]), plain([3], kind=b_kind)])
        yield op_case(f"{op}/transposed_a", op, [transposed([2, 3]), plain([2, 3], kind=b_kind)])
        yield op_case(f"{op}/transposed_both_broadcast", op,
                      [transposed([4, 3]), transposed([1, 3], kind=b_kind)])
        yield op_case(f"{op}/permuted_broadcast", op, [permuted([2, 3, 4], [2, 0, 1]), plain([4], kind=b_kind)])
        yield op_case(f"{op}/narrowed", op, [narrowed([3, 4], 1), narrowed([3, 4], 0, kind=b_kind)])
        yield op_case(f"{op}/expanded", op, [expanded([3, 4], [1, 4]), transposed([3, 4], kind=b_kind)])
    # Ties: maximum/minimum split the gradient evenly where a == b.
    for op in ("maximum", "minimum"):
        yield op_case(f"{op}/ties", op, [plain([3, 4], kind="int"), plain([3, 4], kind="int")], gradcheck=False)


def scalar_cases():
    for op, s in (("add_scalar", 1.5), ("radd_scalar", -0.25), ("sub_scalar", 0.75), ("rsub_scalar", 1.0),
                  ("mul_scalar", -2.5), ("rmul_scalar", 3.0), ("div_scalar", 4.0), ("rdiv_scalar", 1.5)):
        kind = "pos" if op == "rdiv_scalar" else "randn"
        yield op_case(f"{op}/contiguous", op, [plain([2, 3], kind=kind)], {"s": s})
        yield op_case(f"{op}/transposed", op, [transposed([3, 4], kind=kind)], {"s": s})
        yield op_case(f"{op}/expanded", op, [expanded([3, 4], [3, 1], kind=kind)], {"s": s})
        yield op_case(f"{op}/0dim", op, [plain([], kind=kind)], {"s": s})


def unary_cases():
    unary = [("neg", "randn", {}), ("exp", "randn", {}), ("log", "pos", {}), ("sqrt", "pos", {}),
             ("abs", "randn", {}), ("relu", "randn", {}), ("sigmoid", "randn", {}), ("tanh", "randn", {}),
             ("pow", "randn", {"p": 2.0}), ("clamp", "randn", {"min": -0.5, "max": 0.7})]
    for op, kind, args in unary:
        yield op_case(f"{op}/contiguous", op, [plain([2, 3], kind=kind)], args)
        yield op_case(f"{op}/transposed", op, [transposed([3, 4], kind=kind)], args)
        yield op_case(f"{op}/permuted", op, [permuted([2, 3, 4], [1, 2, 0], kind=kind)], args)
        yield op_case(f"{op}/narrowed", op, [narrowed([3, 4], 1, kind=kind)], args)
        yield op_case(f"{op}/expanded", op, [expanded([2, 3, 4], [3, 1], kind=kind)], args)
        yield op_case(f"{op}/0dim", op, [plain([], kind=kind)], args)
    for p in (3.0, 0.5, -1.5, 0.0, 1.0):
        yield op_case(f"pow/p{p}", "pow", [transposed([3, 2], kind="pos")], {"p": p})
    yield op_case("pow/p3_negative_base", "pow", [plain([2, 3])], {"p": 3.0})
    yield op_case("clamp/min_only", "clamp", [transposed([3, 4])], {"min": -0.2, "max": None})
    yield op_case("clamp/max_only", "clamp", [narrowed([3, 4], 0)], {"min": None, "max": 0.1})
    # At the bounds exactly the gradient passes (PyTorch's clamp_backward uses >= and <=).
    yield op_case("clamp/at_bounds", "clamp", [plain([2, 3], values=[-1.0, -0.5, 0.0, 0.5, 1.0, 2.0])],
                  {"min": -0.5, "max": 1.0}, gradcheck=False)
    # relu and abs at exactly 0: PyTorch's gradient there is 0.
    yield op_case("relu/at_zero", "relu", [plain([4], values=[-1.0, 0.0, 0.5, 2.0])], gradcheck=False)
    yield op_case("abs/at_zero", "abs", [plain([4], values=[-1.0, 0.0, 0.5, -2.0])], gradcheck=False)
    # exp/log over a wide range, sigmoid/tanh saturating.
    yield op_case("exp/wide", "exp", [plain([8], scale=8.0)])
    yield op_case("sigmoid/saturating", "sigmoid", [plain([6], values=[-40.0, -10.0, -1.0, 1.0, 10.0, 40.0])])
    yield op_case("tanh/saturating", "tanh", [plain([6], values=[-20.0, -3.0, -0.1, 0.1, 3.0, 20.0])])


def comparison_cases():
    yield op_case("eq/same_shape", "eq", [plain([3, 4], kind="int"), plain([3, 4], kind="int")])
    yield op_case("eq/broadcast", "eq", [plain([3, 1], kind="int"), plain([4], kind="int")])
    yield op_case("eq/transposed", "eq", [transposed([3, 4], kind="int"), plain([3, 4], kind="int")])
    yield op_case("eq/expanded", "eq", [expanded([3, 4], [1, 4], kind="int"), narrowed([3, 4], 1, kind="int")])
    yield op_case("eq_scalar/contiguous", "eq_scalar", [plain([3, 4], kind="int")], {"s": 1.0})
    yield op_case("eq_scalar/permuted", "eq_scalar", [permuted([2, 3, 4], [2, 1, 0], kind="int")], {"s": 0.0})
    for op in ("ne", "gt", "lt", "ge", "le"):
        yield op_case(f"{op}/same_shape_ties", op, [plain([3, 4], kind="int"), plain([3, 4], kind="int")])
        yield op_case(f"{op}/broadcast", op, [plain([3, 1], kind="int"), plain([4], kind="int")])
        yield op_case(f"{op}/transposed", op, [transposed([3, 4], kind="int"), narrowed([3, 4], 0, kind="int")])
        yield op_case(f"{op}/expanded_0dim", op, [expanded([2, 3], [1, 3], kind="int"), plain([], kind="int")])


def reduction_cases():
    yield op_case("sum/contiguous", "sum", [plain([3, 4])])
    yield op_case("sum/transposed", "sum", [transposed([3, 4])])
    yield op_case("sum/expanded", "sum", [expanded([3, 4], [1, 4])])
    yield op_case("sum/0dim", "sum", [plain([])])
    yield op_case("sum/large", "sum", [pattern([300, 250])], grad=False)
    for dims, keep in (([0], False), ([1], True), ([-1], False), ([0, 2], False), ([2, 0], True), ([1, 2], True),
                       ([0, 1, 2], False)):
        tag = "_".join(str(d) for d in dims).replace("-", "m") + ("_keepdim" if keep else "")
        yield op_case(f"sum_dims/{tag}", "sum_dims", [plain([2, 3, 4])], {"dims": dims, "keepdim": keep})
        yield op_case(f"mean_dims/{tag}", "mean_dims", [plain([2, 3, 4])], {"dims": dims, "keepdim": keep})
        for unbiased in (True, False):
            u = "unbiased" if unbiased else "biased"
            yield op_case(f"var_dims/{tag}_{u}", "var_dims", [plain([2, 3, 4])],
                          {"dims": dims, "unbiased": unbiased, "keepdim": keep})
    for op in ("sum_dims", "mean_dims"):
        yield op_case(f"{op}/permuted", op, [permuted([2, 3, 4], [2, 0, 1])], {"dims": [1], "keepdim": False})
        yield op_case(f"{op}/transposed_leading", op, [transposed([5, 3])], {"dims": [0], "keepdim": True})
        yield op_case(f"{op}/narrowed", op, [narrowed([3, 4], 1)], {"dims": [-1], "keepdim": False})
        yield op_case(f"{op}/expanded", op, [expanded([3, 4], [3, 1])], {"dims": [1], "keepdim": True})
        yield op_case(f"{op}/large_rows", op, [pattern([300, 250])], {"dims": [1], "keepdim": False}, grad=False)
        yield op_case(f"{op}/large_columns", op, [pattern([300, 250])], {"dims": [0], "keepdim": True}, grad=False)
    yield op_case("mean/contiguous", "mean", [plain([3, 4])])
    yield op_case("mean/permuted", "mean", [permuted([2, 3, 4], [1, 2, 0])])
    yield op_case("mean/large", "mean", [pattern([300, 250])], grad=False)
    for unbiased in (True, False):
        u = "unbiased" if unbiased else "biased"
        yield op_case(f"var/{u}", "var", [plain([3, 4])], {"unbiased": unbiased})
        yield op_case(f"var/transposed_{u}", "var", [transposed([3, 4])], {"unbiased": unbiased})
        yield op_case(f"var_dims/permuted_{u}", "var_dims", [permuted([2, 3, 4], [2, 0, 1])],
                      {"dims": [0, 2], "unbiased": unbiased, "keepdim": False})
        yield op_case(f"var_dims/narrowed_{u}", "var_dims", [narrowed([4, 3], 0)],
                      {"dims": [0], "unbiased": unbiased, "keepdim": True})
        yield op_case(f"var_dims/expanded_{u}", "var_dims", [expanded([3, 4], [3, 1])],
                      {"dims": [1], "unbiased": unbiased, "keepdim": False})
        yield op_case(f"std_dims/{u}", "std_dims", [transposed([3, 4])],
                      {"dims": [1], "unbiased": unbiased, "keepdim": True})
    # Mean 1000, unit variance: a naive sum of squares in float would lose every digit.
    yield op_case("var_dims/large_offset", "var_dims", [plain([64, 3], offset=1000.0)],
                  {"dims": [0], "unbiased": False, "keepdim": False}, gradcheck=False)
    yield op_case("var/large_offset", "var", [plain([200], offset=1000.0)], {"unbiased": True}, grad=False)
    yield op_case("var_dims/large_rows", "var_dims", [pattern([300, 250])],
                  {"dims": [1], "unbiased": True, "keepdim": False}, grad=False)
    yield op_case("var_dims/large_columns", "var_dims", [pattern([300, 250])],
                  {"dims": [0], "unbiased": False, "keepdim": False}, grad=False)
    # max / min / argmax / argmin
    for op in ("max", "min"):
        yield op_case(f"{op}/contiguous", op, [plain([3, 4])])
        yield op_case(f"{op}/transposed", op, [transposed([3, 4])])
        yield op_case(f"{op}/0dim", op, [plain([])])
        # Ties: PyTorch spreads the gradient of a full max/min evenly over the tied elements.
        yield op_case(f"{op}/ties", op, [plain([2, 3], values=[1.0, 3.0, -2.0, 3.0, -2.0, 0.0])], gradcheck=False)
        yield op_case(f"{op}/large", op, [pattern([300, 250])], grad=False)
        for dim, keep in ((0, False), (1, True), (-1, False)):
            tag = f"dim{dim}".replace("-", "m") + ("_keepdim" if keep else "")
            yield op_case(f"{op}_dim/{tag}", f"{op}_dim", [plain([3, 4])], {"dim": dim, "keepdim": keep})
        yield op_case(f"{op}_dim/permuted", f"{op}_dim", [permuted([2, 3, 4], [2, 0, 1])], {"dim": 1, "keepdim": False})
        yield op_case(f"{op}_dim/narrowed", f"{op}_dim", [narrowed([3, 4], 1)], {"dim": 0, "keepdim": True})
        yield op_case(f"{op}_dim/expanded", f"{op}_dim", [expanded([3, 4], [3, 1])], {"dim": 0, "keepdim": False})
        # Ties along a dim: the gradient goes to the index max/min returns (the first).
        yield op_case(f"{op}_dim/ties", f"{op}_dim", [plain([3, 4], kind="int")], {"dim": 1, "keepdim": False},
                      gradcheck=False)
        yield op_case(f"{op}_dim/large", f"{op}_dim", [pattern([300, 250])], {"dim": 1, "keepdim": False},
                      grad=False)
    for op in ("argmax", "argmin"):
        for dim, keep in ((0, False), (1, True), (-1, False)):
            tag = f"dim{dim}".replace("-", "m") + ("_keepdim" if keep else "")
            yield op_case(f"{op}/{tag}", op, [plain([3, 4])], {"dim": dim, "keepdim": keep})
        yield op_case(f"{op}/permuted", op, [permuted([2, 3, 4], [1, 2, 0])], {"dim": 2, "keepdim": False})
        yield op_case(f"{op}/transposed", op, [transposed([3, 5])], {"dim": 0, "keepdim": False})
        yield op_case(f"{op}/ties_first", op, [plain([4, 5], kind="int")], {"dim": 1, "keepdim": False})
        yield op_case(f"{op}/large_rows", op, [pattern([300, 250])], {"dim": 1, "keepdim": False})
        yield op_case(f"{op}/large_columns", op, [pattern([300, 250])], {"dim": 0, "keepdim": False})
    yield op_case("argmax_all/contiguous", "argmax_all", [plain([3, 4])])
    # sum_to: the broadcast-undoing sum of every binary op's backward (PyTorch's sum_to_size).
    yield op_case("sum_to/leading", "sum_to", [plain([2, 3, 4])], {"shape": [3, 4]})
    yield op_case("sum_to/keep_ones", "sum_to", [plain([2, 3, 4])], {"shape": [1, 3, 1]})
    yield op_case("sum_to/mixed", "sum_to", [plain([2, 3, 4])], {"shape": [3, 1]})
    yield op_case("sum_to/scalar", "sum_to", [plain([2, 3])], {"shape": []})
    yield op_case("sum_to/same", "sum_to", [transposed([3, 4])], {"shape": [3, 4]})
    yield op_case("sum_to/permuted", "sum_to", [permuted([2, 3, 4], [2, 0, 1])], {"shape": [1, 4]})
    yield op_case("sum_to/expanded", "sum_to", [expanded([2, 3, 4], [3, 1])], {"shape": [3, 1]})
    yield op_case("argmax_all/transposed", "argmax_all", [transposed([3, 4])])


def matmul_cases():
    shapes = [
        ("dot", [4], [4]),
        ("vector_matrix", [3], [3, 4]),
        ("matrix_vector", [2, 3], [3]),
        ("matrix_matrix", [2, 3], [3, 4]),
        ("batched", [2, 2, 3], [2, 3, 4]),
        ("batched_matrix", [2, 2, 3], [3, 4]),
        ("matrix_batched", [2, 3], [2, 3, 4]),
        ("vector_batched", [3], [2, 3, 4]),
        ("batched_vector", [2, 2, 3], [3]),
        ("broadcast_batch", [2, 1, 2, 3], [3, 3, 2]),
        ("broadcast_both_batches", [2, 1, 2, 3], [1, 2, 3, 2]),
        ("outer_k1", [3, 1], [1, 4]),
    ]
    for tag, sa, sb in shapes:
        yield op_case(f"matmul/{tag}", "matmul", [plain(sa), plain(sb)])
    yield op_case("matmul/transposed_a", "matmul", [transposed([2, 3]), plain([3, 4])])
    yield op_case("matmul/transposed_b", "matmul", [plain([2, 3]), transposed([3, 4])])
    yield op_case("matmul/transposed_both", "matmul", [transposed([4, 3]), transposed([3, 5])])
    yield op_case("matmul/narrowed_columns_a", "matmul", [narrowed([2, 3], 1, extra=3), plain([3, 4])])
    yield op_case("matmul/narrowed_rows_b", "matmul", [plain([2, 3]), narrowed([3, 4], 0)])
    yield op_case("matmul/narrowed_transposed_b", "matmul",
                  [plain([2, 3]), In([6, 3], [["narrow", 0, 1, 4], ["transpose", 0, 1]])])
    yield op_case("matmul/expanded_rows_a", "matmul", [expanded([2, 3], [1, 3]), plain([3, 4])])
    yield op_case("matmul/expanded_columns_b", "matmul", [plain([2, 3]), expanded([3, 4], [3, 1])])
    yield op_case("matmul/expanded_batch", "matmul", [expanded([4, 2, 3], [1, 2, 3]), plain([4, 3, 2])])
    yield op_case("matmul/permuted_batched", "matmul", [permuted([2, 2, 3], [1, 0, 2]), permuted([2, 3, 4], [2, 0, 1])])
    yield op_case("matmul/transposed_vector_matrix", "matmul", [narrowed([3], 0), transposed([3, 4])])
    yield op_case("matmul/select_matrix", "matmul", [In([3, 2, 4], [["select", 2, 1]]), plain([2, 3])])
    yield op_case("matmul/empty_inner", "matmul", [plain([2, 0]), plain([0, 3])], gradcheck=False)
    yield op_case("matmul/large", "matmul",
                  [pattern([33, 70]), pattern([70, 45], mult=53, add=5, mod=97, shift=48, div=32)], grad=False)
    yield op_case("matmul/large_transposed", "matmul",
                  [In([70, 33], [["transpose", 0, 1]], pattern={"shape": [70, 33], "mult": 41, "add": 3, "mod": 89,
                                                                  "shift": 44, "div": 16}),
                   pattern([70, 45], mult=53, add=5, mod=97, shift=48, div=32)], grad=False)


def softmax_cases():
    for op in ("softmax", "log_softmax"):
        yield op_case(f"{op}/dim1", op, [plain([3, 5])], {"dim": 1})
        yield op_case(f"{op}/dim0", op, [plain([3, 5])], {"dim": 0})
        yield op_case(f"{op}/dim_m1_3d", op, [plain([2, 3, 4])], {"dim": -1})
        yield op_case(f"{op}/dim1_3d_permuted", op, [permuted([2, 3, 4], [2, 0, 1])], {"dim": 1})
        yield op_case(f"{op}/transposed", op, [transposed([3, 5])], {"dim": 1})
        yield op_case(f"{op}/narrowed", op, [narrowed([3, 5], 1)], {"dim": -1})
        # Softmax along the expanded dim would make the base's gradient exactly 0 (pure rounding noise in
        # float); along the other dim it is a real sum over the copies.
        yield op_case(f"{op}/expanded", op, [expanded([3, 4], [1, 4])], {"dim": 1})
        yield op_case(f"{op}/expanded_columns", op, [expanded([3, 4], [3, 1])], {"dim": 0})
        yield op_case(f"{op}/1d", op, [plain([6])], {"dim": 0})
        yield op_case(f"{op}/0dim", op, [plain([])], {"dim": 0})
        # Large logits: subtracting the row maximum keeps exp() finite.
        yield op_case(f"{op}/large_logits", op, [plain([3, 4], scale=3.0, offset=1000.0)], {"dim": 1})
        # Saturated rows (one probability within 1e-9 of 1): forward only, since the gradient there is a
        # difference of nearly equal O(1) terms that float cannot resolve (PyTorch's float result is noise too).
        yield op_case(f"{op}/saturated_logits", op, [plain([3, 4], scale=30.0, offset=1000.0)], {"dim": 1},
                      grad=False)
        yield op_case(f"{op}/minus_inf", op,
                      [plain([2, 3], values=[0.5, -math.inf, 1.0, -math.inf, -math.inf, 2.0])], {"dim": 1},
                      gradcheck=False)
        yield op_case(f"{op}/strided_lines", op, [pattern([40, 30])], {"dim": 0}, grad=False)


def shape_cases():
    yield op_case("reshape/minus_one", "reshape", [plain([2, 3, 4])], {"shape": [4, -1]})
    yield op_case("reshape/to_0dim", "reshape", [plain([1, 1])], {"shape": []})
    yield op_case("reshape/from_0dim", "reshape", [plain([])], {"shape": [1, -1]})
    yield op_case("reshape/transposed_copy", "reshape", [transposed([3, 4])], {"shape": [-1]})
    yield op_case("reshape/permuted", "reshape", [permuted([2, 3, 4], [2, 0, 1])], {"shape": [4, 6]})
    yield op_case("reshape/narrowed", "reshape", [narrowed([3, 4], 1)], {"shape": [2, 6]})
    yield op_case("reshape/expanded", "reshape", [expanded([2, 3, 4], [3, 1])], {"shape": [6, -1]})
    yield op_case("view/minus_one", "view", [plain([2, 3, 4])], {"shape": [-1, 4]})
    yield op_case("view/split_last", "view", [plain([2, 12])], {"shape": [2, 3, -1]})
    # A transposed tensor can still be viewed when only its (contiguous) inner dim is split.
    yield op_case("view/transposed_split", "view", [transposed([6, 4], 0, 1)], {"shape": [3, 2, 4]})
    yield op_case("view/narrowed_rows", "view", [narrowed([3, 4], 0)], {"shape": [3, 2, 2]})
    yield op_case("flatten/all", "flatten", [plain([2, 3, 4])], {"start": 0, "end": -1})
    yield op_case("flatten/middle", "flatten", [plain([2, 3, 4, 2])], {"start": 1, "end": 2})
    yield op_case("flatten/permuted", "flatten", [permuted([2, 3, 4], [1, 0, 2])], {"start": 1, "end": -1})
    yield op_case("flatten/0dim", "flatten", [plain([])], {"start": 0, "end": -1})
    yield op_case("transpose/2d", "transpose", [plain([2, 3])], {"d0": 0, "d1": 1})
    yield op_case("transpose/3d_negative", "transpose", [plain([2, 3, 4])], {"d0": -1, "d1": 0})
    yield op_case("transpose/of_narrowed", "transpose", [narrowed([3, 4], 1)], {"d0": 0, "d1": 1})
    yield op_case("t/contiguous", "t", [plain([2, 3])])
    yield op_case("t/transposed", "t", [transposed([2, 3])])
    yield op_case("permute/3d", "permute", [plain([2, 3, 4])], {"dims": [2, 0, 1]})
    yield op_case("permute/negative_dims", "permute", [plain([2, 3, 4])], {"dims": [-1, -3, -2]})
    yield op_case("permute/of_transposed", "permute", [transposed([2, 3, 4], 0, 2)], {"dims": [1, 2, 0]})
    yield op_case("unsqueeze/front", "unsqueeze", [plain([2, 3])], {"dim": 0})
    yield op_case("unsqueeze/back", "unsqueeze", [plain([2, 3])], {"dim": -1})
    yield op_case("unsqueeze/middle_transposed", "unsqueeze", [transposed([2, 3])], {"dim": 1})
    yield op_case("unsqueeze/0dim", "unsqueeze", [plain([])], {"dim": 0})
    yield op_case("squeeze_dim/size1", "squeeze_dim", [plain([2, 1, 3])], {"dim": 1})
    yield op_case("squeeze_dim/not_size1", "squeeze_dim", [plain([2, 1, 3])], {"dim": 0})
    yield op_case("squeeze_dim/negative_permuted", "squeeze_dim", [permuted([2, 3, 1], [1, 2, 0])], {"dim": -1})
    yield op_case("squeeze/all", "squeeze", [plain([1, 2, 1, 3, 1])])
    yield op_case("squeeze/transposed", "squeeze", [transposed([3, 1])])
    yield op_case("expand/new_leading", "expand", [plain([3, 1])], {"shape": [2, 3, 4]})
    yield op_case("expand/minus_one", "expand", [plain([1, 4])], {"shape": [3, -1]})
    yield op_case("expand/0dim", "expand", [plain([])], {"shape": [2, 2]})
    yield op_case("expand/of_transposed", "expand", [transposed([3, 1])], {"shape": [2, 3, 5]})
    yield op_case("select/dim0", "select", [plain([3, 4])], {"dim": 0, "index": 1})
    yield op_case("select/negative", "select", [plain([2, 3, 4])], {"dim": -1, "index": -2})
    yield op_case("select/of_transposed", "select", [transposed([3, 4])], {"dim": 1, "index": 2})
    yield op_case("select/1d_to_0dim", "select", [plain([5])], {"dim": 0, "index": 3})
    yield op_case("narrow/dim1", "narrow", [plain([3, 5])], {"dim": 1, "start": 1, "length": 3})
    yield op_case("narrow/negative_start", "narrow", [plain([4, 3])], {"dim": 0, "start": -3, "length": 2})
    yield op_case("narrow/of_permuted", "narrow", [permuted([2, 3, 4], [2, 1, 0])],
                  {"dim": 2, "start": 2, "length": 2})
    yield op_case("narrow/empty", "narrow", [plain([3, 4])], {"dim": 1, "start": 4, "length": 0}, gradcheck=False)
    yield op_case("cat/dim0", "cat", [plain([2, 3]), plain([1, 3]), plain([3, 3])], {"dim": 0})
    yield op_case("cat/dim1", "cat", [plain([2, 3]), plain([2, 1])], {"dim": 1})
    yield op_case("cat/dim_m1_views", "cat", [transposed([2, 3]), narrowed([2, 2], 1), expanded([2, 4], [1, 4])],
                  {"dim": -1})
    yield op_case("cat/3d_middle", "cat", [plain([2, 1, 3]), permuted([2, 2, 3], [1, 0, 2])], {"dim": 1})
    yield op_case("cat/single", "cat", [plain([2, 3])], {"dim": 0})
    yield op_case("stack/dim0", "stack", [plain([2, 3]), plain([2, 3])], {"dim": 0})
    yield op_case("stack/dim1", "stack", [plain([2, 3]), transposed([2, 3]), plain([2, 3])], {"dim": 1})
    yield op_case("stack/dim_m1_views", "stack", [narrowed([3, 2], 0), expanded([3, 2], [3, 1])], {"dim": -1})
    yield op_case("stack/0dim", "stack", [plain([]), plain([])], {"dim": 0})
    yield op_case("clone/contiguous", "clone", [plain([2, 3])])
    yield op_case("clone/transposed", "clone", [transposed([2, 3])])
    yield op_case("clone/expanded", "clone", [expanded([2, 3], [1, 3])])
    yield op_case("contiguous/contiguous", "contiguous", [plain([2, 3])])
    yield op_case("contiguous/permuted", "contiguous", [permuted([2, 3, 4], [1, 2, 0])])
    yield op_case("contiguous/narrowed", "contiguous", [narrowed([3, 4], 1)])


def creation_cases():
    yield op_case("zeros/2d", "zeros", [], {"shape": [2, 3]})
    yield op_case("zeros/0dim", "zeros", [], {"shape": []})
    yield op_case("zeros/empty", "zeros", [], {"shape": [0, 4]})
    yield op_case("ones/3d", "ones", [], {"shape": [2, 1, 3]})
    yield op_case("ones/0dim", "ones", [], {"shape": []})
    yield op_case("full/2d", "full", [], {"shape": [3, 2], "value": -1.25})
    yield op_case("full/1d", "full", [], {"shape": [4], "value": 7.0})
    yield op_case("arange/n5", "arange", [], {"n": 5})
    yield op_case("arange/n0", "arange", [], {"n": 0})
    yield op_case("arange_range/step", "arange_range", [], {"start": 1.0, "end": 4.0, "step": 0.5})
    yield op_case("arange_range/uneven", "arange_range", [], {"start": 0.0, "end": 1.0, "step": 0.3})
    yield op_case("arange_range/negative", "arange_range", [], {"start": 3.0, "end": -2.0, "step": -1.5})


# ---- printing -------------------------------------------------------------------------------------------

def print_case(name, x, requires_grad=False, steps=()):
    """str(x) under PyTorch's default dtype float32 (the generator runs with float64 as default)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        shown = apply_steps(x.detach(), steps).clone()
        if requires_grad:
            shown.requires_grad_(True)
        text = str(shown)
    finally:
        torch.set_default_dtype(previous)
    return f"print/{name}", {"call": f"str({'x' if not steps else steps_str('x', steps)})"
                                     + (" with requires_grad=True" if requires_grad else ""),
                             "params": {"str": text, "requires_grad": requires_grad, "views": list(steps)},
                             "tensors": {"x": x.detach()}}


def print_cases():
    g = torch.Generator()
    g.manual_seed(2024)
    f32, f64, i64 = torch.float32, torch.float64, torch.int64
    a9 = torch.arange(9, dtype=f64).reshape(3, 3)
    normalized = ((a9 - a9.mean(0)) / a9.std(0, unbiased=False)).float()
    yield print_case("float_integer_valued", torch.tensor([[1., 2., 3.], [4., 5., 6.]], dtype=f32))
    yield print_case("float_integer_negative", torch.tensor([-1., 0., 10., -100.], dtype=f32))
    yield print_case("float_integer_sci_ratio", torch.tensor([1., 10000.], dtype=f32))
    yield print_case("float_integer_sci_large", torch.tensor([2e9, 3e9], dtype=f32))
    yield print_case("float_integer_1e8", torch.tensor([1e8, 5.], dtype=f32))
    yield print_case("float_normalized_3x3", normalized)
    yield print_case("float_mixed", torch.randn(3, 4, generator=g, dtype=f32))
    yield print_case("float_mixed_wide", torch.randn(4, 3, generator=g, dtype=f32) * 100)
    yield print_case("float_sci_small", torch.tensor([1e-5, 1.0, 0.5], dtype=f32))
    yield print_case("float_sci_ratio", torch.tensor([[0.001, 2.5], [-3.25, 0.5]], dtype=f32))
    yield print_case("float_sci_large", torch.tensor([1.5e9, -2.25], dtype=f32))
    yield print_case("float_zeros", torch.zeros(2, 2, dtype=f32))
    yield print_case("float_nonfinite", torch.tensor([1.5, math.nan, math.inf, -math.inf, 0.0], dtype=f32))
    yield print_case("float_integer_inf", torch.tensor([1., math.inf], dtype=f32))
    yield print_case("float_integer_nan", torch.tensor([[2., math.nan], [-1., 0.]], dtype=f32))
    yield print_case("float_all_nan", torch.tensor([math.nan, math.nan], dtype=f32))
    yield print_case("float_zero_and_inf", torch.tensor([0., -math.inf], dtype=f32))
    yield print_case("float_negative_zero", torch.tensor([-0.0, 0.5, 1.25], dtype=f32))
    yield print_case("float_sci_with_zero", torch.tensor([0.0, 1e-6, 3.0], dtype=f32))
    yield print_case("int64", torch.tensor([[1, -20, 300], [4, 5, 6]], dtype=i64))
    yield print_case("int64_large", torch.tensor([123456789012, -1, 0], dtype=i64))
    yield print_case("double", torch.tensor([1.5, 2.25, -0.125], dtype=f64))
    yield print_case("double_integer_valued", torch.tensor([[1., 2.], [3., 4.]], dtype=f64))
    yield print_case("double_sci", torch.tensor([1e-10, 1.0], dtype=f64))
    yield print_case("scalar_float", torch.tensor(3.5, dtype=f32))
    yield print_case("scalar_float_integer", torch.tensor(-2.0, dtype=f32))
    yield print_case("scalar_float_sci", torch.tensor(1.5e-7, dtype=f32))
    yield print_case("scalar_int64", torch.tensor(7, dtype=i64))
    yield print_case("scalar_double", torch.tensor(0.1, dtype=f64))
    yield print_case("empty_float", torch.zeros(0, dtype=f32))
    yield print_case("empty_2d_float", torch.zeros(2, 0, dtype=f32))
    yield print_case("empty_int64", torch.zeros(0, dtype=i64))
    yield print_case("empty_3d_int64", torch.zeros(0, 3, 1, dtype=i64))
    yield print_case("empty_double", torch.zeros(0, dtype=f64))
    yield print_case("three_d", torch.randn(2, 3, 4, generator=g, dtype=f32))
    yield print_case("four_d", torch.randn(2, 1, 2, 3, generator=g, dtype=f32))
    yield print_case("three_d_int64", torch.arange(24, dtype=i64).reshape(2, 3, 4) - 5)
    yield print_case("long_row_wraps", torch.randn(30, generator=g, dtype=f32))
    yield print_case("long_rows_2d", torch.randn(3, 25, generator=g, dtype=f32))
    yield print_case("summarized_arange", torch.arange(2000, dtype=f32))
    yield print_case("summarized_1d_mixed", torch.randn(1500, generator=g, dtype=f32))
    yield print_case("summarized_2d", torch.randn(40, 40, generator=g, dtype=f32))
    yield print_case("summarized_3d", torch.randn(10, 10, 11, generator=g, dtype=f32))
    yield print_case("summarized_rows_only", torch.randn(1001, 1, generator=g, dtype=f32))
    yield print_case("summarized_int64", torch.arange(1200, dtype=i64).reshape(3, 400))
    yield print_case("summarized_double", torch.randn(2000, generator=g, dtype=f64))
    yield print_case("requires_grad", torch.randn(2, 3, generator=g, dtype=f32), requires_grad=True)
    yield print_case("requires_grad_scalar", torch.tensor(2.5, dtype=f32), requires_grad=True)
    yield print_case("requires_grad_empty", torch.zeros(0, dtype=f32), requires_grad=True)
    yield print_case("requires_grad_wrapped", torch.randn(3, 40, generator=g, dtype=f32), requires_grad=True)
    for n in (5, 6, 7, 8):  # the suffixes move to their own line once the last line is too long
        yield print_case(f"double_requires_grad_{n}", torch.randn(n, generator=g, dtype=f64), requires_grad=True)
    yield print_case("transposed_view", torch.randn(3, 2, generator=g, dtype=f32), steps=[["transpose", 0, 1]])
    yield print_case("narrowed_view", torch.arange(12, dtype=i64).reshape(3, 4), steps=[["narrow", 1, 1, 2]])
    yield print_case("expanded_view", torch.tensor([[0.25], [-1.5]], dtype=f32), steps=[["expand", [2, 3]]])


def cases():
    for group in (binary_cases, scalar_cases, unary_cases, comparison_cases, reduction_cases, matmul_cases,
                  softmax_cases, shape_cases, creation_cases, print_cases):
        yield from group()
