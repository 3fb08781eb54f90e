"""`d2l-tui sweep`: run a grid of settings times seeds as ordinary runs, then print the table of the sweep."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from d2ltui.errors import UserError
from d2ltui.format import format_mean_std
from d2ltui.rundir.states import RunState
from d2ltui.rundir.sweeps import read_sweep, sweep_table


def run_sweep(target: str | None, grid: list[str], seeds: int | None, parallel: int | None, overrides: list[str],
              device: str | None, runs_dir: str | None, resume: str | None, json_out: bool,
              search: dict | None = None, yes: bool = False) -> int:
    """Plan (or find) the sweep, run its unfinished members, print its table; 0 when every run finished.

    `search`: the options of a search (sample, trials, scheduler, r_min, r_max, eta; cli.searching)."""
    from d2ltui.engine.orchestration.sweep import parse_grid, plan_sweep, run_members
    from d2ltui.rundir.sweeps import find_sweep

    if parallel is not None and parallel < 1:
        raise UserError(f"--parallel {parallel}: must be >= 1")
    if resume:
        if target or grid or seeds or overrides or device or any((search or {}).values()):
            raise UserError(f"--resume {resume} continues a sweep as it was planned: give no TARGET, --grid, "
                            "--seeds, --set or --device")
        path = find_sweep(resume, runs_dir)
    else:
        if not target:
            raise UserError("sweep needs a TARGET (a preset, a .toml file or a model) and --grid KEY=V1,V2")
        table = sweep_preset(target)
        planned = {key: list(values) for key, values in (table.get("grid") or {}).items()}
        from d2ltui.engine.orchestration.sweep import grid_key

        planned = {grid_key(key): values for key, values in planned.items()}
        planned.update(parse_grid(grid))
        seeds = seeds or int(table.get("seeds", 1))
        parallel = parallel or int(table.get("parallel", 1))
        from d2ltui.cli.searching import plan_search

        settings, extra, overrides = plan_search(target, planned, seeds, overrides, device, table, search or {})
        path = plan_sweep(target, {} if settings else planned, seeds, overrides, device, runs_dir, parallel,
                          settings, extra, yes)
    log = sys.stderr if json_out else sys.stdout  # --json: stdout is the table alone
    print(f"sweep {path.name} in {path}", file=log, flush=True)
    complete = run_members(path, parallel, log)
    code = print_table(path, json_out)
    if not complete:
        print(f"sweep stopped: continue it with `d2l-tui sweep --resume {path.name}`", file=log, flush=True)
        return 1
    return code


def sweep_preset(target: str) -> dict:
    """The [sweep] table of a preset (or preset file) TARGET, checked; {} for a model name or a plain preset."""
    from d2ltui.config.presets import preset_files, read_sweep_file

    path = Path(target).expanduser() if target.endswith(".toml") else preset_files().get(target)
    if path is None or not path.is_file():
        return {}
    _, _, table = read_sweep_file(path)
    table = table or {}
    from d2ltui.cli.searching import SEARCH_KEYS, check_search_table

    unknown = set(table) - {"grid", "seeds", "parallel", *SEARCH_KEYS}
    if unknown:
        raise UserError(f"{path.name}: unknown key sweep.{sorted(unknown)[0]}; [sweep] takes grid, seeds, parallel, "
                        f"{', '.join(SEARCH_KEYS)}")
    check_search_table(table, path.name)
    grid = table.get("grid", {})
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        raise UserError(f"{path.name}: sweep.grid must map config keys to non-empty lists of values")
    for key in ("seeds", "parallel"):
        if key in table and (not isinstance(table[key], int) or table[key] < 1):
            raise UserError(f"{path.name}: sweep.{key} must be an integer >= 1")
    return table


def print_table(path: Path, json_out: bool) -> int:
    """The sweep's table: per setting, the best metric's mean ± std over seeds; 0 when every run finished."""
    if read_sweep(path).get("scheduler"):
        from d2ltui.cli.searching import print_trials

        return print_trials(path, json_out)
    record, metric, rows, members = sweep_table(path)
    finished = all(m.state == RunState.FINISHED for m in members)
    if json_out:
        print(json.dumps({"sweep": record["id"], "path": str(path), "grid": record["grid"], "seeds": record["seeds"],
                          "metric": metric, "rows": [r.to_dict() for r in rows]}, indent=1))
        return 0 if finished else 1
    keys = list(record["grid"]) or list(record.get("space") or {})
    header = [*keys, "runs", f"best {metric or 'metric'} (mean ± std)"]
    table = [header]
    for row in rows:
        done = sum(s == RunState.FINISHED for s in row.states)
        table.append([*(str(row.setting[k]) for k in keys), f"{done}/{len(row.states)}",
                      format_mean_std(row.mean, row.std)])
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
    return 0 if finished else 1
