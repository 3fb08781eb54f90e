"""`d2l-tui runs`: every run with state, model, data, best metric and duration, as a table or JSON."""

from __future__ import annotations

import json

from d2ltui.format import format_best, format_duration
from d2ltui.rundir.index import list_run_summaries


def run_runs(json_out: bool = False, runs_dir: str | None = None) -> None:
    rows = list_run_summaries(runs_dir)
    if json_out:
        print(json.dumps([r.to_dict() for r in rows], indent=1))
        return
    if not rows:
        print("no runs yet (start one with `d2l-tui train PRESET`; see `d2l-tui presets`)")
        return
    table = [("RUN", "STATE", "MODEL", "DATA", "BEST", "PROGRESS", "TIME")]
    for r in rows:
        progress = f"{r.epoch or 0}/{r.total_epochs}" if r.total_epochs else "-"
        time_ = format_duration(r.duration_s)
        table.append((r.id, r.state, r.model, r.data, format_best(r.metric, r.best), progress, time_))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
