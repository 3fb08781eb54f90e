"""The book's kernel regression data (earlier edition, section 10.2): 50 noisy points of 2 sin x + x^0.8.

Train rows: each training point is a query whose keys and values are the other 49 points (the
book's leave-one-out tiling); val rows: the 50 test queries 0, 0.1, ..., 4.9, keys and values all
training points, and the noiseless truth as the target. Inputs (query, keys, values), target y.
"""

from __future__ import annotations

import torch

from d2ltui.data.base import DataModule
from d2ltui.data.common import generator

NUM_TRAIN, NOISE = 50, 0.5


def truth(x: torch.Tensor) -> torch.Tensor:
    """The earlier edition's f(x) = 2 sin(x) + x^0.8."""
    return 2 * torch.sin(x) + x ** 0.8


def load_kernel_regression(cfg, task: str) -> DataModule:
    n = cfg.num_train or NUM_TRAIN
    g = generator(cfg.seed, 31)
    x_train, _ = torch.sort(torch.rand(n, generator=g) * 5)
    y_train = truth(x_train) + torch.randn(n, generator=g) * NOISE
    x_test = torch.arange(0, 5, 0.1)
    others = ~torch.eye(n, dtype=torch.bool)
    keys = x_train.repeat(n, 1)[others].reshape(n, n - 1)
    values = y_train.repeat(n, 1)[others].reshape(n, n - 1)
    m = len(x_test)
    train = (x_train[:, None], keys, values, y_train[:, None])
    val = (x_test[:, None], x_train.repeat(m, 1), y_train.repeat(m, 1), truth(x_test)[:, None])
    return DataModule(name=cfg.name, task=task, train=train, val=val, input_shape=((1, 1), (1, n - 1), (1, n - 1)),
                      info={"x_train": x_train.tolist(), "y_train": y_train.tolist()})
