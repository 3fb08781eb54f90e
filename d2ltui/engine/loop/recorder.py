"""The run-directory writer: a subscriber turning trainer events into metrics, layers, status and samples files."""

from __future__ import annotations

import json
import time
from typing import Any

from d2ltui.engine.loop import events as ev
from d2ltui.rundir.store import RECORDS, STATUS, RunDir, read_json
from d2ltui.rundir.writer import RunWriter, write_text_record


class Recorder:
    """Writes metrics.jsonl, layers.jsonl, status.json, samples.json and data.json of one run (rank 0 only)."""

    def __init__(self, run: RunWriter) -> None:
        self.run = run
        self.progress: dict[str, Any] = {}  # step, epoch, totals: repeated in every status write
        previous = read_json(run.path / STATUS) or {}  # a resumed run keeps its first start time
        self.started = previous.get("started") if isinstance(previous.get("started"), (int, float)) else time.time()

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.Metrics):
            self.run.append_metrics(event.record)
            self.progress.update(step=event.record.get("step"))  # status.json's epoch counts the epochs done
        elif isinstance(event, ev.LayerStats):
            self.run.append_layers(event.records)
        elif isinstance(event, ev.DataCard):
            self.run.write_data_card(event.card)
        elif isinstance(event, ev.Samples):
            self.run.write_samples({"epoch": event.epoch, **event.samples})
        elif isinstance(event, ev.Status):
            self.progress.update(event.extra)
            self.run.write_status(event.state, event.message, started=self.started, **self.progress)
        elif isinstance(event, ev.Started):
            self.progress.update(model=event.model, data=event.data, task=event.task, device=event.device,
                                 total_steps=event.total_steps, total_epochs=event.total_epochs,
                                 steps_per_epoch=event.steps_per_epoch, num_params=event.num_params,
                                 world_size=event.world_size,
                                 headline={"metric": event.headline[0], "higher_is_better": event.headline[1]})
        elif isinstance(event, ev.Checkpointed):
            if event.error:
                self.progress["checkpoint_error"] = event.error
            else:
                self.progress.pop("checkpoint_error", None)
                self.progress["checkpoint_step"] = event.step


def truncate_metrics(run: RunDir, step: int, validated: bool = True) -> int:
    """Drop the records (metrics.jsonl and layers.jsonl lines) past `step`, written after the checkpoint a
    resume starts from; returns how many.

    `validated` False: the checkpoint was taken before the validation at `step`, which the resumed
    run repeats, so a validation line at `step` is dropped too.
    """
    dropped = 0
    for name in RECORDS:
        path = run.path / name
        if not path.exists():
            continue
        kept, before = [], dropped
        for line in path.read_bytes().splitlines():
            try:
                record = json.loads(line)
                at = int(record.get("step", 0))
            except (ValueError, TypeError, AttributeError):  # a damaged line: the resumed run rewrites what it held
                dropped += 1
                continue
            if at > step or (at == step and not validated and record.get("split") == "val"):
                dropped += 1
            else:
                kept.append(line)
        if dropped > before:
            write_text_record(path, "".join(line.decode(errors="replace") + "\n" for line in kept))
    return dropped
