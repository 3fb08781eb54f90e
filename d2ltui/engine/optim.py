"""Optimizers (SGD with momentum, Adam, AdamW) and the learning-rate schedule with warmup."""

from __future__ import annotations

import math
from typing import Iterable

import torch

from d2ltui.config.schema import OptimConfig


def make_optimizer(cfg: OptimConfig, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """The optimizer named by optim.name, weight decay applied by the optimizer itself."""
    params = [p for p in params if p.requires_grad]
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.name!r}")


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
