"""Optimiser and scheduler fixtures.

Trajectories: a small model Linear(4,3) -> tanh -> Linear(3,2) with given initial weights, fixed data
(8 samples) and mse_loss; 10 steps of zero_grad / forward / backward / step for SGD (plain, momentum,
dampening, nesterov, weight_decay), Adam (plain, amsgrad, weight_decay, betas/eps), AdamW (default decay,
amsgrad), and runs that change the learning rate before step 5. After every step: every parameter and the
loss that step saw. Schedulers: the lr after every ReduceLROnPlateau.step(metric) for given metric
sequences (mode min/max, threshold rel/abs, cooldown, min_lr) and after every StepLR.step().
"""
import torch
import torch.nn.functional as F

from _common import randn, rand, seeded

STEPS = 10
PARAM_NAMES = ("0.weight", "0.bias", "2.weight", "2.bias")

OPTIMIZERS = {
    "sgd_plain": ("SGD", {"lr": 0.1}),
    "sgd_momentum": ("SGD", {"lr": 0.1, "momentum": 0.9}),
    "sgd_dampening": ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    "sgd_nesterov": ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    "sgd_weight_decay": ("SGD", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.05}),
    "adam": ("Adam", {"lr": 0.01}),
    "adam_amsgrad": ("Adam", {"lr": 0.02, "amsgrad": True}),
    "adam_weight_decay": ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    "adam_betas_eps": ("Adam", {"lr": 0.01, "betas": [0.8, 0.95], "eps": 1e-3}),
    "adamw": ("AdamW", {"lr": 0.01}),
    "adamw_amsgrad": ("AdamW", {"lr": 0.02, "weight_decay": 0.1, "amsgrad": True}),
    "sgd_momentum_set_lr": ("SGD", {"lr": 0.1, "momentum": 0.9}),
    "adam_set_lr": ("Adam", {"lr": 0.01}),
}
SET_LR = {"sgd_momentum_set_lr": 0.02, "adam_set_lr": 0.05}  # applied before step 5


def model_and_data(gen):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(randn(tuple(p.shape), gen, scale=0.6))
    x = randn((8, 4), gen)
    y = randn((8, 2), gen)
    return model, x, y


def trajectory(name, kind, options):
    gen = seeded(21)
    model, x, y = model_and_data(gen)
    tensors = {"x": x, "y": y}
    for pname, p in zip(PARAM_NAMES, model.parameters()):
        tensors[f"{pname}.init"] = p.detach().clone()
    kwargs = dict(options)
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    opt = getattr(torch.optim, kind)(model.parameters(), **kwargs)
    losses = []
    for k in range(STEPS):
        if name in SET_LR and k == 5:
            for g in opt.param_groups:
                g["lr"] = SET_LR[name]
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        for pname, p in zip(PARAM_NAMES, model.parameters()):
            tensors[f"{pname}.step{k}"] = p.detach().clone()
    tensors["losses"] = torch.tensor(losses)
    params = {"optimizer": kind, "options": options, "steps": STEPS, "set_lr": SET_LR.get(name), "set_lr_at": 5}
    call = (f"torch.optim.{kind}(model.parameters(), **{options}); model = Sequential(Linear(4,3), Tanh(), "
            f"Linear(3,2)).double(); {STEPS} x (zero_grad; F.mse_loss(model(x), y).backward(); step)")
    return {"call": call, "params": params, "tensors": tensors}


PLATEAU = {
    # name: (options, metrics)
    "plateau_min_rel": ({"mode": "min", "patience": 2},
                        [1.0, 0.9, 0.9, 0.9, 0.9, 0.85, 0.85, 0.8499, 0.8499, 0.8499, 0.8, 0.81, 0.82, 0.83, 0.7,
                         0.7, 0.7, 0.7, 0.7, 0.7]),
    "plateau_min_abs_cooldown": ({"mode": "min", "patience": 1, "threshold": 0.05, "threshold_mode": "abs",
                                  "cooldown": 2, "factor": 0.5},
                                 [1.0, 0.97, 0.96, 0.9, 0.89, 0.88, 0.87, 0.8, 0.79, 0.78, 0.77, 0.76, 0.6, 0.59,
                                  0.58, 0.57, 0.56, 0.55]),
    "plateau_max_rel_min_lr": ({"mode": "max", "patience": 0, "factor": 0.3, "min_lr": 0.05},
                               [0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.65, 0.64, 0.9, 0.9, 0.9, 0.9, 0.9]),
    "plateau_max_abs": ({"mode": "max", "patience": 3, "threshold": 0.01, "threshold_mode": "abs", "cooldown": 1,
                         "min_lr": 0.001, "eps": 1e-8},
                        [0.1, 0.105, 0.2, 0.205, 0.209, 0.21, 0.215, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3,
                         0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]),
    "plateau_default_nan": ({}, [1.0] + [float("nan")] * 12 + [0.5, 0.4]),
    "plateau_eps_skips": ({"mode": "min", "patience": 0, "factor": 0.5, "eps": 0.2},
                          [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
}


def plateau_case(options, metrics):
    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **options)
    lrs = []
    for m in metrics:
        sched.step(m)
        lrs.append(opt.param_groups[0]["lr"])
    call = f"ReduceLROnPlateau(SGD([p], lr=1.0), **{options}); per metric: step(metric); lr"
    return {"call": call, "params": {"options": options, "initial_lr": 1.0},
            "tensors": {"metrics": torch.tensor(metrics), "lrs": torch.tensor(lrs)}}


def step_lr_case(step_size, gamma, epochs):
    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([p], lr=0.5)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(epochs):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    call = f"StepLR(SGD([p], lr=0.5), step_size={step_size}, gamma={gamma}); lr before and after each step()"
    return {"call": call, "params": {"step_size": step_size, "gamma": gamma, "initial_lr": 0.5},
            "tensors": {"lrs": torch.tensor(lrs)}}


def cases():
    for name, (kind, options) in OPTIMIZERS.items():
        yield f"traj_{name}", trajectory(name, kind, options)
    for name, (options, metrics) in PLATEAU.items():
        yield name, plateau_case(options, metrics)
    yield "step_lr_3_0.5", step_lr_case(3, 0.5, 10)
    yield "step_lr_1_default", step_lr_case(1, 0.1, 5)
