"""Sweeps: a grid of settings times seeds, each an ordinary run in its own process, P at a time.

`plan_sweep` checks every grid point before anything starts and writes the sweep folder
(d2ltui.rundir.sweeps); `run_members` starts the members through the one launcher
(d2ltui.engine.launching.processes), P at a time on the CPU (each with cores/P torch threads) or one per GPU,
and on Ctrl-C / SIGTERM / SIGHUP stops the running ones (each checkpoints) so that
`d2l-tui sweep --resume SWEEP` continues them: finished runs are kept, the others resume
(`train --resume`, which restarts a run killed before its first checkpoint).
"""

from __future__ import annotations

import itertools
import math
import os
import re
import signal
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from d2ltui.tasks.resolve import resolve
from d2ltui.config.overrides import override_key, parse_text, split_override, split_values
from d2ltui.config.schema import dump_toml, normalise_overrides
from d2ltui.engine.job import create_run, reopen_run
from d2ltui.engine.loop.control import STOP_SIGNALS, send_group
from d2ltui.engine.launching.processes import Detached, launch_detached
from d2ltui.errors import UserError
from d2ltui.rundir.states import LIVE_STATES
from d2ltui.rundir.store import CONFIG, new_run_id, pid_alive, read_status
from d2ltui.rundir.sweeps import BASE, DONE_STATES, SWEEP, read_sweep
from d2ltui.rundir.writer import make_run_folder, write_sweep_record, write_text_record

POLL_S = 0.25
MAX_SWEEP_RUNS = 64  # a bigger sweep starts only with --yes
STOP_GRACE_S = 60.0  # after a stop, members still alive this long later are killed


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


def slots_for(parallel: int, device: str) -> list[str | None]:
    """Where members run: one slot per GPU (`cuda:i`) on a CUDA box unless the base asks for the CPU, else P CPU slots."""
    if device.strip().lower() in ("auto", "cuda"):
        import torch

        if torch.cuda.is_available() and torch.cuda.device_count() > 0:
            return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return [None] * max(1, parallel)


@dataclass
class Scheduler:
    """Runs the unfinished members of one sweep, P at a time, and stops them all on a stop signal."""

    path: Path
    slots: list[str | None]
    running: dict[int, tuple[Detached, dict[str, Any]]] = field(default_factory=dict)  # slot -> member
    stopping: bool = False
    log: Any = None  # where progress lines go (stdout; stderr under --json)

    def say(self, line: str) -> None:
        print(line, file=self.log or sys.stdout, flush=True)

    def on_stop(self, signum: int, frame: Any) -> None:
        if self.stopping and signum == signal.SIGINT:  # a second Ctrl-C: kill at once
            for launched, _ in self.running.values():
                send_group(launched.pid, "kill")
        self.stopping = True
        self.stop_all()

    def stop_all(self) -> None:
        """Ask every running member to stop (each checkpoints first); asking twice is harmless."""
        for launched, _ in list(self.running.values()):
            try:
                send_group(launched.pid, "stop")
            except PermissionError:
                pass

    def start(self, slot: int, member: dict[str, Any], extra: list[str] = ()) -> None:
        """Write the member's run directory (its config.toml: the base, its setting, the slot's device, `extra`
        overrides such as a rung's train.epochs) and start its job; a member stopped or killed earlier is resumed
        (restarted when it has no checkpoint)."""
        folder = self.path / member["id"]
        device = self.slots[slot]
        sets = ([f"train.device={device}"] if device else []) + list(extra)
        resume = (folder / CONFIG).exists()
        try:
            if resume:
                run = reopen_run(str(folder), sets, None, self.path)
            else:
                if folder.exists():  # a launcher's folder whose job died before its config: start over
                    shutil.rmtree(folder)
                run = create_run(resolve(str(self.path / BASE), member["overrides"] + sets)[0], self.path, member["id"])
        except UserError as err:
            self.say(f"{member['id']}: cannot start: {err}")
            return
        threads = str(max(1, (os.cpu_count() or 1) // len(self.slots))) if device is None else None
        env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads} if threads else {}
        title = f"d2l-tui sweep member {member['id']}" + (" (resumed)" if resume else "")
        launched = launch_detached(run.path, resume, title=title, quiet=True, env=env)
        self.running[slot] = (launched, member)
        self.say(f"started {member['id']}" + (f" on {device}" if device else ""))

    def reap(self) -> list[dict[str, Any]]:
        """Forget the members whose process ended; returns them."""
        ended = []
        for slot, (launched, member) in list(self.running.items()):
            code = launched.proc.poll() if launched.proc else None
            if code is not None:
                del self.running[slot]
                ended.append(member)
                self.say(f"{member['id']}: {read_status(self.path / member['id']).get('state')} (exit {code})")
        return ended

    def run(self, todo: list[dict[str, Any]]) -> bool:
        """Run `todo`; True when none was interrupted."""
        previous = {sig: signal.signal(sig, self.on_stop) for sig in STOP_SIGNALS}
        try:
            queue = list(todo)
            while queue or self.running:
                self.reap()
                while queue and not self.stopping and len(self.running) < len(self.slots):
                    slot = next(i for i in range(len(self.slots)) if i not in self.running)
                    self.start(slot, queue.pop(0))
                if self.stopping:
                    break
                time.sleep(POLL_S)
            return self.drain()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def drain(self) -> bool:
        """Stop the members still running and wait for them (each checkpoints); True when no stop was asked."""
        deadline = time.time() + STOP_GRACE_S
        self.stop_all()  # again: a member launched while the signal arrived is asked too
        while self.running:  # stopping: each member checkpoints and exits
            self.reap()
            if time.time() > deadline:
                for launched, _ in self.running.values():
                    send_group(launched.pid, "kill")
            time.sleep(POLL_S)
        return not self.stopping


def wait_for_live(path: Path, member: dict[str, Any], log: Any = None) -> None:
    """A member still trained by a process of an earlier sweep command (it outlived a killed sweep): wait for it."""
    said = False
    while (status := read_status(path / member["id"])).get("state") in LIVE_STATES and status.get("pid") \
            and pid_alive(status.get("pid"), status.get("host"), status.get("pid_start")):
        if not said:
            print(f"waiting for {member['id']}, still {status['state']} (pid {status['pid']})",
                  file=log or sys.stdout, flush=True)
            said = True
        time.sleep(1.0)


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
