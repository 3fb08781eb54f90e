"""The window of steps summed on the device between two log lines."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from d2ltui.tasks.base import StepStats


@dataclass
class WindowTotals:
    loss_sum: float
    count: float
    correct: float
    samples_per_s: float
    extra: dict[str, float]


class MetricsWindow:
    """Sums of loss x count, count and correct over the steps since the last log line, without host syncs."""

    def __init__(self, device: torch.device) -> None:
        self.sums = torch.zeros(3, device=device, dtype=torch.float64)
        self.extra: dict[str, torch.Tensor | float] = {}
        self.restart()

    def restart(self) -> None:
        """Empty the window and restart its clock."""
        self.sums.zero_()
        self.extra.clear()
        self.host_count, self.steps = 0, 0
        self.restart_clock()

    def restart_clock(self) -> None:
        """Count throughput from now (after a pause, whose time is not training); the sums stay."""
        self.samples, self.t0 = 0, time.perf_counter()

    def add(self, stats: StepStats) -> None:
        loss = stats.loss
        if isinstance(stats.count, int):  # the usual case: no extra device work for the count
            self.sums[0].add_(loss, alpha=stats.count)
            self.host_count += stats.count
        else:
            self.sums[0].add_(loss * stats.count)
            self.sums[1].add_(stats.count)
        if stats.correct is not None:
            self.sums[2].add_(stats.correct)
        for key, value in stats.extra.items():
            self.extra[key] = self.extra.get(key, 0.0) + value
        self.samples += stats.samples
        self.steps += 1

    def take(self) -> WindowTotals:
        """The window's totals (one host sync), then an empty window."""
        loss_sum, count, correct = self.sums.tolist()
        extra = {k: float(v) / max(self.steps, 1) for k, v in self.extra.items()}
        totals = WindowTotals(loss_sum, count + self.host_count, correct,
                              self.samples / max(time.perf_counter() - self.t0, 1e-9), extra)
        self.restart()
        return totals
