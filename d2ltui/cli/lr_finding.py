"""`d2l-tui lr-find`: the learning-rate range test for TARGET, as a text plot and a suggestion (or JSON)."""

from __future__ import annotations

import json


def run_lr_find(target: str, overrides: list[str], device: str | None, steps: int, lr_min: float, lr_max: float,
                json_out: bool) -> int:
    from d2ltui.engine.analysis.lr_find import find_lr
    from d2ltui.labs.text import curves_lines
    from d2ltui.tasks.resolve import resolve

    cfg = resolve(target, overrides, device)[0]
    curve = find_lr(cfg, steps, lr_min, lr_max)
    if json_out:
        print(json.dumps(curve.to_dict()))
        return 0
    print("\n".join(curves_lines(curve.figure(), width=90)))
    print(f"{curve.stopped}; {len(curve.lrs)} steps of batch {cfg.data.batch_size} with {cfg.optim.name}")
    if curve.suggested_lr is None:
        print("no suggestion: the loss never fell; try a wider range (--lr-min, --lr-max) or more --steps")
        return 1
    print(f"suggested lr: {curve.suggested_lr:g} (steepest descent); train with --set optim.lr={curve.suggested_lr:g}")
    return 0
