"""When the loop logs a train line, records layer statistics and checkpoints, decided in one place each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LogPolicy:
    """A train metrics line every `every` steps; an epoch shorter than that still gets one at its end."""

    every: int
    steps_per_epoch: int

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def due_at_epoch_end(self, window_steps: int) -> bool:
        return self.steps_per_epoch < self.every and window_steps > 0


@dataclass(frozen=True)
class CheckpointPolicy:
    """A checkpoint at every epoch end, on stop and pause, and every `every` steps when that is set."""

    every: int

    def due(self, step: int) -> bool:
        return bool(self.every) and step % self.every == 0


@dataclass(frozen=True)
class LayerStatsPolicy:
    """Per-layer statistics on the first step and every `every` steps (0 is off); `step` is the step about to run."""

    every: int

    def due(self, step: int) -> bool:
        return bool(self.every) and (step == 1 or step % self.every == 0)
