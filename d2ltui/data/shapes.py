"""Procedural shape images: 10 shape kinds at random position, size, rotation and shade, any resolution.

The class is the kind of shape; position, size, rotation, fore/background shade (or colour
with 3 channels) and pixel noise are random, so no fixed pixel template separates the
classes and a linear model stays weak while a small CNN learns them. Rendering is vectorised
(one mask formula per class over all its images), deterministic from the seed, and chunked so
memory stays bounded at 224 x 224.
"""

from __future__ import annotations

import contextlib
import math

import torch

from d2ltui.data.base import DataModule
from d2ltui.data.common import generator
from d2ltui.data.transforms import ImagePrepare

CLASSES = ["disk", "ring", "square", "frame", "triangle", "plus", "star", "bar", "half-disk", "ell"]
SQRT3 = math.sqrt(3.0)
NOISE = 0.05  # std of the uniform pixel noise


def _mask(kind: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Inside-test of shape `kind` in unit coordinates (the shape fits the unit disk)."""
    r = torch.sqrt(u * u + v * v)
    m = torch.maximum(u.abs(), v.abs())
    if kind == 0:
        return r <= 0.95
    if kind == 1:
        return (r <= 0.95) & (r >= 0.55)
    if kind == 2:
        return m <= 0.68
    if kind == 3:
        return (m <= 0.7) & (m >= 0.42)
    if kind == 4:
        return (v >= -0.5) & (v <= 1 - SQRT3 * u.abs())
    if kind == 5:
        return ((u.abs() <= 0.22) & (v.abs() <= 0.9)) | ((v.abs() <= 0.22) & (u.abs() <= 0.9))
    if kind == 6:
        return r <= 0.5 + 0.42 * torch.cos(5 * torch.atan2(v, u))
    if kind == 7:
        return (u.abs() <= 0.95) & (v.abs() <= 0.25)
    if kind == 8:
        return (r <= 0.95) & (v >= -0.05)
    return ((u >= -0.7) & (u <= -0.25) & (v.abs() <= 0.8)) | ((u >= -0.7) & (u <= 0.7) & (v >= 0.35) & (v <= 0.8))


@contextlib.contextmanager
def one_thread():
    """Elementwise rendering gains little from threads and loses much when the CPU is busy."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def render(n: int, size: int = 28, channels: int = 1, seed: int = 0, salt: int = 0
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """n images (n, channels, size, size) uint8 and their labels (n,) int64."""
    with one_thread():
        return _render(n, size, channels, seed, salt)


def _render(n: int, size: int, channels: int, seed: int, salt: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = generator(seed, 100 + salt)
    y = torch.randint(0, len(CLASSES), (n,), generator=g)
    radius = (torch.rand(n, generator=g) * 0.17 + 0.2) * size  # 0.2 .. 0.37 of the side
    margin = radius / size
    cx = (margin + torch.rand(n, generator=g) * (1 - 2 * margin)) * size
    cy = (margin + torch.rand(n, generator=g) * (1 - 2 * margin)) * size
    angle = torch.rand(n, generator=g) * 2 * math.pi
    fg = torch.rand(n, channels, generator=g) * 0.5 + 0.5
    bg = torch.rand(n, channels, generator=g) * 0.35
    swap = torch.rand(n, 1, generator=g) < 0.5 if channels == 3 else torch.zeros(n, 1, dtype=torch.bool)
    fg, bg = torch.where(swap, bg, fg), torch.where(swap, fg, bg)  # colour: dark on light too
    noise_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=g))
    out = torch.empty(n, channels, size, size, dtype=torch.uint8)
    coords = torch.arange(size, dtype=torch.float32) + 0.5
    chunk = max(1, 2_000_000 // (size * size))
    ng = torch.Generator().manual_seed(noise_seed)
    # pixel noise from a bank of maps (a fresh draw per pixel costs more than all the rest at 224 px)
    bank = torch.rand(min(n, max(64, 2_000_000 // (size * size))), size, size, generator=ng)
    bank = bank.sub_(0.5).mul_(NOISE * math.sqrt(12))
    pick = torch.randint(0, len(bank), (n,), generator=ng)
    for start in range(0, n, chunk):
        idx = torch.arange(start, min(n, start + chunk))
        order = torch.argsort(y[idx], stable=True)  # each class a contiguous slice: views, no gathers
        idx = idx[order]
        dx = coords.view(1, 1, -1) - cx[idx].view(-1, 1, 1)
        dy = coords.view(1, -1, 1) - cy[idx].view(-1, 1, 1)
        cos, sin = torch.cos(angle[idx]).view(-1, 1, 1), torch.sin(angle[idx]).view(-1, 1, 1)
        rad = radius[idx].view(-1, 1, 1)
        u, v = (cos * dx + sin * dy) / rad, (cos * dy - sin * dx) / rad
        inside = torch.empty(u.shape, dtype=torch.bool)
        lo = 0
        for kind, count in enumerate(torch.bincount(y[idx], minlength=len(CLASSES)).tolist()):
            if count:
                inside[lo:lo + count] = _mask(kind, u[lo:lo + count], v[lo:lo + count])
            lo += count
        img = torch.where(inside.unsqueeze(1), fg[idx].view(-1, channels, 1, 1), bg[idx].view(-1, channels, 1, 1))
        img += bank[pick[idx]].unsqueeze(1)
        out[idx] = img.clamp_(0, 1).mul_(255).round_().to(torch.uint8)
    return out, y


def load_shapes(cfg, task: str) -> DataModule:
    """Rendered at data.resize (28 when 0) with data.channels (1 when 0).

    10000 train / 2000 val images by default, 2000 / 500 above 64 px (memory grows with the side squared).
    """
    size = cfg.resize or 28
    channels = cfg.channels or 1
    big = size > 64
    num_train, num_val = cfg.num_train or (2000 if big else 10000), cfg.num_val or (500 if big else 2000)
    train = render(num_train, size, channels, cfg.seed, 0)
    val = render(num_val, size, channels, cfg.seed, 1)
    return DataModule(
        name=cfg.name, task=task, train=train, val=val, input_shape=((1, channels, size, size),),
        model_knobs={"num_classes": len(CLASSES), "in_channels": channels},
        prepare=ImagePrepare(size, 0, 0, cfg.augment, seed=cfg.seed), classes=list(CLASSES),
        info={"size": size, "normalize": "[0, 1]"})
