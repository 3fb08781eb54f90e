"""The book's anchor boxes (sections 14.4-14.5) on a banana image: one pixel's anchors, or the multiscale grids."""

from __future__ import annotations

import torch
from torchvision.ops import box_iou

from d2ltui.data.bananas import render_bananas
from d2ltui.zoo.anchors import multibox_prior
from d2ltui.labs.catalog import ANCHOR_IMAGE_SIDE as SIDE
from d2ltui.labs.figure import Boxes, Figure, rounded

MULTISCALE = ((4, 0.15), (2, 0.4), (1, 0.8))  # the book's display_anchors: feature map side and anchor size


def banana(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A grey SIDE x SIDE banana image (values 0..1) and its ground-truth box in pixels."""
    images, labels = render_bananas(1, SIDE, seed=seed, salt=7)
    return images[0].float().mean(0) / 255, labels[0, 0, 1:] * SIDE


def pixel_anchors(sizes: tuple, ratios: tuple, pixel: tuple) -> tuple[torch.Tensor, list[str]]:
    """The anchors centred on `pixel` (x, y) of the image, in pixels, and their names 's=…, r=…'."""
    anchors = multibox_prior(torch.zeros(1, 1, SIDE, SIDE), sizes, ratios).reshape(SIDE, SIDE, -1, 4)
    x, y = pixel
    names = [f"s={s:g}, r={ratios[0]:g}" for s in sizes] + [f"s={sizes[0]:g}, r={r:g}" for r in ratios[1:]]
    return anchors[y, x] * SIDE, names


def _boxes(anchors: torch.Tensor, names: list[str], truth: torch.Tensor) -> list[dict]:
    ious = box_iou(anchors, truth.unsqueeze(0)).reshape(-1).tolist()
    boxes = [{"xyxy": rounded(a.tolist(), 2), "label": n, "score": round(iou, 3)}
             for a, n, iou in zip(anchors, names, ious)]
    return [{"xyxy": rounded(truth.tolist(), 2), "label": "ground truth", "score": None}] + boxes


def compute(sizes: tuple = (0.75, 0.5, 0.25), ratios: tuple = (1.0, 2.0, 0.5), pixel: tuple = (48, 48),
            view: str = "pixel", seed: int = 0) -> Figure:
    image, truth = banana(seed)
    knobs = {"sizes": sizes, "ratios": ratios, "pixel": pixel, "view": view, "seed": seed}
    if view == "multiscale":
        panels, notes = [], []
        for side, size in MULTISCALE:
            anchors = multibox_prior(torch.zeros(1, 1, side, side), (size,), ratios)[0] * SIDE
            names = [f"({i // len(ratios) % side}, {i // len(ratios) // side}) r={ratios[i % len(ratios)]:g}"
                     for i in range(len(anchors))]
            boxes = _boxes(anchors, names, truth)
            panels.append(Boxes(f"{side}x{side} feature map, size {size:g}", rounded(image.tolist(), 2), boxes))
            best = max(boxes[1:], key=lambda b: b["score"])
            notes.append(f"{side}x{side}: {len(anchors)} anchors of size {size:g}; best IoU {best['score']:.3f}")
        return Figure("anchor-boxes", knobs, panels, notes)
    anchors, names = pixel_anchors(sizes, ratios, pixel)
    boxes = _boxes(anchors, names, truth)
    best = max(boxes[1:], key=lambda b: b["score"])
    notes = [f"{len(anchors)} anchors at pixel {tuple(pixel)} (n + m - 1 = {len(sizes)} + {len(ratios)} - 1); "
             f"{SIDE * SIDE * len(anchors):,} over the whole {SIDE}x{SIDE} image",
             f"best: {best['label']} with IoU {best['score']:.3f} (score column: IoU with the ground truth); "
             f"the true box is centred on pixel ({int((truth[0] + truth[2]) / 2)}, {int((truth[1] + truth[3]) / 2)})"]
    panel = Boxes(f"anchors at pixel {tuple(pixel)}", rounded(image.tolist(), 2), boxes)
    return Figure("anchor-boxes", knobs, [panel], notes)
