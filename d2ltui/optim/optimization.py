"""Optimizers (SGD with momentum, Adam, AdamW) and the learning-rate schedule with warmup."""

from __future__ import annotations

import math
from typing import Iterable

import torch

from d2ltui.config.schema import OptimConfig


def make_optimizer(cfg: OptimConfig, params: Iterable[torch.nn.Parameter],
                   lr: float | None = None, betas: tuple[float, float] | None = None) -> torch.optim.Optimizer:
    """The optimizer named by optim.name (at `lr` when given, else optim.lr; Adam's `betas` when given), weight
    decay applied by the optimizer itself. `params` may be groups, dicts of `params` and `lr_mult` (a multiple
    of the lr)."""
    lr = cfg.lr if lr is None else lr
    params = trainable_groups(params, lr)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    extra = {"betas": betas} if betas else {}
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=cfg.weight_decay, **extra)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay, **extra)
    raise ValueError(f"unknown optimizer {cfg.name!r}")


def trainable_groups(params: Iterable, lr: float) -> list:
    """Parameters that require grad; groups (dicts with `lr_mult`) become torch param groups at lr x mult."""
    params = list(params)
    if not params or not isinstance(params[0], dict):
        return [p for p in params if p.requires_grad]
    groups = [{"params": [p for p in g["params"] if p.requires_grad], "lr": lr * g.get("lr_mult", 1.0)}
              for g in params]
    return [g for g in groups if g["params"]]


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


def make_scheduler(cfg: OptimConfig, optimizer: torch.optim.Optimizer, total_steps: int):
    """A LambdaLR stepped once per optimizer step (its state is checkpointed)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, cfg.schedule, cfg.warmup_steps))


class Optimization:
    """One optimizer with its schedule, gradient clip and, for fp16, its loss scaler (a GradScaler);
    `step(loss)` is backward, clip, step, schedule."""

    def __init__(self, cfg: OptimConfig, params: Iterable[torch.nn.Parameter], total_steps: int,
                 lr: float | None = None, betas: tuple[float, float] | None = None,
                 scaler: torch.amp.GradScaler | None = None) -> None:
        self.scaler = scaler
        self.optimizer = make_optimizer(cfg, params, lr, betas)
        self.params = [p for group in self.optimizer.param_groups for p in group["params"]]
        self.scheduler = make_scheduler(cfg, self.optimizer, total_steps)
        self.scheduled = cfg.schedule != "none" or cfg.warmup_steps > 0  # else the lr is constant
        self.clip = cfg.clip

    def step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:  # fp16: scaled backward, unscaled clip, a step skipped on inf/nan grads
            self.scaler.scale(loss).backward()
            if self.clip:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.params, self.clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            if self.clip:
                torch.nn.utils.clip_grad_norm_(self.params, self.clip)
            self.optimizer.step()
        if self.scheduled:
            self.scheduler.step()

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def state_dict(self) -> dict:
        state = {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
