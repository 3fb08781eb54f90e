"""One run as a summary row: state, model, data, best metric and duration (the list of them: rundir.runs)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from d2ltui.format import run_progress
from d2ltui.metrics import EFFICIENCY_KEYS, HIGHER_IS_BETTER
from d2ltui.rundir.states import END_STATES
from d2ltui.rundir.store import METRICS, STATUS, read_config, read_json, read_metrics, read_status


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
    higher_is_better: bool | None = None  # the direction of `metric` (None without one)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _config_names(path: Path) -> tuple[str, str]:
    raw = read_config(path)
    return str(raw.get("model", {}).get("name", "?")), str(raw.get("data", {}).get("name", "?"))


def headline(path: Path, records: list[dict[str, Any]] | None = None,
             status: dict[str, Any] | None = None) -> tuple[str | None, bool]:
    """(the run's headline metric, whether higher is better): what the engine recorded in status.json when the
    run started (its task's); for an older run directory, the metric of its recorded best, else the first of
    HIGHER_IS_BETTER its validation lines (`records`, else metrics.jsonl) carry. (None, False) when none says."""
    status = (read_json(Path(path) / STATUS) or {}) if status is None else status
    recorded = status.get("headline")
    if isinstance(recorded, dict) and isinstance(recorded.get("metric"), str):
        return recorded["metric"], bool(recorded.get("higher_is_better"))
    best = status.get("best")
    if isinstance(best, dict) and isinstance(best.get("metric"), str):
        return best["metric"], HIGHER_IS_BETTER.get(best["metric"], False)
    val = [r for r in (read_metrics(Path(path) / METRICS)[0] if records is None else records) if r.get("split") == "val"]
    metric = next((m for m in HIGHER_IS_BETTER if any(isinstance(r.get(m), (int, float)) for r in val)), None)
    return metric, HIGHER_IS_BETTER.get(metric or "", False)


def best_from_metrics(records: list[dict[str, Any]], metric: str | None, higher: bool) -> float | None:
    """The best validation value of `metric` in `records`, or None."""
    values = [r[metric] for r in records if r.get("split") == "val" and isinstance(r.get(metric), (int, float))]
    return ((max if higher else min)(values)) if metric and values else None


def summarise(path: Path) -> RunSummary:
    status = read_status(path)
    model, data = _config_names(path)
    records = read_metrics(path / METRICS)[0]
    best = status.get("best")
    metric, higher = headline(path, records, status)
    value = best["value"] if isinstance(best, dict) and "value" in best else best_from_metrics(records, metric, higher)
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
        message=str(status.get("message", "")), efficiency=efficiency,
        higher_is_better=higher if metric else None)
