"""Helpers for the TUI's Pilot tests: wait for summaries and run polls, read widgets, write runs by hand."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

from d2ltui.tui.widgets.layer_table import LayerTable


async def until(pilot, condition: Callable[[], bool], timeout: float = 30.0, step: float = 0.05) -> None:
    """Let the app run until `condition()` holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await pilot.pause(step)


async def settle_summary(pilot, timeout: float = 30.0) -> LayerTable:
    """Wait until the inspector has shown the summary of the latest request."""
    await until(pilot, lambda: bool(pilot.app.screen.query(LayerTable)), timeout)  # mounted after the first paint
    table = pilot.app.screen.query_one(LayerTable)
    await pilot.pause(0.2)
    await until(pilot, lambda: table._pending is None and not [
        w for w in pilot.app.workers if w.group == "summary" and not w.is_finished], timeout)
    await pilot.pause(0.05)
    return table


def row_types(table: LayerTable) -> list[str]:
    return [row.type for row in table.inspection.rows] if table.inspection else []


def write_run(root: Path, run_id: str, model: str = "lenet", data: str = "shapes", state: str = "finished",
              epochs: int = 2, knobs: dict[str, Any] | None = None, optim: dict[str, Any] | None = None,
              pid: int | None = None, samples: dict[str, Any] | None = None) -> Path:
    """A run directory in the engine's format, written by hand (config, metrics, status, samples)."""
    path = root / run_id
    path.mkdir(parents=True)
    knob_lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in (knobs or {}).items())
    optim_lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in (optim or {"lr": 0.1}).items())
    (path / "config.toml").write_text(
        f'[model]\nname = "{model}"\n{knob_lines}\n[data]\nname = "{data}"\nbatch_size = 64\n\n'
        f"[optim]\n{optim_lines}\n[train]\nepochs = {epochs}\n")
    start = time.time() - 60
    with open(path / "metrics.jsonl", "w") as f:
        for epoch in range(epochs):
            for i in range(5):
                step = epoch * 5 + i + 1
                f.write(json.dumps({"step": step, "epoch": epoch, "split": "train", "loss": 2.3 / step,
                                    "acc": 0.1 + 0.05 * step, "samples_per_s": 1000 + step, "lr": 0.1,
                                    "time": float(step)}) + "\n")
            f.write(json.dumps({"step": (epoch + 1) * 5, "epoch": epoch, "split": "val", "loss": 2.0 / (epoch + 1),
                                "acc": 0.5 + 0.1 * epoch, "time": float((epoch + 1) * 5)}) + "\n")
    status = {"state": state, "pid": pid or os.getpid(), "message": "done" if state == "finished" else "",
              "started": start, "updated": start + 30, "epoch": epochs - 1, "total_epochs": epochs,
              "step": epochs * 5, "total_steps": epochs * 5}
    (path / "status.json").write_text(json.dumps(status))
    if samples is not None:
        (path / "samples.json").write_text(json.dumps(samples))
    return path


def pilot_test(fn: Callable) -> Callable:
    """Run an async test function under asyncio (no async plugin needed)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


def write_layers(path: Path, layers: tuple[str, ...] = ("conv1", "conv2", "fc3"), steps: int = 10) -> None:
    """A layers.jsonl in the engine's format, written by hand: gradients shrinking towards the first layer."""
    with open(path / "layers.jsonl", "w") as f:
        for step in range(1, steps + 1):
            for depth, layer in enumerate(layers):
                f.write(json.dumps({"step": step, "layer": layer, "type": "Conv2d" if "conv" in layer else "Linear",
                                    "act": "Sigmoid", "act_mean": 0.5, "act_std": 0.05 * (depth + 1),
                                    "saturated": 0.01 * depth, "dead": None,
                                    "grad_norm": 10.0 ** (depth - len(layers)) * (1 + step / 10),
                                    "weight_norm": 1.0 + depth, "update_ratio": 1e-3 / step}) + "\n")


