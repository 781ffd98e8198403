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
