"""Console progress for `d2l-tui train`: one updating line on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from d2ltui.engine import events as ev


def fmt_duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def fmt_metrics(record: dict) -> str:
    parts = [f"loss {record['loss']:.4f}"]
    for key in ("acc", "ppl", "bleu", "ap50", "class_err", "bbox_mae"):
        if key in record:
            parts.append(f"{key} {record[key]:.4g}")
    return " ".join(parts)


class ConsolePrinter:
    """A subscriber printing progress: epoch, step, loss, metric, samples/s and ETA."""

    def __init__(self, live: bool, stream: TextIO | None = None) -> None:
        self.live = live
        self.out = stream or sys.stdout
        self.total_steps = self.total_epochs = self.start_step = 0
        self.t_start = time.perf_counter()
        self.pending_line = False

    def write(self, text: str, transient: bool = False) -> None:
        if self.live:
            self.out.write("\r\x1b[2K" + text + ("" if transient else "\n"))
            self.pending_line = transient
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def eta(self, step: int) -> str:
        done = step - self.start_step
        if done <= 0 or not self.total_steps:
            return "?"
        rate = done / (time.perf_counter() - self.t_start)
        return fmt_duration((self.total_steps - step) / rate)

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.Started):
            self.total_steps, self.total_epochs, self.start_step = event.total_steps, event.total_epochs, event.start_step
            self.t_start = time.perf_counter()
            where = f"{event.device}" + (f" x{event.world_size}" if event.world_size > 1 else "")
            self.write(f"{event.model} on {event.data} ({event.task}), {event.num_params:,} parameters, {where}; "
                       f"{event.total_epochs} epochs of {event.steps_per_epoch} steps"
                       + (f", resuming at step {event.start_step}" if event.start_step else ""))
        elif isinstance(event, ev.Metrics):
            r = event.record
            if r.get("split") == "train":
                self.write(f"epoch {r['epoch']}/{self.total_epochs} step {r['step']}/{self.total_steps} "
                           f"{fmt_metrics(r)} {r.get('samples_per_s', 0):,.0f} samples/s ETA {self.eta(r['step'])}",
                           transient=self.live)
            else:
                self.write(f"epoch {r['epoch']}/{self.total_epochs} val {fmt_metrics(r)}")
        elif isinstance(event, ev.Checkpointed) and event.error:
            self.write(f"warning: {event.error}")
        elif isinstance(event, ev.Status) and event.state in ("paused", "finished", "stopped", "failed", "diverged"):
            self.write(f"{event.state}: {event.message}")
