"""Start a run's job as another process, the one launcher: detached from the terminal, or a child of the TUI.

The run directory (config.toml) exists first; the process is `python -m d2ltui.engine.job RUN_DIR`.

Intents to a started run go through d2ltui.engine.loop.control (the one intent -> signal map);
several processes under torchrun: d2ltui.engine.launching.torchrun.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from d2ltui.engine.loop.control import send, send_group
from d2ltui.rundir.states import LIVE_STATES, RunState
from d2ltui.rundir.store import LOG, STATUS, pid_start, read_status
from d2ltui.rundir.writer import atomic_write_json, fsync_dir

JOB = [sys.executable, "-m", "d2ltui.engine.job"]  # the job's command line, before RUN_DIR (d2ltui.engine.job)
TRAIN_NICENESS = 5  # a TUI's run yields the CPU to the interface's redraws; alone, it still gets all of it


@dataclass(frozen=True)
class Processes:
    """Where a job's processes run: `nproc` per machine under torchrun (1: this process alone)."""

    nproc: int = 1
    nnodes: str | None = None
    rdzv_endpoint: str | None = None
    rdzv_id: str | None = None

    @property
    def torchrun(self) -> bool:
        return self.nproc > 1 or bool(self.rdzv_endpoint)

    def args(self) -> list[str]:
        """These settings as the job entry's options."""
        out = ["--nproc", str(self.nproc)] if self.torchrun else []
        for flag, value in (("--nnodes", self.nnodes), ("--rdzv-endpoint", self.rdzv_endpoint),
                            ("--rdzv-id", self.rdzv_id)):
            out += [flag, value] if value and self.torchrun else []
        return out


def job_command(path: str | Path, resume: bool = False, plain: bool = True,
                processes: Processes = Processes()) -> list[str]:
    """The command line starting the job on the run directory `path` in another process."""
    return JOB + [str(path)] + (["--resume"] if resume else []) + (["--plain"] if plain else []) + processes.args()


@dataclass(frozen=True)
class Detached:
    run_id: str
    pid: int
    path: Path
    proc: subprocess.Popen | None = field(default=None, compare=False, repr=False)  # to wait on it (a sweep)


def launch_detached(run: Path, resume: bool = False, processes: Processes = Processes(), title: str = "",
                    quiet: bool = False, env: dict[str, str] | None = None) -> Detached:
    """Start the job on the run directory `run` (config.toml written) in its own session and return at once.

    The child ignores the terminal: stdin is /dev/null, stdout and stderr go to the run's
    output.log, and its new session gets no SIGHUP when the terminal or SSH connection
    closes. A new run gets a `starting` status naming the child's pid at once, so
    `d2l-tui runs` sees it and a child that dies early shows as crashed; a resumed run
    appends to its own output.log. `title` heads the run's part of output.log; `env` adds
    environment variables (a sweep sets each run's torch threads).
    """
    folder = Path(run)
    cmd = job_command(folder, resume, plain=True, processes=processes)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with open(folder / LOG, "ab") as log, open(os.devnull, "rb") as devnull:
        log.write(f"$ {title or 'd2l-tui train ' + ('--resume ' if resume else '') + folder.name}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, stdin=devnull, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True, env=env)
    if not resume:  # unless the child already wrote its own status (never overwrite it)
        _create_json(folder / STATUS, {
            "state": RunState.STARTING.value, "pid": proc.pid, "pid_start": pid_start(proc.pid),
            "host": socket.gethostname(), "message": "detached, starting", "updated": time.time()})
    if not quiet:
        print(folder.name, flush=True)
        print(f"detached: pid {proc.pid}, output in {folder / LOG}; follow it with "
              f"`d2l-tui attach {folder.name}` or `d2l-tui runs`", file=sys.stderr, flush=True)
    return Detached(run_id=folder.name, pid=proc.pid, path=folder, proc=proc)


def _create_json(path: Path, obj: dict) -> bool:
    """Write `obj` to `path` atomically only if `path` does not exist yet (hard link: no replace)."""
    tmp = path.with_name(f".{path.name}.launch.tmp")
    atomic_write_json(tmp, obj)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True


@dataclass
class Launch:
    """A training process this app started, with its stderr kept for an early failure."""

    run_id: str
    path: Path
    proc: subprocess.Popen
    stderr: object = field(repr=False, default=None)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, intent: str) -> None:
        """Signal the process group this app started (the engine and any torchrun workers)."""
        if self.alive():
            send_group(self.proc.pid, intent)

    def early_error(self) -> str:
        """The process's last stderr line when it died before writing its run directory."""
        if self.alive() or self.stderr is None:
            return ""
        self.stderr.seek(0)
        lines = [ln for ln in self.stderr.read().decode(errors="replace").splitlines() if ln.strip()]
        return lines[-1] if lines else f"exited with code {self.proc.returncode}"


def start_job(run: Path, resume: bool = False, nproc: int = 0) -> Launch:
    """Start the job on the run directory `run` in a new session (it survives the TUI if left running),
    at a lower priority than the interface; its stderr is kept for an early failure."""
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(job_command(run, resume, plain=True, processes=Processes(max(nproc, 1))),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        os.setpriority(os.PRIO_PROCESS, proc.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + TRAIN_NICENESS))
    except (OSError, AttributeError):  # not permitted, or no such call here: run at normal priority
        pass
    return Launch(Path(run).name, Path(run), proc, err)


def signal_run(path: Path, intent: str) -> str:
    """Send pause/resume/stop to the process the run's status names; returns a one-line outcome.

    Only that process is signalled (a shell pipeline around it, such as `| tee`, is left alone).
    """
    status = read_status(path)
    pid = status.get("pid")
    if status.get("state") not in LIVE_STATES or not pid:
        return f"run is {status.get('state')}: nothing to {intent}"
    try:
        send(pid, intent)
    except (ProcessLookupError, PermissionError) as err:
        return f"cannot signal process {pid}: {err.strerror}"
    return f"sent {intent}"
