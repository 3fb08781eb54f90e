"""`d2l-tui augment DATASET`: one image and a 2x4 grid per transform, drawn in the terminal."""

from __future__ import annotations

import json
import sys

from rich.console import Console


def run_augment(dataset: str, augment: str | None, seed: int, overrides: list[str], index: int,
                json_out: bool) -> None:
    from d2ltui.config.overrides import coerce, parse_overrides
    from d2ltui.config.schema import DataConfig
    from d2ltui.data.preview import make_preview, parse_augments
    from d2ltui.data.registry import check_config
    from d2ltui.errors import UserError

    cfg = DataConfig(name=dataset, num_train=8, num_val=max(8, index + 1))
    for key, value in parse_overrides(overrides, "data.resize=64", "a data key").items():
        key = key.removeprefix("data.")
        if not hasattr(cfg, key):
            raise UserError(f"--set {key}: expected a data key, e.g. data.resize=64")
        setattr(cfg, key, coerce(f"data.{key}", value, getattr(cfg, key)))
    check_config(cfg)
    names = parse_augments(augment)
    preview = make_preview(cfg, names, seed=seed, index=index)
    if json_out:
        print(json.dumps({"dataset": preview.dataset, "label": preview.label, "original": preview.original,
                          "grids": preview.grids}))
        return
    console = Console(width=max(60, Console().width), highlight=False, force_terminal=sys.stdout.isatty() or None)
    from d2ltui.render.pictures import render_preview

    console.print(render_preview(preview, console.width))
