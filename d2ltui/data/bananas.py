"""Banana detection sets: the embedded procedural `bananas` and the book's real `banana-detection`.

Both are held whole as tensors: images uint8 (N, 3, S, S) and labels float (N, 1, 5) rows of
(class, xmin, ymin, xmax, ymax) with corners in [0, 1] of the image (the book divides pixels by
256); a label row with class -1 would be padding. `DetectionPrepare` turns images into floats in
[0, 1] on the device and resizes them; boxes, being fractions, need nothing.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from d2ltui.data.base import Batch, DataModule
from d2ltui.data.common import generator
from d2ltui.data.shapes import one_thread
from d2ltui.errors import UserError

CLASSES = ["banana"]
EDGE = 256  # the book's image side
YELLOW = (0.93, 0.79, 0.22)


class DetectionPrepare:
    """`prepare(batch, train)` for (images, labels): float in [0, 1], resized to size x size."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, batch: Batch, train: bool) -> Batch:
        x, labels = batch
        x = x.float().div_(255) if x.dtype == torch.uint8 else x.float()
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False,
                              antialias=self.size < x.shape[-1])
        return x.contiguous(), labels


def check_no_augment(cfg) -> None:
    if cfg.augment:
        raise UserError(f"data.augment: {cfg.name} is a detection set; its boxes would not follow "
                        f"{', '.join(cfg.augment)}, so leave data.augment empty")


def _texture(n: int, size: int, g: torch.Generator) -> torch.Tensor:
    """Smooth random colour fields at two scales plus grain: (n, 3, size, size) in [0, 1]."""
    coarse = F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=(size, size), mode="bicubic", align_corners=False)
    fine = F.interpolate(torch.rand(n, 3, 16, 16, generator=g), size=(size, size), mode="bilinear", align_corners=False)
    base = torch.rand(n, 3, 1, 1, generator=g) * 0.6 + 0.1
    grain = torch.rand(n, 1, size, size, generator=g) - 0.5
    return (base + 0.35 * (coarse - 0.5) + 0.2 * (fine - 0.5) + 0.08 * grain).clamp_(0, 1)


def render_bananas(n: int, size: int = EDGE, seed: int = 0, salt: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n images (n, 3, size, size) uint8, each with one banana, and labels (n, 1, 5) float."""
    with one_thread():
        g = generator(seed, 300 + salt)
        images = torch.empty(n, 3, size, size, dtype=torch.uint8)
        labels = torch.empty(n, 1, 5)
        chunk = max(1, 1_500_000 // (size * size))
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            images[start:stop], labels[start:stop] = _render(stop - start, size, g)
        return images, labels


def _render(n: int, size: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A crescent (inside one disk, outside a shifted one), rotated, shaded, on a texture."""
    radius = (torch.rand(n, generator=g) * 0.2 + 0.1) * size  # 0.1 .. 0.3 of the side
    margin = radius / size
    cx = (margin + torch.rand(n, generator=g) * (1 - 2 * margin)) * size
    cy = (margin + torch.rand(n, generator=g) * (1 - 2 * margin)) * size
    angle = torch.rand(n, generator=g) * 2 * math.pi
    shift = torch.rand(n, generator=g) * 0.25 + 0.45  # how far the cut-out disk moves: the banana's thickness
    coords = torch.arange(size, dtype=torch.float32) + 0.5
    dx = coords.view(1, 1, -1) - cx.view(-1, 1, 1)
    dy = coords.view(1, -1, 1) - cy.view(-1, 1, 1)
    cos, sin = torch.cos(angle).view(-1, 1, 1), torch.sin(angle).view(-1, 1, 1)
    rad = radius.view(-1, 1, 1)
    u, v = (cos * dx + sin * dy) / rad, (cos * dy - sin * dx) / rad
    inner = u * u + (v + shift.view(-1, 1, 1)) ** 2
    inside = (u * u + v * v <= 0.95 ** 2) & (inner >= 0.9 ** 2) & (v >= -0.2)
    colour = torch.tensor(YELLOW).view(1, 3, 1, 1) * (torch.rand(n, 1, 1, 1, generator=g) * 0.25 + 0.8)
    shade = (1.0 - 0.35 * (v - 0.4).abs()).unsqueeze(1).clamp(0.5, 1.0)  # darker towards the edges
    tips = (u.abs() > 0.8).unsqueeze(1)
    fruit = torch.where(tips, colour * 0.45, colour * shade)
    img = torch.where(inside.unsqueeze(1), fruit, _texture(n, size, g))
    rows, cols = inside.any(2), inside.any(1)  # (n, size): which rows / columns the banana touches
    index = torch.arange(size)
    xmin = torch.where(cols, index, size).amin(1)
    xmax = torch.where(cols, index, -1).amax(1) + 1
    ymin = torch.where(rows, index, size).amin(1)
    ymax = torch.where(rows, index, -1).amax(1) + 1
    boxes = torch.stack((xmin, ymin, xmax, ymax), 1).float() / size
    labels = torch.cat((torch.zeros(n, 1), boxes), 1).unsqueeze(1)
    return img.mul_(255).round_().to(torch.uint8), labels


def detection_module(cfg, task: str, train: Batch, val: Batch, size: int, info: dict) -> DataModule:
    return DataModule(name=cfg.name, task=task, train=train, val=val, input_shape=((1, 3, size, size),),
                      model_knobs={"num_classes": len(CLASSES), "in_channels": 3},
                      prepare=DetectionPrepare(size), classes=list(CLASSES), info=info)


def load_bananas(cfg, task: str) -> DataModule:
    """Rendered at data.resize (256 when 0): 1000 train and 100 val images by default, as the book's set."""
    check_no_augment(cfg)
    size = cfg.resize or EDGE
    num_train, num_val = cfg.num_train or 1000, cfg.num_val or 100
    train = render_bananas(num_train, size, cfg.seed, 0)
    val = render_bananas(num_val, size, cfg.seed, 1)
    return detection_module(cfg, task, train, val, size, {"size": size, "normalize": "[0, 1]"})
