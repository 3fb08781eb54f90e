"""The one list of runs under a runs folder (the CLI's `runs` and the TUI's runs screen show the same rows)."""

from __future__ import annotations

from pathlib import Path

from d2ltui.errors import UserError
from d2ltui.rundir.index import RunSummary, summarise
from d2ltui.rundir.store import run_folders
from d2ltui.rundir.sweeps import list_sweeps, sweep_rows


def list_runs(runs_dir: str | Path | None = None) -> list[RunSummary]:
    """Every run under the runs folder, newest first; a sweep is one row followed by its members' rows.

    Newest is the latest start (a run that has not started yet sorts last); ties keep the folders' name order.
    """
    groups = [[summarise(run.path)] for run in run_folders(runs_dir)]
    for path in list_sweeps(runs_dir):
        try:
            groups.append(sweep_rows(path))
        except UserError:  # a damaged sweep.json: the sweep cannot be read, the other runs still can
            continue
    groups.sort(key=lambda rows: rows[0].id)
    groups.sort(key=lambda rows: rows[0].started or 0.0, reverse=True)
    return [row for rows in groups for row in rows]
