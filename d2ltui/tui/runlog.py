"""What views derive from run directories (read through d2ltui.rundir): metric tails, config diffs, texts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from d2ltui.format import format_best, format_duration
from d2ltui.rundir.source import read_source
from d2ltui.rundir.store import LAYER_STATS, LAYERS, METRICS, SAMPLES, read_config, read_json, read_metrics
from d2ltui.tasks.spec import TaskSpec, task_of
from d2ltui.rundir.index import RunSummary
from d2ltui.errors import UserError


def run_task(path: Path) -> TaskSpec | None:
    """The spec of the task a run trains (from its config.toml), or None while that is not written yet."""
    cfg = read_config(path)
    try:
        return task_of(cfg["model"]["name"], cfg.get("data", {}).get("name", ""), cfg["model"].get("task", ""))
    except (KeyError, TypeError, UserError):
        return None


@dataclass
class MetricsTail:
    """Follows a run's metrics.jsonl, parsing only the lines appended since the last call.

    Keeps every numeric field as a (steps, values) column per split, appended as lines
    arrive, so a plot of a very long run never rescans the records.
    """

    path: Path
    offset: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    columns: dict[tuple[str, str], tuple[list[float], list[float]]] = field(default_factory=dict)

    def poll(self) -> list[dict[str, Any]]:
        new, self.offset = read_metrics(self.path / METRICS, self.offset)
        self.records.extend(new)
        for rec in new:
            step = float(rec.get("step", 0))
            for key, value in rec.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "step":
                    xs, ys = self.columns.setdefault((rec.get("split", ""), key), ([], []))
                    xs.append(step)
                    ys.append(float(value))
        return new

    def series(self, split: str, key: str) -> tuple[list[float], list[float]]:
        return self.columns.get((split, key), ([], []))


@dataclass
class LayersTail:
    """Follows a run's layers.jsonl: the latest record of each layer, and each statistic per layer by step."""

    path: Path
    offset: int = 0
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)  # layer -> its latest record, in model order
    steps: list[int] = field(default_factory=list)  # the recorded steps, in order
    values: dict[tuple[str, str], dict[int, float]] = field(default_factory=dict)  # (layer, stat) -> step -> value

    def poll(self) -> list[dict[str, Any]]:
        new, self.offset = read_metrics(self.path / LAYERS, self.offset)
        for rec in new:
            layer, step = rec.get("layer"), rec.get("step")
            if not isinstance(layer, str) or not isinstance(step, int):
                continue
            self.latest[layer] = rec
            if not self.steps or self.steps[-1] != step:
                self.steps.append(step)
            for stat in LAYER_STATS:
                if isinstance(rec.get(stat), (int, float)):
                    self.values.setdefault((layer, stat), {})[step] = float(rec[stat])
        return new

    @property
    def layers(self) -> list[str]:
        return list(self.latest)

    def grid(self, stat: str) -> list[list[float | None]]:
        """One row per layer, one column per recorded step: the statistic's value or None."""
        return [[self.values.get((layer, stat), {}).get(step) for step in self.steps] for layer in self.layers]


def series(records: list[dict[str, Any]], split: str, key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of `key` for records of `split` ('train', 'val' or '' for any)."""
    xs, ys = [], []
    for rec in records:
        if (not split or rec.get("split") == split) and isinstance(rec.get(key), (int, float)):
            xs.append(float(rec.get("step", len(xs))))
            ys.append(float(rec[key]))
    return xs, ys


def best_text(run: RunSummary) -> str:
    return format_best(run.metric, run.best)


def duration_text(run: RunSummary) -> str:
    return format_duration(run.duration_s)


def flatten(cfg: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def source_text(path: Path) -> str | None:
    """The run's copy of its model file as a setting: its name and SHA-256 prefix (None: the run keeps none)."""
    record = read_source(path)
    return f"{record['copy']} sha256 {record['sha256'][:12]}" if record else None


def settings(path: Path) -> dict[str, Any]:
    """A run's settings, flat: its config.toml, and model.source where it keeps a copy of its model file."""
    flat = flatten(read_config(path))
    if (source := source_text(path)) is not None:
        flat["model.source"] = source
    return flat


def config_diff(paths: list[Path]) -> list[tuple[str, list[str]]]:
    """The settings in which the runs differ (config.toml and the model file's copy): [(key, [value per run])]."""
    flat = [settings(p) for p in paths]
    keys = sorted(set().union(*flat)) if flat else []
    rows = []
    for key in keys:
        values = ["-" if key not in f else f[key] if isinstance(f[key], str) else repr(f[key]) for f in flat]
        if len(set(values)) > 1:
            rows.append((key, values))
    return rows


def samples(path: Path) -> dict[str, Any] | None:
    return read_json(path / SAMPLES)
