"""One run as a summary row: state, model, data, best metric and duration (the list of them: rundir.runs)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from d2ltui.format import run_progress
from d2ltui.metrics import EFFICIENCY_KEYS, HIGHER_IS_BETTER
from d2ltui.rundir.states import END_STATES
from d2ltui.rundir.store import METRICS, read_config, read_metrics, read_status


@dataclass
class RunSummary:
    """One run as a table row: what it trains, how far it got, how well and for how long."""

    id: str
    path: str
    state: str
    model: str
    data: str
    metric: str | None
    best: float | None
    step: int | None
    total_steps: int | None
    epoch: int | None
    total_epochs: int | None
    duration_s: float | None
    started: float | None
    message: str
    kind: str = "run"  # "run", or "sweep" for a sweep folder's own row
    sweep: str | None = None  # the sweep a member run belongs to
    efficiency: dict[str, Any] | None = None  # the latest train line's EFFICIENCY_KEYS (samples/s, FLOP/s, MFU, ...)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _config_names(path: Path) -> tuple[str, str]:
    raw = read_config(path)
    return str(raw.get("model", {}).get("name", "?")), str(raw.get("data", {}).get("name", "?"))


def best_from_metrics(records: list[dict[str, Any]]) -> tuple[str | None, float | None]:
    """The best validation value of the run's headline metric (acc, bleu, ppl, success, else loss)."""
    val = [r for r in records if r.get("split") == "val"]
    for metric in HIGHER_IS_BETTER:
        values = [r[metric] for r in val if isinstance(r.get(metric), (int, float))]
        if values:
            return metric, (max if HIGHER_IS_BETTER[metric] else min)(values)
    return None, None


def summarise(path: Path) -> RunSummary:
    status = read_status(path)
    model, data = _config_names(path)
    records = read_metrics(path / METRICS)[0]
    best = status.get("best")
    metric, value = (best["metric"], best["value"]) if isinstance(best, dict) and "value" in best \
        else best_from_metrics(records)
    started = status.get("started")
    end = status.get("updated") if status.get("state") in END_STATES else time.time()
    if records and status.get("state") in END_STATES and isinstance(records[-1].get("time"), (int, float)):
        duration = records[-1]["time"]
    else:
        duration = (end - started) if isinstance(started, (int, float)) and isinstance(end, (int, float)) else None
    last = next((r for r in reversed(records) if r.get("split") == "train"), {})
    progress = run_progress(status, last)
    efficiency = {k: last[k] for k in EFFICIENCY_KEYS if k in last} or None
    return RunSummary(
        id=path.name, path=str(path), state=str(status.get("state", "?")), model=model, data=data,
        metric=metric, best=value, step=progress["step"], total_steps=progress["total_steps"],
        epoch=progress["epoch"], total_epochs=progress["total_epochs"],
        duration_s=round(duration, 1) if duration is not None else None, started=started,
        message=str(status.get("message", "")), efficiency=efficiency)
