"""Read-only views of run directories: the run list, incremental metric tails, config diffs."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from d2ltui.engine.rundir import CONFIG, METRICS, SAMPLES, read_json, read_metrics, read_status

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

METRIC_KEYS = ("acc", "bleu", "ppl", "mse")
HIGHER_IS_BETTER = {"acc": True, "bleu": True, "ppl": False, "mse": False, "loss": False}


def read_config(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads((path / CONFIG).read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}


@dataclass
class MetricsTail:
    """Follows a run's metrics.jsonl, parsing only the lines appended since the last call."""

    path: Path
    offset: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)

    def poll(self) -> list[dict[str, Any]]:
        new, self.offset = read_metrics(self.path / METRICS, self.offset)
        self.records.extend(new)
        return new


def metric_name(records: list[dict[str, Any]]) -> str | None:
    """The quality metric the run reports (acc, ppl, bleu, ...), or None."""
    for rec in reversed(records):
        for key in METRIC_KEYS:
            if rec.get(key) is not None:
                return key
    return None


def series(records: list[dict[str, Any]], split: str, key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of `key` for records of `split` ('train', 'val' or '' for any)."""
    xs, ys = [], []
    for rec in records:
        if (not split or rec.get("split") == split) and isinstance(rec.get(key), (int, float)):
            xs.append(float(rec.get("step", len(xs))))
            ys.append(float(rec[key]))
    return xs, ys


def best_metric(records: list[dict[str, Any]]) -> str:
    """'acc 0.912' style best validation value (falls back to the best loss)."""
    name = metric_name(records) or "loss"
    _, ys = series(records, "val", name)
    if not ys:
        _, ys = series(records, "", name)
    if not ys:
        return "-"
    best = max(ys) if HIGHER_IS_BETTER.get(name, False) else min(ys)
    return f"{name} {best:.4g}"


@dataclass
class RunInfo:
    """One row of the runs screen."""

    path: Path
    state: str
    model: str
    data: str
    best: str
    duration: str
    message: str = ""

    @property
    def id(self) -> str:
        return self.path.name


def duration(records: list[dict[str, Any]], status: dict[str, Any], path: Path) -> str:
    times = [r["time"] for r in records if isinstance(r.get("time"), (int, float))]
    start = status.get("started") or (times[0] if times else None)
    try:
        start = start or (path / CONFIG).stat().st_mtime
    except OSError:
        return "-"
    end = status.get("updated") if status.get("state") not in ("running", "paused") else time.time()
    seconds = max(0.0, float(end or time.time()) - float(start))
    return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"


def run_info(path: Path) -> RunInfo:
    cfg = read_config(path)
    status = read_status(path)
    records = read_metrics(path / METRICS)[0]
    return RunInfo(path, status.get("state", "?"), cfg.get("model", {}).get("name", "?"),
                   cfg.get("data", {}).get("name", "?"), best_metric(records),
                   duration(records, status, path), status.get("message", ""))


def list_runs(root: Path) -> list[RunInfo]:
    """Every run under `root`, newest first."""
    if not root.is_dir():
        return []
    paths = [p for p in root.iterdir() if (p / CONFIG).exists()]
    paths.sort(key=lambda p: (p / CONFIG).stat().st_mtime, reverse=True)
    return [run_info(p) for p in paths]


def flatten(cfg: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def config_diff(paths: list[Path]) -> list[tuple[str, list[str]]]:
    """The settings in which the runs' config.toml differ: [(key, [value per run])]."""
    flat = [flatten(read_config(p)) for p in paths]
    keys = sorted(set().union(*flat)) if flat else []
    rows = []
    for key in keys:
        values = [repr(f.get(key, "-")) if not isinstance(f.get(key), str) else f[key] for f in flat]
        if len(set(values)) > 1:
            rows.append((key, values))
    return rows


def samples(path: Path) -> dict[str, Any] | None:
    return read_json(path / SAMPLES)
