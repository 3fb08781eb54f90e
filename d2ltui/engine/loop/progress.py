"""Console progress of a training job: one updating line on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from typing import TextIO

from d2ltui.engine.loop import events as ev
from d2ltui.format import efficiency_text, eta_seconds, format_duration, format_metrics
from d2ltui.rundir.states import RunState


class ConsolePrinter:
    """A subscriber printing progress: epoch, step, loss, metric, samples/s and ETA."""

    def __init__(self, live: bool, stream: TextIO | None = None) -> None:
        self.live = live
        self.out = stream or sys.stdout
        self.total_steps = self.total_epochs = 0
        self.steps: list[float] = []  # step and training time of each train record, for the ETA
        self.times: list[float] = []
        self.pending_line = False

    def write(self, text: str, transient: bool = False) -> None:
        if self.live:
            self.out.write("\r\x1b[2K" + text + ("" if transient else "\n"))
            self.pending_line = transient
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def eta(self, record: dict) -> str:
        if isinstance(record.get("time"), (int, float)):
            self.steps.append(record["step"])
            self.times.append(record["time"])
        left = eta_seconds(self.steps, self.times, self.total_steps)
        return "?" if left is None else format_duration(left)

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.Started):
            self.total_steps, self.total_epochs = event.total_steps, event.total_epochs
            where = f"{event.device}" + (f" x{event.world_size}" if event.world_size > 1 else "")
            self.write(f"{event.model} on {event.data} ({event.task}), {event.num_params:,} parameters, {where}; "
                       f"{event.total_epochs} epochs of {event.steps_per_epoch} steps"
                       + (f", resuming at step {event.start_step}" if event.start_step else ""))
        elif isinstance(event, ev.Metrics):
            r = event.record
            if r.get("split") == "train":
                speed = efficiency_text(r) or f"{r.get('samples_per_s', 0):,.0f} samples/s"
                self.write(f"epoch {r['epoch']}/{self.total_epochs} step {r['step']}/{self.total_steps} "
                           f"{format_metrics(r)} {speed} ETA {self.eta(r)}", transient=self.live)
            else:
                self.write(f"epoch {r['epoch']}/{self.total_epochs} val {format_metrics(r)}")
        elif isinstance(event, ev.Note):
            self.write(f"note: {event.text}")
        elif isinstance(event, ev.Status) and "warning" in event.extra:  # the run folder refuses writes, or takes them again
            self.write(f"warning: {event.message}" if event.extra["warning"] else event.message)
        elif isinstance(event, ev.Checkpointed) and event.error:
            self.write(f"warning: {event.error}")
        elif isinstance(event, ev.Status) and event.state in (RunState.PAUSED, RunState.FINISHED, RunState.STOPPED,
                                                                  RunState.FAILED, RunState.DIVERGED):
            self.write(f"{event.state}: {event.message}")
