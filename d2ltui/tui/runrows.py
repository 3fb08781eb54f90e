"""The runs folder read lazily for the TUI: ids and order from the folder listing, a row's summary only when shown."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from d2ltui.errors import UserError
from d2ltui.rundir.index import RunSummary, summarise
from d2ltui.rundir.states import END_STATES
from d2ltui.rundir.store import CONFIG, STATUS, list_runs
from d2ltui.rundir.sweeps import list_sweeps, member_summary, read_sweep, sweep_summary


@dataclass(frozen=True)
class RunEntry:
    """A row of the runs screen before its records are read: what it is and where."""

    id: str  # a run's folder name, a sweep's, or "<sweep>/<member>"
    path: Path
    kind: str = "run"  # "run" or "sweep"
    sweep: str | None = None  # the sweep a member belongs to


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def run_entries(root: Path) -> list[RunEntry]:
    """Every run and sweep under `root`, newest first (by when its config was written), a sweep's members after
    it. One stat a run and one sweep.json a sweep: no run's status or records are read."""
    groups = [(_mtime(run.path / CONFIG) or _mtime(run.path), [RunEntry(run.id, run.path)]) for run in list_runs(root)]
    for path in list_sweeps(root):
        try:
            record = read_sweep(path)
        except UserError:  # a damaged sweep.json: the sweep's folder is still listed, as a row that says so
            groups.append((_mtime(path), [RunEntry(path.name, path, "sweep")]))
            continue
        members = [RunEntry(f"{path.name}/{m['id']}", path / str(m["id"]), sweep=path.name)
                   for m in record["members"] if isinstance(m, dict) and "id" in m]
        created = record.get("created")
        groups.append((created if isinstance(created, (int, float)) else _mtime(path),
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


class Summaries:
    """Summaries read so far; an ended run's is read again only when its status.json changes (a resume)."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[float, RunSummary]] = {}

    def get(self, entry: RunEntry) -> RunSummary | None:
        known = self._known.get(entry.id)
        return known[1] if known else None

    def read(self, entry: RunEntry) -> RunSummary:
        stamp = _mtime(entry.path / STATUS)
        known = self._known.get(entry.id)
        if known and entry.kind == "run" and known[0] == stamp and known[1].state in END_STATES:
            return known[1]
        row = summary(entry)
        self._known[entry.id] = (stamp, row)
        return row

    def row(self, entry: RunEntry) -> RunSummary:
        """What is known of the entry: its summary if read, else a placeholder."""
        return self.get(entry) or placeholder(entry)
