"""Layer statistics across runs: each run's latest record per layer, and one statistic as a layers x runs table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from d2ltui.errors import UserError
from d2ltui.rundir.store import LAYER_STATS, LAYERS, read_metrics


def check_stat(stat: str, what: str = "--layers") -> str:
    """`stat` when it is one of the recorded statistics, else a UserError naming the choices."""
    if stat not in LAYER_STATS:
        raise UserError(f"{what}: unknown layer statistic {stat!r} (choose from {', '.join(LAYER_STATS)})")
    return stat


def latest_by_layer(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """layer -> its latest record (layers.jsonl lines, oldest first), in the model's order."""
    latest: dict[str, dict[str, Any]] = {}
    for rec in records:
        if isinstance(rec.get("layer"), str) and isinstance(rec.get("step"), int):
            latest[rec["layer"]] = rec
    return latest


def latest_layers(path: Path) -> list[dict[str, Any]]:
    """A run's latest record of each layer (step, layer, type, act and the statistics); [] without layers.jsonl."""
    return list(latest_by_layer(read_metrics(Path(path) / LAYERS)[0]).values())


def merge_names(orders: list[list[str]]) -> list[str]:
    """The layer names of several runs in one list: each run's order kept, a new name placed after its predecessor."""
    merged: list[str] = []
    for names in orders:
        at = 0
        for name in names:
            if name in merged:
                at = merged.index(name) + 1
            else:
                merged.insert(at, name)
                at += 1
    return merged


@dataclass
class LayerTable:
    """One statistic of several runs: a row per layer (its types), a column per run (its latest step)."""

    stat: str
    runs: list[str]
    steps: list[int | None]
    rows: list[tuple[str, str, list[float | None]]]  # (layer, type(s), value per run)

    def to_dict(self) -> dict[str, Any]:
        return {"stat": self.stat, "runs": [{"id": r, "step": s} for r, s in zip(self.runs, self.steps)],
                "layers": [{"layer": name, "type": kind, "values": dict(zip(self.runs, values))}
                           for name, kind, values in self.rows]}


def layer_table(stat: str, runs: list[tuple[str, dict[str, dict[str, Any]]]]) -> LayerTable:
    """Build the table from (run id, latest record by layer) pairs."""
    names = merge_names([list(latest) for _, latest in runs])
    rows = []
    for name in names:
        kinds = list(dict.fromkeys(latest[name].get("type", "?") for _, latest in runs if name in latest))
        values = [latest[name].get(stat) if name in latest else None for _, latest in runs]
        rows.append((name, "/".join(kinds), [v if isinstance(v, (int, float)) else None for v in values]))
    steps = [max((r["step"] for r in latest.values()), default=None) for _, latest in runs]
    return LayerTable(stat, [run_id for run_id, _ in runs], steps, rows)
