"""Data for generative models: the book's 2-D Gaussian, procedural colour sprites, and any image set made
ready for a GAN (64x64, values in [-1, 1] as the book's Normalize(0.5, 0.5))."""

from __future__ import annotations

import torch

from d2ltui.data.base import DataModule
from d2ltui.data.common import generator, sizes
from d2ltui.data.shapes import render
from d2ltui.data.transforms import ImagePrepare

GAUSS_A = ((1.0, 2.0), (-0.1, 0.5))  # section 20.1: data = X A + b with X ~ N(0, I)
GAUSS_B = (1.0, 2.0)
GAN_SIDE = 64  # DCGAN's image side


def load_gaussian_2d(cfg, task: str) -> DataModule:
    """The book's 1,000 points X A + b (and 200 more for validation), drawn from the data seed."""
    num_train, num_val = sizes(cfg, 1000, 200)
    A, b = torch.tensor(GAUSS_A), torch.tensor(GAUSS_B)
    g = generator(cfg.seed, 20)
    X = torch.normal(0.0, 1.0, (num_train + num_val, 2), generator=g)
    data = X @ A + b
    return DataModule(name=cfg.name, task=task, train=(data[:num_train],), val=(data[num_train:],),
                      input_shape=((1, 2),), model_knobs={"data_dim": 2},
                      info={"A": [list(r) for r in GAUSS_A], "b": list(GAUSS_B), "mean": list(GAUSS_B)})


def gan_images(cfg, task: str, train: torch.Tensor, val: torch.Tensor, size: int, channels: int) -> DataModule:
    """Images (N, C, H, W) for a GAN: resized to data.resize (64 when 0), data.channels (3 when 0), in [-1, 1]."""
    side, out_c = cfg.resize or GAN_SIDE, cfg.channels or 3
    return DataModule(
        name=cfg.name, task=task, train=(train,), val=(val,), input_shape=((1, out_c, side, side),),
        model_knobs={"in_channels": out_c},
        prepare=ImagePrepare(size, side, out_c, cfg.augment, (0.5,) * 3, (0.5,) * 3),
        info={"size": side, "normalize": "[-1, 1]"})


def load_sprites(cfg, task: str) -> DataModule:
    """Small coloured figures (disks, rings, stars, ... at random place, size, turn and colours), 64x64 RGB."""
    num_train, num_val = sizes(cfg, 4096, 256)
    train, _ = render(num_train, GAN_SIDE, 3, cfg.seed, 30)
    val, _ = render(num_val, GAN_SIDE, 3, cfg.seed, 31)
    return gan_images(cfg, task, train, val, GAN_SIDE, 3)