def write_sweep(root: Path, sweep_id: str = "sweep-a", grid: dict[str, list[Any]] | None = None,
                members: list[tuple[dict[str, Any], int, int, str]] | None = None) -> Path:
    """A sweep folder in the engine's format, written by hand: sweep.json and one run per (setting, seed, epochs, state).

    A member trained for E epochs has the best val acc 0.5 + 0.1 * (E - 1) (see write_run).
    """
    grid = grid or {"model.norm": ["none", "batch"]}
    members = members if members is not None else [
        ({"model.norm": "none"}, 0, 2, "finished"), ({"model.norm": "none"}, 1, 3, "finished"),
        ({"model.norm": "batch"}, 0, 4, "finished"), ({"model.norm": "batch"}, 1, 4, "finished")]
    path = root / sweep_id
    path.mkdir(parents=True)
    record = []
    for i, (setting, seed, epochs, state) in enumerate(members):
        member = f"{i:02d}-{'_'.join(str(v) for v in setting.values())}-seed{seed}"
        record.append({"id": member, "setting": setting, "seed": seed, "overrides": []})
        if state != "pending":
            knobs = {k.split(".", 1)[1]: v for k, v in setting.items() if k.startswith("model.")}
            write_run(path, member, epochs=epochs, knobs=knobs, state=state)
    (path / "sweep.json").write_text(json.dumps({
        "id": sweep_id, "target": "lenet", "description": "by hand", "model": "lenet", "data": "shapes",
        "grid": grid, "seeds": 2, "parallel": 1, "created": 1_700_000_000.0, "members": record}))
    return path


def write_rung_sweep(root: Path, sweep_id: str = "sweep-rungs") -> Path:
    """A successive-halving sweep written by hand: 4 trials, rungs 1, 2, 4 epochs, eta 2, and its decisions.

    Val acc of trial i at epoch e is 0.3 + 0.1 * e + 0.05 * i: d (i=3) is best, then c; a and b stop at rung 1
    (1 epoch), c at rung 2 (2 epochs), d finishes at 4 epochs.
    """
    path = root / sweep_id
    path.mkdir(parents=True)
    levels, reached = [1, 2, 4], {"a": 0, "b": 0, "c": 1, "d": 2}
    members, events = [], []
    for i, (name, rung) in enumerate(reached.items()):
        member = f"{i:02d}-lr-0.{i + 1}-seed0"
        members.append({"id": member, "setting": {"optim.lr": float(f"0.{i + 1}")}, "seed": 0, "overrides": []})
        epochs = levels[rung]
        run = write_run(path, member, epochs=epochs, state="finished")
        with open(run / "metrics.jsonl", "w") as f:
            for e in range(1, epochs + 1):
                f.write(json.dumps({"step": 10 * e, "epoch": e, "split": "val", "loss": 1.0 / e,
                                    "acc": round(0.3 + 0.1 * e + 0.05 * i, 4), "time": float(e)}) + "\n")
    ids = [m["id"] for m in members]
    for rung, trials in enumerate((ids, ids[2:], ids[3:])):
        events += [["start", t, rung] for t in trials]
        for t in trials:
            acc = round(0.3 + 0.1 * levels[rung] + 0.05 * ids.index(t), 4)
            events.append(["score", t, rung, -acc, "acc", acc])
    (path / "rungs.json").write_text(json.dumps({"events": events}))
    (path / "base.toml").write_text('[model]\nname = "lenet"\n\n[data]\nname = "shapes"\n\n[train]\nepochs = 4\n')
    (path / "sweep.json").write_text(json.dumps({
        "id": sweep_id, "target": "lenet", "description": "by hand", "model": "lenet", "data": "shapes", "grid": {},
        "seeds": 1, "parallel": 1, "created": 1_700_000_000.0, "members": members, "space": {"optim.lr": "choice(0.1,0.2,0.3,0.4)"},
        "trials": 4, "scheduler": {"name": "successive-halving", "r_min": 1, "r_max": 4, "eta": 2, "rungs": levels}}))
    return path
