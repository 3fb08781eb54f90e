"""The training loop's counters (step, epoch, position, order, best, last validation) as one checkpointable object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


def validated(state: dict[str, Any]) -> bool:
    """Whether a checkpoint was taken after the validation at its own step (a step checkpoint at an
    epoch's end precedes it); checkpoints that do not say are taken to have been."""
    return int(state.get("val_step", state["step"])) == int(state["step"])


@dataclass
class TrainState:
    """Where a run is: optimizer steps taken, the epoch and the batch position in it, that epoch's order
    (None until the epoch starts), the best validation so far and the step of the last validation."""

    step: int = 0
    epoch: int = 0
    pos: int = 0
    order: torch.Tensor | None = None
    best: dict[str, Any] | None = None
    val_step: int = -1  # a resumed run must not repeat the validation it already logged
    elapsed: float = 0.0  # training time of the run before this process
    last_val: dict[str, float] = field(default_factory=dict)

    def next_epoch(self) -> None:
        self.epoch, self.pos, self.order = self.epoch + 1, 0, None

    def record_validation(self, stats: dict[str, float], metric: str, higher_is_better: bool) -> None:
        """Keep `stats` as the last validation and update the best value of `metric`."""
        self.last_val, self.val_step = stats, self.step
        value = stats[metric]
        best = self.best
        if best is None or (value > best["value"] if higher_is_better else value < best["value"]):
            self.best = {"metric": metric, "value": value, "epoch": self.epoch + 1, "step": self.step}

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "epoch": self.epoch, "pos": self.pos, "perm": self.order, "best": self.best,
                "val_step": self.val_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step, self.epoch, self.pos = int(state["step"]), int(state["epoch"]), int(state["pos"])
        self.order = state.get("perm")
        self.best = state.get("best")
        self.elapsed = float(state.get("elapsed", 0.0))
        self.val_step = self.step if validated(state) else int(state["val_step"])
