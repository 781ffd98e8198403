"""Layer fixtures (issue 4, items 3 and 6): Linear, Conv2d, AvgPool2d, MaxPool2d and the activations.

Each case runs the PyTorch module with given float32-representable weights in double, takes
loss = sum(out * r) for a random r, and records the output and the gradients of the input, weight and
bias, plus the module's repr. Model cases record state_dict() keys/shapes and print(model) of the LeNet-BN
Sequential and the contract's models. The C++ tests replay every case in float and in double.
"""
import torch

from _common import lenet_bn, randn, seeded

F = torch.nn.functional


def run_module(module, x, gen, with_weights=True):
    """Sets random weights on `module`, runs it on x and backpropagates sum(out * r)."""
    tensors = {}
    module = module.double()
    if with_weights:
        with torch.no_grad():
            for name, p in module.named_parameters():
                p.copy_(randn(tuple(p.shape), gen, scale=0.5))
                tensors[name] = p.detach().clone()
    x = x.clone().requires_grad_(True)
    out = module(x)
    r = randn(tuple(out.shape), gen)
    (out * r).sum().backward()
    tensors.update({"x": x.detach(), "r": r, "y": out.detach(), "dx": x.grad.detach()})
    for name, p in module.named_parameters():
        tensors["d" + name] = p.grad.detach()
    return tensors


def linear_cases(seed):
    for name, (in_f, out_f, bias, shape) in {
        "linear_bias": (5, 3, True, (4, 5)),
        "linear_nobias": (6, 4, False, (3, 6)),
        "linear_3d_input": (5, 2, True, (2, 3, 5)),
        "linear_1d_input": (4, 3, True, (4,)),
    }.items():
        seed += 1
        gen = seeded(seed)
        m = torch.nn.Linear(in_f, out_f, bias=bias)
        x = randn(shape, gen)
        tensors = run_module(m, x, gen)
        yield name, {"call": f"m = torch.nn.Linear({in_f}, {out_f}, bias={bias}).double(); out = m(x); "
                             "(out * r).sum().backward()",
                     "params": {"in_features": in_f, "out_features": out_f, "bias": bias, "repr": repr(m)},
                     "tensors": tensors}


def conv_cases(seed):
    configs = {
        # name: (in, out, kernel, stride, padding, bias, input shape)
        "conv_basic": (3, 4, (3, 3), (1, 1), (0, 0), True, (2, 3, 7, 6)),
        "conv_stride2_pad1": (3, 5, (3, 3), (2, 2), (1, 1), True, (2, 3, 8, 7)),
        "conv_nonsquare": (2, 3, (2, 4), (2, 1), (1, 0), True, (2, 2, 6, 7)),
        "conv_nobias": (2, 3, (2, 2), (1, 1), (0, 1), False, (3, 2, 5, 5)),
        "conv_pointwise": (4, 5, (1, 1), (1, 1), (0, 0), True, (2, 4, 3, 3)),
        "conv_lenet1": (1, 6, (5, 5), (1, 1), (0, 0), True, (3, 1, 12, 12)),
        "conv_stride3_pad2": (2, 2, (3, 2), (3, 2), (2, 1), True, (2, 2, 7, 8)),
        "conv_unbatched": (3, 2, (3, 3), (1, 1), (1, 1), True, (3, 5, 5)),
    }
    for name, (cin, cout, k, s, p, bias, shape) in configs.items():
        seed += 1
        gen = seeded(seed)
        m = torch.nn.Conv2d(cin, cout, k, stride=s, padding=p, bias=bias)
        x = randn(shape, gen)
        tensors = run_module(m, x, gen)
        yield name, {"call": f"m = torch.nn.Conv2d({cin}, {cout}, {k}, stride={s}, padding={p}, bias={bias})"
                             ".double(); out = m(x); (out * r).sum().backward()",
                     "params": {"in_channels": cin, "out_channels": cout, "kernel": list(k), "stride": list(s),
                                "padding": list(p), "bias": bias, "repr": repr(m)},
                     "tensors": tensors}


