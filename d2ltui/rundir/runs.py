"""The one list of runs under a runs folder (the CLI's `runs` and the TUI's runs screen show the same rows).

`run_entries` lists what is there from the folder alone (one stat a run, one sweep.json a sweep), newest
first; `summary` reads one entry's row; `list_runs` is every entry's row, in that order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from d2ltui.errors import UserError
from d2ltui.rundir.index import RunSummary, summarise
from d2ltui.rundir.store import CONFIG, run_folders
from d2ltui.rundir.sweeps import list_sweeps, member_summary, read_sweep, sweep_summary


@dataclass(frozen=True)
class RunEntry:
    """A row of the runs screen before its records are read: what it is and where."""

    id: str  # a run's folder name, a sweep's, or "<sweep>/<member>"
    path: Path
    kind: str = "run"  # "run" or "sweep"
    sweep: str | None = None  # the sweep a member belongs to


def mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def run_entries(root: str | Path | None = None) -> list[RunEntry]:
    """Every run and sweep under `root`, newest first (by when its config was written), a sweep's members after
    it. One stat a run and one sweep.json a sweep: no run's status or records are read."""
    groups = [(mtime(run.path / CONFIG) or mtime(run.path), [RunEntry(run.id, run.path)]) for run in run_folders(root)]
    for path in list_sweeps(root):
        try:
            record = read_sweep(path)
        except UserError:  # a damaged sweep.json: the sweep's folder is still listed, as a row that says so
            groups.append((mtime(path), [RunEntry(path.name, path, "sweep")]))
            continue
        members = [RunEntry(f"{path.name}/{m['id']}", path / str(m["id"]), sweep=path.name)
                   for m in record["members"] if isinstance(m, dict) and "id" in m]
        created = record.get("created")
        groups.append((created if isinstance(created, (int, float)) else mtime(path),
                       [RunEntry(path.name, path, "sweep"), *members]))
    groups.sort(key=lambda group: group[0], reverse=True)
    return [entry for _, entries in groups for entry in entries]


def placeholder(entry: RunEntry) -> RunSummary:
    """The row of a run not read yet: its id and kind, nothing else."""
    return RunSummary(id=entry.id, path=str(entry.path), state="", model="", data="", metric=None, best=None,
                      step=None, total_steps=None, epoch=None, total_epochs=None, duration_s=None, started=None,
                      message="", kind=entry.kind, sweep=entry.sweep)


def summary(entry: RunEntry) -> RunSummary:
    """The entry's row as `d2l-tui runs` shows it (reads its status, config and metrics)."""
    if entry.kind == "sweep":
        try:
            return sweep_summary(entry.path)
        except UserError as err:
            return RunSummary(**{**placeholder(entry).to_dict(), "state": "?", "message": f"sweep: {err}"})
    if entry.sweep:
        return member_summary(entry.path.parent, {"id": entry.path.name})
    return summarise(entry.path)




def list_runs(runs_dir: str | Path | None = None) -> list[RunSummary]:
    """Every run under the runs folder, newest first; a sweep is one row followed by its members' rows."""
    return [summary(entry) for entry in run_entries(runs_dir)]
