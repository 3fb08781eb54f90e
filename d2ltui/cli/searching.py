"""`d2l-tui sweep` with a search: random settings (--sample, --trials) and rung schedulers (--scheduler, r_min, r_max, eta)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from d2ltui.errors import UserError

SEARCH_KEYS = ("sample", "trials", "scheduler", "r_min", "r_max", "eta")  # of a preset's [sweep] table too
RANDOM_TRIALS = 10  # --sample without --trials and without a scheduler


def check_search_table(table: dict[str, Any], name: str) -> None:
    """A preset's [sweep] search keys: sample = {KEY = "loguniform(a,b)"}, integers >= 1, a scheduler name."""
    sample = table.get("sample", {})
    if not isinstance(sample, dict) or not all(isinstance(v, str) for v in sample.values()):
        raise UserError(f"{name}: sweep.sample must map config keys to strings such as \"loguniform(1e-2,1)\"")
    for key in ("trials", "r_min", "r_max", "eta"):
        if key in table and (not isinstance(table[key], int) or table[key] < 1):
            raise UserError(f"{name}: sweep.{key} must be an integer >= 1")
    if "scheduler" in table and not isinstance(table["scheduler"], str):
        raise UserError(f"{name}: sweep.scheduler must be a string (successive-halving or asha)")


def plan_search(target: str, grid: dict[str, list], seeds: int, overrides: list[str], device: str | None,
                table: dict[str, Any], options: dict[str, Any]) -> tuple[list[dict] | None, dict[str, Any], list[str]]:
    """(settings drawn, or None for the grid's product; what sweep.json keeps of the search; the base's overrides).

    Options win over the preset's [sweep] keys. A scheduler trains every trial at most r_max epochs
    (the base's train.epochs by default), so the base gets train.epochs=r_max.
    """
    from d2ltui.engine.orchestration.halving import make_scheduler, rung_levels
    from d2ltui.engine.orchestration.search import parse_samples, sample_settings
    from d2ltui.tasks.resolve import resolve

    pick = {key: options.get(key) if options.get(key) is not None else table.get(key) for key in SEARCH_KEYS}
    samples = [f"{k}={v}" for k, v in (table.get("sample") or {}).items()] + list(options.get("sample") or [])
    if not samples and not pick["scheduler"]:
        if pick["trials"] is not None:
            raise UserError("--trials goes with --sample KEY=loguniform(a,b) (a random search)")
        return None, {}, overrides
    space = parse_samples(samples)
    if space and grid:
        raise UserError("give either --grid (every combination) or --sample (random draws), not both")
    base = resolve(target, overrides, device)[0]
    extra: dict[str, Any] = {}
    if pick["scheduler"]:
        if seeds > 1:
            raise UserError(f"--scheduler {pick['scheduler']}: one seed per trial (drop --seeds {seeds})")
        r_max = pick["r_max"] or base.train.epochs
        levels = rung_levels(pick["r_min"] or 1, r_max, pick["eta"] or 2)
        make_scheduler(pick["scheduler"], [], levels, pick["eta"] or 2)  # a bad name fails here
        extra["scheduler"] = {"name": pick["scheduler"], "r_min": levels[0], "r_max": r_max,
                              "eta": pick["eta"] or 2, "rungs": levels}
        overrides = [*overrides, f"train.epochs={r_max}"]
    if not space:
        if pick["trials"] is not None:
            raise UserError("--trials goes with --sample KEY=loguniform(a,b) (a grid has its own size)")
        return None, extra, overrides
    scheduler = extra.get("scheduler")
    trials = pick["trials"] or (scheduler["eta"] ** (len(scheduler["rungs"]) - 1) if scheduler else RANDOM_TRIALS)
    extra.update(space={key: str(domain) for key, domain in space.items()}, trials=trials)
    return sample_settings(space, trials, base.train.seed), extra, overrides


def retrain_command(path: Path, trial) -> str:
    """The command that trains a trial's setting again, for its full r_max epochs."""
    from d2ltui.engine.orchestration.sweep import setting_overrides
    from d2ltui.rundir.sweeps import BASE

    sets = " ".join(f"--set {item}" for item in setting_overrides(trial.setting))
    return f"d2l-tui train {path / BASE} {sets}".replace("'", "")


def print_trials(path: Path, json_out: bool) -> int:
    """A rung sweep's trials (settings, state, rung reached, metric) and its best; 0 when none failed or is left."""
    from d2ltui.engine.orchestration.rungs import best_trial, trials
    from d2ltui.format import format_number
    from d2ltui.rundir.sweeps import read_sweep

    record, rows = read_sweep(path), trials(path)
    top = best_trial(rows)
    complete = all(t.state in ("finished", "stopped") for t in rows)
    if json_out:
        best = top and {**top.to_dict(), "train": retrain_command(path, top)}
        print(json.dumps({"sweep": record["id"], "path": str(path), "scheduler": record["scheduler"],
                          "space": record.get("space"), "grid": record.get("grid"),
                          "metric": top.metric if top else None, "trials": [t.to_dict() for t in rows],
                          "best": best}, indent=1))
        return 0 if complete else 1
    keys = list(record.get("space") or record.get("grid") or {})
    table = [["trial", *keys, "state", "epochs", top.metric if top else "metric"]]
    for t in rows:
        table.append([t.id, *(str(t.setting.get(k)) for k in keys), t.state, str(t.rung or "-"),
                      format_number(t.value) if t.value is not None else "-"])
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for line in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
    if top:
        print(f"best: {top.id} ({top.metric} {format_number(top.value)} at {top.rung} epochs); "
              f"train it again: {retrain_command(path, top)}")
    return 0 if complete else 1
