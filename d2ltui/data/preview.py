"""What augmentation does to an image: one image of a dataset and a 2x4 grid per transform (the book's figures)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from d2ltui.config.schema import AUGMENTS
from d2ltui.data.thumbnails import Grid, thumbnails
from d2ltui.data.transforms import ImagePrepare, seeded_state, to_channels
from d2ltui.errors import UserError

PREVIEW_ROWS, PREVIEW_COLS = 2, 4
DEFAULT = ("flip", "vflip", "crop", "brightness", "hue", "jitter")  # the book's figures, in order


@dataclass
class Preview:
    """The original image and, per entry of `grids`, eight augmented versions (as thumbnails)."""

    dataset: str
    label: str
    original: Grid
    grids: dict[str, list[Grid]] = field(default_factory=dict)


def parse_augments(text: str | Sequence[str] | None) -> list[str]:
    """A comma list (or list) of augmentation names; a '+' joins names into one composition (flip+jitter+crop)."""
    items = [t.strip() for t in (text.split(",") if isinstance(text, str) else (text or [])) if t.strip()]
    for item in items:
        bad = [n for n in item.split("+") if n not in AUGMENTS]
        if bad:
            raise UserError(f"--augment: unknown {', '.join(map(repr, bad))}; choose from {', '.join(AUGMENTS)} "
                            f"(join with + to compose)")
    return items or list(DEFAULT) + ["+".join(("flip", "jitter", "crop"))]


def make_preview(cfg, names: Sequence[str], seed: int = 0, index: int = 0, side: int = 32) -> Preview:
    """`names` applied eight times each to validation image `index` of the data `cfg` names (data.* settings)."""
    from d2ltui.data.registry import load_data

    data = load_data(cfg, "classification", "cpu")
    prepare = data.prepare
    if not isinstance(prepare, ImagePrepare) or data.val[0].dim() != 4:
        raise UserError(f"augment: {cfg.name} is not an image dataset")
    image = data.val[0][index % len(data.val[0]):][:1]
    label = data.classes[int(data.val[1][index % len(data.val[0])])] if data.classes else ""
    x = image.float().div(255) if image.dtype == torch.uint8 else image.float()
    x = to_channels(x, prepare.channels)
    plain = ImagePrepare(prepare.size, prepare.resize, 0, centre=prepare.centre)
    out = Preview(cfg.name, label, thumbnails(plain.fit(x), side, stretch=False)[0])
    for name in names:
        aug = ImagePrepare(prepare.size, prepare.resize, 0, centre=prepare.centre)
        aug.rng = seeded_state(seed)
        batch = aug.augmented(x.expand(PREVIEW_ROWS * PREVIEW_COLS, -1, -1, -1), name.split("+"))
        out.grids[name] = thumbnails(batch, side, stretch=False)
    return out
