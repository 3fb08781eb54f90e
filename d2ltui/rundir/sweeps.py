"""Sweep folders: `sweep.json` (grid, seeds, members) over ordinary run directories, and the sweep's table.

A sweep lives in `<runs>/<sweep-id>/`: `sweep.json` (written atomically by rundir.writer, once at the start and again
on a resume), `base.toml` (the config every member starts from) and one ordinary run directory per
grid point and seed. Member states are never copied into sweep.json: each member's status.json is
the truth. Imports no torch.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from d2ltui.errors import UserError
from d2ltui.paths import expand_path, resolve_runs_dir
from d2ltui.rundir.index import RunSummary, summarise
from d2ltui.rundir.states import LIVE_STATES, RunState
from d2ltui.rundir.store import CONFIG, read_json

SWEEP, BASE = "sweep.json", "base.toml"
DONE_STATES = (RunState.FINISHED, RunState.FAILED, RunState.DIVERGED)  # kept as they are on --resume


def is_sweep(path: Path) -> bool:
    return (path / SWEEP).is_file()


def read_sweep(path: Path) -> dict[str, Any]:
    """sweep.json of a sweep folder; a UserError naming the file when it is missing or damaged."""
    record = read_json(path / SWEEP)
    if record is None or not isinstance(record.get("members"), list):
        raise UserError(f"{path / SWEEP}: not a sweep record (missing or damaged)")
    return record


def find_sweep(name: str, runs_dir: str | Path | None = None) -> Path:
    """A sweep folder by path, id or unique id prefix under the runs folder."""
    direct = expand_path(name, "sweep")
    if is_sweep(direct):
        return direct
    root = resolve_runs_dir(runs_dir)
    matches = sorted(p for p in root.glob(f"{name}*") if is_sweep(p)) if root.is_dir() else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UserError(f"sweep {name!r} is ambiguous: {', '.join(p.name for p in matches[:5])}")
    raise UserError(f"no sweep {name!r} in {root} (see `d2l-tui runs`)")


def list_sweeps(runs_dir: str | Path | None = None) -> list[Path]:
    root = resolve_runs_dir(runs_dir)
    return sorted(p for p in root.iterdir() if p.is_dir() and is_sweep(p)) if root.is_dir() else []


def member_summary(sweep: Path, member: dict[str, Any]) -> RunSummary:
    """One member as a run row; its id is `<sweep-id>/<member-id>`, which `--resume` and `attach` accept."""
    path = sweep / member["id"]
    if (path / CONFIG).exists() or path.is_dir():
        row = summarise(path)
    else:
        row = RunSummary(id=member["id"], path=str(path), state=RunState.PENDING.value, model="", data="", metric=None, best=None,
                         step=None, total_steps=None, epoch=None, total_epochs=None, duration_s=None, started=None,
                         message="not started yet")
    row.id, row.sweep = f"{sweep.name}/{member['id']}", sweep.name
    return row


@dataclass
class SettingRow:
    """One grid point of a sweep: its values, its members and their best metric as mean ± std over seeds."""

    setting: dict[str, Any]
    runs: list[str]
    states: list[str]
    values: list[float]  # the best metric of each finished member
    mean: float | None
    std: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"setting": self.setting, "runs": self.runs, "states": self.states, "values": self.values,
                "mean": self.mean, "std": self.std, "n": len(self.values)}


def sweep_table(path: Path) -> tuple[dict[str, Any], str | None, list[SettingRow], list[RunSummary]]:
    """(sweep.json, metric, one row per setting, every member's summary).

    Each member contributes its best validation value of the sweep's headline metric (its members' task's, as
    their run directories record it: rundir.index.headline); std is the sample standard deviation over seeds
    (0 with one seed).
    """
    record = read_sweep(path)
    members = [member_summary(path, m) for m in record["members"]]
    metric = next((r.metric for r in members if r.metric), None)
    rows: dict[str, SettingRow] = {}
    for member, row in zip(record["members"], members):
        key = repr(sorted(member["setting"].items()))
        out = rows.setdefault(key, SettingRow(member["setting"], [], [], [], None, None))
        out.runs.append(row.id)
        out.states.append(row.state)
        if row.state == RunState.FINISHED and row.metric == metric and row.best is not None:
            out.values.append(float(row.best))
    for out in rows.values():
        if out.values:
            out.mean = statistics.fmean(out.values)
            out.std = statistics.stdev(out.values) if len(out.values) > 1 else 0.0
    return record, metric, list(rows.values()), members


def sweep_rows(path: Path) -> list[RunSummary]:
    """The sweep's own row, then its members' rows (as `runs` groups them)."""
    table = sweep_table(path)
    return [sweep_summary(path, table), *table[3]]


def sweep_summary(path: Path, table: tuple | None = None) -> RunSummary:
    """The sweep as one row of `runs`: its state over the members, the best setting's mean, the members' count."""
    record, metric, rows, members = table or sweep_table(path)
    states = [m.state for m in members]
    if any(s in LIVE_STATES for s in states):
        state = RunState.RUNNING.value
    elif all(s == RunState.FINISHED for s in states):
        state = RunState.FINISHED.value
    else:
        state = next((s for s in (RunState.CRASHED, RunState.STOPPED, RunState.PENDING) if s in states), states[0] if states else "?")
    means = [r.mean for r in rows if r.mean is not None]
    higher = next((m.higher_is_better for m in members if m.metric == metric), False)
    best = ((max if higher else min)(means)) if means else None
    done = sum(s == RunState.FINISHED for s in states)
    started = [m.started for m in members if m.started]
    durations = [m.duration_s for m in members if m.duration_s is not None]
    return RunSummary(id=path.name, path=str(path), state=str(state), model=str(record.get("model", "?")),
                      data=str(record.get("data", "?")), metric=metric, best=best, step=None, total_steps=None,
                      epoch=done, total_epochs=len(members), duration_s=sum(durations) if durations else None,
                      started=min(started) if started else record.get("created"),
                      message=f"sweep: {done}/{len(members)} runs finished", kind="sweep",
                      higher_is_better=higher if metric else None)
