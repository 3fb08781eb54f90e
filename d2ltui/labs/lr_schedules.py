"""Learning-rate schedules (section 12.11): each schedule's learning rate over the steps, built as training builds it."""

from __future__ import annotations

from d2ltui.config.schema import WARMED, OptimConfig
from d2ltui.labs.catalog import names
from d2ltui.labs.figure import Curves, Figure, Table, rounded
from d2ltui.optim import schedule_curve


def compute(schedules: str = "factor,multi-factor,cosine-warmup,one-cycle", lr: float = 0.5,
            epochs: int = 30, steps_per_epoch: int = 1, factor: float = 0.9, milestones: tuple = (15, 30),
            min_lr: float = 0.01, warmup_steps: int = 5, pct_start: float = 0.3) -> Figure:
    total = epochs * steps_per_epoch
    series, rows = {}, []
    for schedule in names(schedules):
        cfg = OptimConfig(lr=lr, schedule=schedule, factor=factor, milestones=list(milestones), min_lr=min_lr,
                          warmup_steps=warmup_steps if schedule in WARMED else 0,
                          pct_start=pct_start)
        lrs = schedule_curve(cfg, total, steps_per_epoch)
        series[schedule] = rounded(lrs, 8)
        rows.append([schedule, float(f"{max(lrs):.6g}"), float(f"{lrs[-1]:.6g}"),
                     next((i for i, v in enumerate(lrs) if v == max(lrs)), 0)])
    notes = [f"{total} optimizer steps ({epochs} epochs of {steps_per_epoch}); training steps its schedule once a step",
             f"factor: lr x {factor:g} at each epoch's end, not below min_lr {min_lr:g}; multi-factor: x {factor:g} at "
             f"epochs {', '.join(map(str, milestones))}",
             f"cosine-warmup: linear from 0 over {warmup_steps} steps, then cosine down to min_lr; one-cycle: up for "
             f"{pct_start:.0%} of the steps to lr, then down to lr / 25 / 10^4"]
    return Figure("lr-schedules", {"schedules": schedules, "lr": lr, "epochs": epochs,
                                   "steps_per_epoch": steps_per_epoch, "factor": factor, "milestones": milestones,
                                   "min_lr": min_lr, "warmup_steps": warmup_steps, "pct_start": pct_start},
                  [Curves("learning rate over the steps", list(range(total)), series, xlabel="step", ylabel="lr"),
                   Table("each schedule", ["schedule", "highest lr", "last lr", "highest at step"], rows)], notes)
