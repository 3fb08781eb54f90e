"""`d2l-tui runs`: every run with state, model, data, best metric and duration, as a table or JSON; sweeps grouped;
`--layers STAT`: one layer statistic of several runs side by side."""

from __future__ import annotations

import json
from pathlib import Path

from d2ltui.errors import UserError
from d2ltui.format import format_best, format_duration, format_stat
from d2ltui.rundir.runs import list_runs
from d2ltui.rundir.layers import check_stat, latest_by_layer, latest_layers, layer_table


def run_runs(json_out: bool = False, runs_dir: str | None = None) -> None:
    rows = list_runs(runs_dir)
    if json_out:
        print(json.dumps([{**r.to_dict(), "layers": latest_layers(Path(r.path)) if r.kind == "run" else []}
                          for r in rows], indent=1))
        return
    if not rows:
        print("no runs yet (start one with `d2l-tui train PRESET`; see `d2l-tui presets`)")
        return
    table = [("RUN", "STATE", "MODEL", "DATA", "BEST", "PROGRESS", "TIME")]
    for r in rows:
        progress = f"{r.epoch or 0}/{r.total_epochs}" if r.total_epochs else "-"
        if r.kind == "sweep":  # a sweep's row: finished members of all; its members follow, named SWEEP/RUN
            progress += " runs"
        time_ = format_duration(r.duration_s)
        table.append((r.id, r.state, r.model, r.data, format_best(r.metric, r.best), progress, time_))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def run_layers(stat: str | None, ids: list[str], json_out: bool = False, runs_dir: str | None = None) -> None:
    """The latest value of `stat` for each layer of each run (the named runs, else every run that records them)."""
    from d2ltui.rundir.store import RunDir

    if stat is None:
        raise UserError("RUN arguments go with --layers STAT (e.g. `d2l-tui runs --layers grad_norm RUN RUN`)")
    check_stat(stat)
    if ids:
        found = [RunDir.find(run_id, runs_dir) for run_id in ids]
        runs = [(run.id, latest_by_layer(run.layers())) for run in found]
        if missing := [run_id for run_id, latest in runs if not latest]:
            raise UserError(f"run {missing[0]} has no layer statistics (layers.jsonl; train.layer_stats_every = 0?)")
    else:
        runs = [(r.id, latest) for r in list_runs(runs_dir)
                if r.kind == "run" and (latest := latest_by_layer(RunDir(Path(r.path)).layers()))]
    table = layer_table(stat, runs)
    if json_out:
        print(json.dumps(table.to_dict(), indent=1))
        return
    if not runs:
        print("no run has layer statistics yet (layers.jsonl; train.layer_stats_every sets how often)")
        return
    lines = [("LAYER", "TYPE", *table.runs), ("", "(latest step)", *(str(s) for s in table.steps))]
    lines += [(name, kind, *(format_stat(v) for v in values)) for name, kind, values in table.rows]
    widths = [max(len(row[i]) for row in lines) for i in range(len(lines[0]))]
    print(f"{stat}, latest recorded value of each layer")
    for row in lines:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
