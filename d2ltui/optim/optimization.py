"""One training optimizer with its schedule and clip; the optimizers and schedules themselves are d2ltui.optim's."""

from __future__ import annotations

from typing import Iterable

import torch

from d2ltui.config.schema import OptimConfig
from d2ltui.optim import make_optimizer, make_scheduler


class Optimization:
    """One optimizer with its schedule, gradient clip and, for fp16, its loss scaler (a GradScaler);
    `step(loss)` is backward, clip, step, schedule."""

    def __init__(self, cfg: OptimConfig, params: Iterable[torch.nn.Parameter], total_steps: int,
                 lr: float | None = None, betas: tuple[float, float] | None = None, steps_per_epoch: int = 1,
                 scaler: torch.amp.GradScaler | None = None) -> None:
        self.scaler = scaler
        self.optimizer = make_optimizer(cfg, params, lr, betas)
        self.params = [p for group in self.optimizer.param_groups for p in group["params"]]
        self.scheduler = make_scheduler(cfg, self.optimizer, total_steps, steps_per_epoch)
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
