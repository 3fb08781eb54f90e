"""Feature-map rows of a detector: each scale's map, its anchors per position, and the total anchors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn


@dataclass
class FeatureMapRow:
    """One scale of a multiscale detector: the block whose output it is, that output's shape, its anchors."""

    scale: str
    shape: tuple[int, ...] | None  # (C, H, W) of one example; None if the pass stopped before it
    anchors_per_position: int
    anchors: int


def feature_map_rows(model: nn.Module, outputs: dict[nn.Module, list[Any]]) -> list[FeatureMapRow]:
    """Rows for a model that names its scales (`scales()` -> (name, block, anchors per position)); else none.

    `outputs` holds each module's output tensors from one traced forward pass (the summary's hooks).
    """
    scales = getattr(model, "scales", None)
    if not callable(scales):
        return []
    rows = []
    for name, block, per_position in scales():
        outs = outputs.get(block)
        shape = tuple(outs[0].shape[1:]) if outs else None
        positions = shape[-1] * shape[-2] if shape and len(shape) == 3 else 0
        rows.append(FeatureMapRow(name, shape, per_position, positions * per_position))
    return rows
