"""`d2l-tui augment DATASET`: one image and a 2x4 grid per transform, drawn in the terminal."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.text import Text


def render_preview(preview, width: int = 100, cell: int = 16) -> Text:
    """The preview as half-block text: the original, then per transform its name and a 2x4 grid."""
    from d2ltui.data.preview import PREVIEW_COLS
    from d2ltui.tui.widgets.samples_view import side_by_side

    def row(images) -> Text:
        return side_by_side(images, cell)

    out = Text(f"{preview.dataset}: {preview.label}\n", style="bold")
    out.append("original\n")
    out.append_text(row([preview.original]))
    for name, images in preview.grids.items():
        out.append(f"{name}\n", style="bold")
        for start in range(0, len(images), PREVIEW_COLS):
            out.append_text(row(images[start:start + PREVIEW_COLS]))
    return out


def run_augment(dataset: str, augment: str | None, seed: int, overrides: list[str], index: int,
                json_out: bool) -> None:
    from d2ltui.config.schema import DataConfig, _coerce
    from d2ltui.data.preview import make_preview, parse_augments
    from d2ltui.data.registry import check_config
    from d2ltui.errors import UserError

    cfg = DataConfig(name=dataset, num_train=8, num_val=max(8, index + 1))
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip().removeprefix("data.")
        if not sep or not hasattr(cfg, key):
            raise UserError(f"--set {item!r}: expected a data key, e.g. data.resize=64")
        from d2ltui.config.schema import _parse_scalar
        setattr(cfg, key, _coerce(f"data.{key}", _parse_scalar(value), getattr(cfg, key)))
    check_config(cfg)
    names = parse_augments(augment)
    preview = make_preview(cfg, names, seed=seed, index=index)
    if json_out:
        print(json.dumps({"dataset": preview.dataset, "label": preview.label, "original": preview.original,
                          "grids": preview.grids}))
        return
    console = Console(width=max(60, Console().width), highlight=False, force_terminal=sys.stdout.isatty() or None)
    console.print(render_preview(preview, console.width))
