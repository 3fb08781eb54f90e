"""The learning-rate range test: the lr grown exponentially over a few hundred steps, in memory, no run written.

`find_lr(cfg)` builds data, model and task as a run does (make_task, StepContext, the task's
Optimization) and trains a copy in memory with the learning rate raised from `lr_min` to `lr_max`
geometrically, one step each. The loss is smoothed (an exponential moving average with bias
correction, d2ltui.metrics.smooth) and the test stops once the smoothed loss exceeds DIVERGE times
its minimum. The suggestion is where the smoothed loss falls fastest against log lr, before its minimum.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from d2ltui.config.schema import RunConfig
from d2ltui.errors import UserError
from d2ltui.metrics import smooth

STEPS, LR_MIN, LR_MAX = 200, 1e-6, 10.0
BETA = 0.9  # the smoothing's weight on the past
DIVERGE = 4.0  # stop once the smoothed loss exceeds this multiple of its minimum


@dataclass
class LrCurve:
    """The test's record: lrs tried, raw and smoothed losses, the suggestion and why the test ended."""

    model: str
    data: str
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    suggested_lr: float | None = None
    stopped: str = ""

    def to_dict(self) -> dict[str, Any]:
        finite = lambda xs: [x if math.isfinite(x) else None for x in xs]  # noqa: E731
        return {"model": self.model, "data": self.data, "suggested_lr": self.suggested_lr, "stopped": self.stopped,
                "lrs": self.lrs, "losses": finite(self.losses), "smoothed": finite(self.smoothed)}

    def figure(self):
        """The test as a lab Curves panel: loss (raw, clipped to the smoothed range) and smoothed against log10 lr,
        the suggestion as a point (what `lr-find` prints and the TUI draws)."""
        from d2ltui.labs.figure import Curves

        x = [math.log10(lr) for lr in self.lrs]
        top = max((s for s in self.smoothed if math.isfinite(s)), default=1.0)
        raw = [min(v, top) if math.isfinite(v) else None for v in self.losses]
        points = {}
        if self.suggested_lr:
            i = min(range(len(self.lrs)), key=lambda j: abs(self.lrs[j] - self.suggested_lr))
            points["suggested"] = {"x": [x[i]], "y": [self.smoothed[i]]}
        return Curves(f"lr range test: {self.model} on {self.data}", x,
                      {"loss": raw, "smoothed": list(self.smoothed)}, points, xlabel="log10 lr", ylabel="loss")


def suggest(lrs: list[float], smoothed: list[float]) -> float | None:
    """The lr of the steepest descent of the smoothed loss against log lr, before the loss's minimum.

    The first tenth of the points is skipped (the average is still settling); None for fewer than 10 points.
    """
    if len(lrs) < 10:
        return None
    low = min(range(len(smoothed)), key=lambda i: smoothed[i])
    start = max(1, len(lrs) // 10)
    if low <= start:
        return None
    slopes = [(smoothed[i + 1] - smoothed[i - 1]) / (math.log(lrs[i + 1]) - math.log(lrs[i - 1]))
              for i in range(start, low)]
    return float(f"{lrs[start + min(range(len(slopes)), key=slopes.__getitem__)]:.3g}")


def find_lr(cfg: RunConfig, steps: int = STEPS, lr_min: float = LR_MIN, lr_max: float = LR_MAX,
            data: Any = None, progress: Callable[[int, int], bool] | None = None) -> LrCurve:
    """Run the range test for `cfg` (its model, data, optimizer and batch size); nothing is written.

    `progress(done, steps)`, called after each step, stops the test early by returning False.
    """
    from d2ltui.data.registry import load_data, task_for
    from d2ltui.devices import resolve_device
    from d2ltui.tasks.base import StepContext, make_task
    from d2ltui.tasks.resolve import merge_data_knobs
    from d2ltui.zoo.build import build_model
    from d2ltui.zoo.registry import spec_of

    if not 0 < lr_min < lr_max:
        raise UserError(f"lr-find: need 0 < --lr-min < --lr-max, got {lr_min:g} and {lr_max:g}")
    if steps < 10:
        raise UserError(f"lr-find: --steps {steps}: at least 10")
    if cfg.data.folds > 1:
        raise UserError("lr-find: data.folds > 1 is cross-validation; set data.folds=1 to find a learning rate")
    torch.manual_seed(cfg.train.seed)
    device = resolve_device(cfg.train.device)
    spec = spec_of(cfg)
    data = (data or load_data(cfg.data, task_for(spec, cfg.data.name), device)).to(device)
    model = build_model(spec, merge_data_knobs(cfg, spec, data.model_knobs, data.name), data.input_shape, device)
    task = make_task(data)
    task.setup(StepContext(cfg, model, model, device, contextlib.nullcontext, steps, lambda order: order))
    if not hasattr(task, "optimization"):
        raise UserError(f"lr-find: the {task.name or data.task} task trains more than one optimizer "
                        f"(model.name={cfg.model.name}); the range test needs a single one")
    groups = task.optimization.optimizer.param_groups
    mults = [g["lr"] / groups[0]["lr"] for g in groups]  # a fine-tuned head keeps its multiple
    batches, gen = task.batches(), torch.Generator().manual_seed(cfg.train.seed)
    curve = LrCurve(cfg.model.name, data.name)
    model.train()
    for i in range(steps):
        b = i % batches.steps_per_epoch
        if b == 0:
            batches.start(batches.order(gen))
        lr = lr_min * (lr_max / lr_min) ** (i / (steps - 1))
        for group, mult in zip(groups, mults):
            group["lr"] = lr * mult
        loss = float(task.train_step(batches.get(b)).loss)
        curve.lrs.append(lr)
        curve.losses.append(loss)
        curve.smoothed = smooth([x if math.isfinite(x) else 1e30 for x in curve.losses], BETA)
        if not math.isfinite(loss) or curve.smoothed[-1] > DIVERGE * min(curve.smoothed):
            curve.stopped = f"the loss exploded at lr {lr:.3g} (step {i + 1})"
            break
        if progress is not None and not progress(i + 1, steps):
            curve.stopped = f"stopped at lr {lr:.3g} (step {i + 1})"
            break
    curve.stopped = curve.stopped or f"reached --lr-max {lr_max:g} after {steps} steps"
    curve.suggested_lr = suggest(curve.lrs, curve.smoothed)
    return curve
