"""The member processes of a sweep: where they run (device slots), starting, reaping and stopping them."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from d2ltui.engine.job import create_run, reopen_run
from d2ltui.engine.launching.processes import Detached, launch_detached
from d2ltui.engine.loop.control import STOP_SIGNALS, send_group
from d2ltui.errors import UserError
from d2ltui.rundir.states import LIVE_STATES
from d2ltui.rundir.store import CONFIG, pid_alive, read_status
from d2ltui.rundir.sweeps import BASE
from d2ltui.tasks.resolve import resolve

POLL_S = 0.25
STOP_GRACE_S = 60.0  # after a stop, members still alive this long later are killed


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
