"""A user's own input for `predict`, read for a task's model: numbers, an image file, the top classes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import math

import torch

from d2ltui.errors import UserError

TOP_K = 5


def numbers(text: str, want: int, hint: str) -> torch.Tensor:
    """`want` comma- or space-separated numbers as a (1, want) tensor; a UserError otherwise."""
    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise UserError(f"input: {text!r} is not numbers; {hint}") from None
    if not all(math.isfinite(v) for v in values):
        raise UserError(f"input: {text.strip()!r} holds a number that is not finite (nan or inf); {hint}")
    if len(values) != want:
        raise UserError(f"input: {len(values)} number(s), this model reads {want}")
    return torch.tensor([values])


def image(text: str, card: dict[str, Any]) -> tuple[Path, torch.Tensor]:
    """The image file `text` names, prepared as the run's data was: (its path, a (1, C, H, W) batch)."""
    from PIL import Image, UnidentifiedImageError
    from torchvision.transforms.v2.functional import pil_to_tensor

    from d2ltui.data.transforms import ImagePrepare

    path = Path(text).expanduser()
    if not path.is_file():
        raise UserError(f"input: no image file {path}")
    try:
        with Image.open(path) as opened:
            pixels = pil_to_tensor(opened.convert("RGB"))  # uint8 (3, H, W)
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise UserError(f"input: {path} is not an image PIL can read ({type(err).__name__})") from None
    _, channels, side, _ = card["input_shape"][0]
    prep = card.get("image") or {}
    x, = ImagePrepare(side, 0, channels, (), prep.get("mean"), prep.get("std"))((pixels[None],), False)
    return path, x


def label(classes: list[str], i: int) -> str:
    return classes[i] if i < len(classes) else str(i)


def top(logits: torch.Tensor, classes: list[str]) -> list[dict[str, Any]]:
    """The TOP_K most probable classes of one row of logits, with their probabilities."""
    probs = logits.float().softmax(-1).reshape(-1)
    best = probs.topk(min(TOP_K, len(probs)))
    return [{"label": label(classes, i), "probability": round(float(p), 4)}
            for p, i in zip(best.values.tolist(), best.indices.tolist())]
