"""Learning-rate schedules from optim.schedule, stepped once per optimizer step, from torch.optim.lr_scheduler.

none, cosine and step are the LambdaLR schedules of earlier runs (their checkpoints hold its state, so they
stay as they were); factor, multi-factor and cosine-warmup are the book's FactorScheduler, MultiFactorScheduler
(its MultiStepLR) and CosineScheduler (section 12.11), one-cycle is torch's OneCycleLR.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch.optim import lr_scheduler

from d2ltui.config.schema import OptimConfig

WARMUP_START = 1e-12  # LinearLR's start factor must be > 0: the book's warm-up starts at 0


def lr_factor(step: int, total: int, schedule: str, warmup: int) -> float:
    """Multiplier of the base learning rate after `step` optimizer steps.

    Linear warmup over the first `warmup` steps, then: none (constant), cosine (down to 0
    at the last step) or step (x0.1 at half and again at three quarters of the steps).
    """
    if warmup and step < warmup:
        return (step + 1) / warmup
    if schedule == "none":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 0.1 ** ((progress >= 0.5) + (progress >= 0.75))


def _factor(step: int, factor: float, floor: float, steps_per_epoch: int) -> float:
    """The book's FactorScheduler: x factor at each epoch's end, never below `floor` (a fraction of the lr)."""
    return max(floor, factor ** (step // steps_per_epoch))


def make_scheduler(cfg: OptimConfig, optimizer: torch.optim.Optimizer, total_steps: int,
                   steps_per_epoch: int = 1) -> lr_scheduler.LRScheduler:
    """The schedule of optim.schedule over `total_steps` optimizer steps; factor and multi-factor count epochs
    of `steps_per_epoch` steps. Its state goes into the checkpoint."""
    schedule, total, spe = cfg.schedule, max(1, total_steps), max(1, steps_per_epoch)
    if schedule == "factor":
        return lr_scheduler.LambdaLR(optimizer, [
            partial(_factor, factor=cfg.factor, floor=cfg.min_lr / g["lr"], steps_per_epoch=spe)
            for g in optimizer.param_groups])
    if schedule == "multi-factor":
        return lr_scheduler.MultiStepLR(optimizer, [m * spe for m in cfg.milestones], gamma=cfg.factor)
    if schedule == "cosine-warmup":
        warmup = min(cfg.warmup_steps, total - 1)
        cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=total - warmup, eta_min=cfg.min_lr)
        if not warmup:
            return cosine
        rise = lr_scheduler.LinearLR(optimizer, start_factor=WARMUP_START, end_factor=1.0, total_iters=warmup)
        return lr_scheduler.SequentialLR(optimizer, [rise, cosine], milestones=[warmup])
    if schedule == "one-cycle":  # the learning rate only: momentum and betas stay as configured
        return lr_scheduler.OneCycleLR(optimizer, max_lr=[g["lr"] for g in optimizer.param_groups],
                                       total_steps=total, pct_start=cfg.pct_start, cycle_momentum=False)
    return lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total_steps, schedule, cfg.warmup_steps))


def schedule_curve(cfg: OptimConfig, total_steps: int, steps_per_epoch: int = 1) -> list[float]:
    """The learning rate of each of `total_steps` optimizer steps, as training with `cfg` would use it."""
    from d2ltui.optim.optimizers import make_optimizer

    optimizer = make_optimizer(cfg, [torch.nn.Parameter(torch.zeros(1))])
    scheduler = make_scheduler(cfg, optimizer, total_steps, steps_per_epoch)
    out = []
    for _ in range(total_steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # no gradient: the parameter stays, torch sees the step before the schedule's
        scheduler.step()
    return out
