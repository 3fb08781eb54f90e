"""Embedded numeric sets: the book's synthetic linear regression and 2-D point classification."""

from __future__ import annotations

import math

import torch

from d2ltui.data.base import DataModule
from d2ltui.data.common import generator, sizes

TRUE_W = (2.0, -3.4)
TRUE_B = 4.2
NOISE = 0.01


def load_regression(cfg, task: str) -> DataModule:
    """y = Xw + b + N(0, 0.01^2), X ~ N(0, 1), as in the book's SyntheticRegressionData (1000/1000)."""
    num_train, num_val = sizes(cfg, 1000, 1000)
    g = generator(cfg.seed)
    w = torch.tensor(TRUE_W)
    n = num_train + num_val
    X = torch.randn(n, len(TRUE_W), generator=g)
    noise = torch.randn(n, 1, generator=g) * NOISE
    y = X @ w.reshape(-1, 1) + TRUE_B + noise
    return DataModule(
        name=cfg.name, task=task, train=(X[:num_train], y[:num_train]), val=(X[num_train:], y[num_train:]),
        input_shape=((1, len(TRUE_W)),), model_knobs={"in_features": len(TRUE_W)},
        info={"true_w": list(TRUE_W), "true_b": TRUE_B, "noise": NOISE})


WD_FEATURES, WD_W, WD_B = 200, 0.01, 0.05  # the book's weight-decay data (section 3.7)


def load_weight_decay(cfg, task: str) -> DataModule:
    """y = 0.05 + sum_i 0.01 x_i + N(0, 0.01^2) over 200 features, 20 train / 100 val: few examples, many inputs."""
    num_train, num_val = sizes(cfg, 20, 100)
    g = generator(cfg.seed)
    n = num_train + num_val
    X = torch.randn(n, WD_FEATURES, generator=g)
    noise = torch.randn(n, 1, generator=g) * NOISE
    y = X @ torch.full((WD_FEATURES, 1), WD_W) + WD_B + noise
    return DataModule(
        name=cfg.name, task=task, train=(X[:num_train], y[:num_train]), val=(X[num_train:], y[num_train:]),
        input_shape=((1, WD_FEATURES),), model_knobs={"in_features": WD_FEATURES},
        info={"true_w": [WD_W] * WD_FEATURES, "true_b": WD_B, "noise": NOISE})


def _moons(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    y = torch.randint(0, 2, (n,), generator=g)
    t = torch.rand(n, generator=g) * math.pi
    x1 = torch.where(y == 0, torch.cos(t), 1 - torch.cos(t))
    x2 = torch.where(y == 0, torch.sin(t), 0.5 - torch.sin(t))
    X = torch.stack([x1, x2], 1) + 0.1 * torch.randn(n, 2, generator=g)
    return X, y


def _circles(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    y = torch.randint(0, 2, (n,), generator=g)
    t = torch.rand(n, generator=g) * 2 * math.pi
    r = torch.where(y == 0, torch.full((n,), 1.0), torch.full((n,), 0.5))
    X = torch.stack([r * torch.cos(t), r * torch.sin(t)], 1) + 0.08 * torch.randn(n, 2, generator=g)
    return X, y


def _spirals(n: int, g: torch.Generator, arms: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    y = torch.randint(0, arms, (n,), generator=g)
    r = torch.rand(n, generator=g)
    t = r * 4.0 + y * (2 * math.pi / arms) + 0.2 * torch.randn(n, generator=g)
    X = torch.stack([r * torch.sin(t), r * torch.cos(t)], 1)
    return X, y


def _xor(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    X = torch.rand(n, 2, generator=g) * 2 - 1
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).long()
    return X + 0.05 * torch.randn(n, 2, generator=g), y


POINTS = {"moons": (_moons, 2), "circles": (_circles, 2), "spirals": (_spirals, 3), "xor": (_xor, 2)}


def load_points(cfg, task: str) -> DataModule:
    """2-D points with integer labels (1000 train / 500 val by default), float32 features."""
    make, num_classes = POINTS[cfg.name]
    num_train, num_val = sizes(cfg, 1000, 500)
    X, y = make(num_train + num_val, generator(cfg.seed))
    return DataModule(
        name=cfg.name, task=task, train=(X[:num_train], y[:num_train]), val=(X[num_train:], y[num_train:]),
        input_shape=((1, 2),), model_knobs={"in_features": 2, "num_classes": num_classes},
        classes=[str(c) for c in range(num_classes)])
