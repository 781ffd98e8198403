"""Helpers shared by the fixture modules: seeded float32-representable inputs."""
import torch


def seeded(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def randn(shape, gen, scale=1.0, offset=0.0):
    """Normal samples rounded to float32 (exact in float and double), returned as float64."""
    x = torch.randn(*shape, generator=gen, dtype=torch.float64) * scale + offset
    return x.float().double()


def rand(shape, gen, low=0.0, high=1.0):
    x = torch.rand(*shape, generator=gen, dtype=torch.float64) * (high - low) + low
    return x.float().double()


def lenet_bn():
    """d2l's LeNet-BN as a torch.nn.Sequential (tests/support/lenet_bn.hpp is hnn's): state-dict keys 0.weight, ..."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(), nn.Linear(84, 10))