def pool_cases(seed):
    configs = {
        # name: (cls, kernel, stride, padding, input shape, ties)
        "avgpool_k2s2": (torch.nn.AvgPool2d, 2, 2, 0, (2, 3, 6, 6), False),
        "avgpool_k3s2_overlap": (torch.nn.AvgPool2d, 3, 2, 0, (2, 2, 7, 7), False),
        "avgpool_nonsquare_pad": (torch.nn.AvgPool2d, (2, 3), (1, 2), (1, 1), (2, 2, 5, 6), False),
        "avgpool_unbatched": (torch.nn.AvgPool2d, 2, 1, 0, (3, 4, 4), False),
        "maxpool_k2s2": (torch.nn.MaxPool2d, 2, 2, 0, (2, 3, 6, 6), False),
        "maxpool_k3s2_overlap": (torch.nn.MaxPool2d, 3, 2, 0, (2, 2, 7, 7), False),
        "maxpool_k3s2_ties": (torch.nn.MaxPool2d, 3, 2, 0, (2, 2, 7, 7), True),
        "maxpool_k2s2_ties": (torch.nn.MaxPool2d, 2, 2, 0, (1, 2, 6, 6), True),
        "maxpool_nonsquare_pad": (torch.nn.MaxPool2d, (3, 2), (2, 1), (1, 1), (2, 2, 6, 5), False),
        "maxpool_unbatched": (torch.nn.MaxPool2d, 2, 1, 0, (3, 4, 4), True),
    }
    for name, (cls, k, s, p, shape, ties) in configs.items():
        seed += 1
        gen = seeded(seed)
        m = cls(k, s, p)
        # Ties: small integers, so most windows hold several equal maxima.
        x = torch.randint(0, 3, shape, generator=gen).double() if ties else randn(shape, gen)
        tensors = run_module(m, x, gen, with_weights=False)
        yield name, {"call": f"m = torch.nn.{cls.__name__}({k}, {s}, {p}); out = m(x); (out * r).sum().backward()",
                     "params": {"kernel": list(torch.nn.modules.utils._pair(k)),
                                "stride": list(torch.nn.modules.utils._pair(s)),
                                "padding": list(torch.nn.modules.utils._pair(p)),
                                "kernel_is_int": isinstance(k, int), "stride_is_int": isinstance(s, int),
                                "padding_is_int": isinstance(p, int), "repr": repr(m)},
                     "tensors": tensors}


def activation_cases(seed):
    configs = {
        "act_relu": (torch.nn.ReLU(), (4, 5)),
        "act_sigmoid": (torch.nn.Sigmoid(), (4, 5)),
        "act_tanh": (torch.nn.Tanh(), (4, 5)),
        "act_softmax_dim1": (torch.nn.Softmax(dim=1), (3, 4, 2)),
        "act_log_softmax_dim1": (torch.nn.LogSoftmax(dim=1), (3, 4, 2)),
        "act_softmax_dim-1": (torch.nn.Softmax(dim=-1), (3, 5)),
        "act_flatten": (torch.nn.Flatten(), (2, 3, 2, 2)),
        "act_flatten_1_2": (torch.nn.Flatten(1, 2), (2, 3, 2, 2)),
    }
    for name, (m, shape) in configs.items():
        seed += 1
        gen = seeded(seed)
        x = randn(shape, gen, scale=2.0)
        if name == "act_relu":
            x[0, :2] = 0.0  # relu'(0) = 0 in PyTorch
        tensors = run_module(m, x, gen, with_weights=False)
        yield name, {"call": f"m = torch.nn.{m!r}; out = m(x); (out * r).sum().backward()",
                     "params": {"repr": repr(m)}, "tensors": tensors}


def contract_lenet():
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=0), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.MaxPool2d(2, 2), nn.Flatten(),
        nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Tanh(), nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
        nn.Linear(84, 10), nn.LogSoftmax(1))


def contract_mlp():
    nn = torch.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.BatchNorm1d(256), nn.Dropout(0.25),
                         nn.Linear(256, 10))


def odd_layers():
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(3, 8, (3, 5), stride=2, padding=1, bias=False), nn.MaxPool2d(3, 2), nn.AvgPool2d((2, 3), (1, 2)),
        nn.Softmax(dim=1), nn.Dropout(0.5), nn.Linear(10, 3, bias=False), nn.Flatten(0, 2))


def model_cases():
    for name, make in (("model_lenet_bn", lenet_bn), ("model_contract_lenet", contract_lenet),
                       ("model_contract_mlp", contract_mlp), ("model_odd_layers", odd_layers)):
        model = make()
        sd = model.state_dict()
        yield name, {"call": f"model = {make.__name__}(); list(model.state_dict().items()); print(model)",
                     "params": {"keys": list(sd.keys()), "shapes": [list(v.shape) for v in sd.values()],
                                "repr": repr(model)},
                     "tensors": {}}


def cases():
    yield from linear_cases(100)
    yield from conv_cases(200)
    yield from pool_cases(300)
    yield from activation_cases(400)
    yield from model_cases()
