"""Sweeps: a grid of settings times seeds, each an ordinary run in its own process, P at a time.

`plan_sweep` checks every grid point before anything starts and writes the sweep folder
(d2ltui.rundir.sweeps); `run_members` starts the members through the one launcher
(d2ltui.engine.orchestration.slots), P at a time on the CPU (each with cores/P torch threads) or one per GPU,
and on Ctrl-C / SIGTERM / SIGHUP stops the running ones (each checkpoints) so that
`d2l-tui sweep --resume SWEEP` continues them: finished runs are kept, the others resume
(`train --resume`, which restarts a run killed before its first checkpoint).
"""

from __future__ import annotations

import itertools
import math
import re
import time
from pathlib import Path
from typing import Any

from d2ltui.tasks.resolve import resolve
from d2ltui.config.overrides import override_key, parse_text, split_override, split_values
from d2ltui.config.schema import dump_toml, normalise_overrides
from d2ltui.engine.orchestration.slots import Scheduler, slots_for, wait_for_live
from d2ltui.errors import UserError
from d2ltui.rundir.store import new_run_id, read_status
from d2ltui.rundir.sweeps import BASE, DONE_STATES, SWEEP, read_sweep
from d2ltui.rundir.writer import make_run_folder, write_sweep_record, write_text_record

MAX_SWEEP_RUNS = 64  # a bigger sweep starts only with --yes


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """`--grid KEY=V1,V2` options -> {section.key: [values]} (values read as `--set` reads them)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        example = ("--grid optim.lr=0.01,0.1", "KEY=V1,V2,...")
        key, values = split_override(item, *example, flag="--grid")
        parts = [v.strip() for v in split_values(values) if v.strip()]
        if not parts:
            raise UserError(f"--grid {item!r}: expected {example[1]}, e.g. {example[0]}")
        grid[grid_key(key)] = [parse_text(v) for v in parts]
    return grid


def grid_key(key: str) -> str:
    """A grid key with its section, as `--set` normalises it (dropout -> model.dropout)."""
    return override_key(normalise_overrides([f"{key.strip()}=0"])[0])


def setting_overrides(setting: dict[str, Any]) -> list[str]:
    return [f"{key}={value!r}" for key, value in setting.items()]


def member_id(index: int, setting: dict[str, Any], seed: int) -> str:
    """A folder name saying the setting: 03-weight_decay-3.0-seed1, 00-hidden-64x32-seed0 (characters a shell would trip on dropped)."""
    def clean(text: Any) -> str:
        return re.sub(r"[^A-Za-z0-9.+_-]+", "", re.sub(r"[,\s]+", "x", str(text)))

    slug = "_".join(f"{clean(key.rpartition('.')[2])}-{clean(value)}" for key, value in setting.items())
    return f"{index:02d}-{slug}-seed{seed}"


def plan_sweep(target: str, grid: dict[str, list[Any]], seeds: int, overrides: list[str], device: str | None,
               runs_dir: str | None, parallel: int, settings: list[dict[str, Any]] | None = None,
               search: dict[str, Any] | None = None, yes: bool = False) -> Path:
    """Check every run of the sweep, then make its folder (base.toml, sweep.json); returns the folder.

    `settings` (drawn from a search space, engine.orchestration.search) replaces the grid's product;
    `search` goes into sweep.json as it is (a search space, a rung scheduler). More than MAX_SWEEP_RUNS runs
    are refused unless `yes` (nothing is checked or written first).
    """
    if not grid and not settings:
        raise UserError("sweep needs a grid: --grid KEY=V1,V2 (or a preset with a [sweep] table)")
    if seeds < 1:
        raise UserError(f"--seeds {seeds}: must be >= 1")
    count = (len(settings) if settings else math.prod(len(values) for values in grid.values())) * seeds
    if count > MAX_SWEEP_RUNS and not yes:
        raise UserError(f"this sweep would start {count} runs (over {MAX_SWEEP_RUNS}); add --yes to start them")
    base, description = resolve(target, overrides, device)
    keys = list(grid)
    members = []
    for setting in settings or [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]:
        for s in range(seeds):
            seed = base.train.seed + s
            extra = setting_overrides(setting) + [f"train.seed={seed}"]
            resolve(target, list(overrides) + extra, device)  # a bad value fails here, before anything starts
            members.append({"id": member_id(len(members), setting, seed), "setting": setting, "seed": seed,
                            "overrides": extra})
    sweep_id = new_run_id(f"sweep-{base.model.name}")
    path = make_run_folder(runs_dir, sweep_id, allow_prepared=False, what="sweep")
    write_text_record(path / BASE, dump_toml(base))
    write_sweep_record(path, SWEEP, {"id": sweep_id, "target": target, "description": description,
                                    "model": base.model.name, "data": base.data.name, "grid": grid, "seeds": seeds,
                                    "parallel": parallel,
                                    "created": time.time(), "members": members, **(search or {})})
    return path


def run_members(path: Path, parallel: int | None = None, log: Any = None) -> bool:
    """Run every member of the sweep at `path` that has not ended; True when none was interrupted."""
    record = read_sweep(path)
    parallel = parallel or int(record.get("parallel") or 1)
    if record.get("scheduler"):  # successive halving or ASHA: trials go on rung by rung
        from d2ltui.engine.orchestration.rungs import run_rungs

        return run_rungs(path, parallel, log)
    todo = []
    for member in record["members"]:
        if (path / member["id"]).is_dir():
            wait_for_live(path, member, log)
            if read_status(path / member["id"]).get("state") in DONE_STATES:
                continue
        todo.append(member)
    if not todo:
        return True
    from d2ltui.config.schema import from_dict, load_toml

    device = from_dict(load_toml(path / BASE), source=str(path / BASE)).train.device
    if parallel != record.get("parallel"):
        write_sweep_record(path, SWEEP, {**record, "parallel": parallel})
    return Scheduler(path, slots_for(parallel, device), log=log).run(todo)
