"""`d2l-tui lr-find`: the learning-rate range test for TARGET, as a text plot and a suggestion (or JSON)."""

from __future__ import annotations

import json
import math

from d2ltui.errors import UserError


def lr_figure(curve):
    """The test as a lab Curves panel: loss (raw, clipped to the smoothed range) and smoothed, against log10 lr."""
    from d2ltui.labs.figure import Curves

    x = [math.log10(lr) for lr in curve.lrs]
    top = max((s for s in curve.smoothed if math.isfinite(s)), default=1.0)
    raw = [min(v, top) if math.isfinite(v) else None for v in curve.losses]
    points = {}
    if curve.suggested_lr:
        i = min(range(len(curve.lrs)), key=lambda j: abs(curve.lrs[j] - curve.suggested_lr))
        points["suggested"] = {"x": [x[i]], "y": [curve.smoothed[i]]}
    return Curves(f"lr range test: {curve.model} on {curve.data}", x,
                  {"loss": raw, "smoothed": list(curve.smoothed)}, points, xlabel="log10 lr", ylabel="loss")


def run_lr_find(target: str, overrides: list[str], device: str | None, steps: int, lr_min: float, lr_max: float,
                json_out: bool) -> int:
    from d2ltui.engine.analysis.lr_find import find_lr
    from d2ltui.labs.text import curves_lines
    from d2ltui.tasks.resolve import resolve

    cfg = resolve(target, overrides, device)[0]
    if cfg.data.folds > 1:
        raise UserError("lr-find: data.folds > 1 is cross-validation; set data.folds=1 to find a learning rate")
    curve = find_lr(cfg, steps, lr_min, lr_max)
    if json_out:
        print(json.dumps(curve.to_dict()))
        return 0
    print("\n".join(curves_lines(lr_figure(curve), width=90)))
    print(f"{curve.stopped}; {len(curve.lrs)} steps of batch {cfg.data.batch_size} with {cfg.optim.name}")
    if curve.suggested_lr is None:
        print("no suggestion: the loss never fell; try a wider range (--lr-min, --lr-max) or more --steps")
        return 1
    print(f"suggested lr: {curve.suggested_lr:g} (steepest descent); train with --set optim.lr={curve.suggested_lr:g}")
    return 0
