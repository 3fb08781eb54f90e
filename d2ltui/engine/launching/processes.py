"""Start training as another process, the one launcher: detached from the terminal, or a child of the TUI.

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
from d2ltui.rundir.names import check_id
from d2ltui.rundir.store import LOG, STATUS, RunDir, new_run_id, pid_start, read_status
from d2ltui.rundir.writer import atomic_write_json, fsync_dir, make_run_folder, make_runs_folder

ENGINE = [sys.executable, "-m", "d2ltui", "train"]  # the engine's command line, before its arguments
TRAIN_NICENESS = 5  # a TUI's run yields the CPU to the interface's redraws; alone, it still gets all of it


@dataclass(frozen=True)
class Detached:
    run_id: str
    pid: int
    path: Path
    proc: subprocess.Popen | None = field(default=None, compare=False, repr=False)  # to wait on it (a sweep)


def _option(argv: list[str], name: str) -> str | None:
    """The value of `--name V` or `--name=V` in argv, if present."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def train_argv(argv: list[str], drop: tuple[str, ...] = (), drop_valued: tuple[str, ...] = ()) -> list[str]:
    """The `train` arguments without the leading 'train' and without the named flags/options."""
    out, skip = [], False
    for arg in argv[1:] if argv[:1] == ["train"] else argv:
        if skip:
            skip = False
            continue
        if arg in drop or any(arg.startswith(o + "=") for o in drop_valued):
            continue
        if arg in drop_valued:
            skip = True
            continue
        out.append(arg)
    return out


def launch_detached(argv: list[str], run_id: str | None, runs_dir: str | Path | None,
                    quiet: bool = False, env: dict[str, str] | None = None) -> Detached:
    """Start `python -m d2ltui train ARGV --run-id ID` in its own session and return at once.

    The child ignores the terminal: stdin is /dev/null, stdout and stderr go to the run's
    output.log, and its new session gets no SIGHUP when the terminal or SSH connection
    closes. A new run's folder is made now (output.log plus a `starting` status naming the
    child's pid) so `d2l-tui runs` sees it at once and a child that dies early shows as
    crashed; a resumed run appends to its own output.log. `env` adds environment variables
    (a sweep sets each run's torch threads).
    """
    args = train_argv(argv, drop=("--detach",), drop_valued=("--run-id",))
    resume = _option(args, "--resume")
    if resume:
        folder = RunDir.find(resume, runs_dir).path
        run_id = folder.name
    else:
        run_id = run_id or new_run_id("run")
        folder = make_run_folder(runs_dir, run_id, allow_prepared=False)
        args += ["--run-id", run_id]
    if runs_dir is not None and _option(args, "--runs-dir") is None:
        args += ["--runs-dir", str(runs_dir)]
    cmd = ENGINE + args
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with open(folder / LOG, "ab") as log, open(os.devnull, "rb") as devnull:
        log.write(f"$ d2l-tui train {' '.join(args)}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, stdin=devnull, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True, env=env)
    if not resume:  # unless the child already wrote its own status (never overwrite it)
        _create_json(folder / STATUS, {
            "state": RunState.STARTING.value, "pid": proc.pid, "pid_start": pid_start(proc.pid),
            "host": socket.gethostname(), "message": "detached, starting", "updated": time.time()})
    if not quiet:
        print(run_id, flush=True)
        print(f"detached: pid {proc.pid}, output in {folder / LOG}; follow it with "
              f"`d2l-tui attach {run_id}` or `d2l-tui runs`", file=sys.stderr, flush=True)
    return Detached(run_id=run_id, pid=proc.pid, path=folder, proc=proc)


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
    base_file: str = ""  # the temporary base config, removed once the run has read it

    def tidy(self) -> None:
        """Remove the temporary base config once the engine has written its own config.toml."""
        if self.base_file and ((self.path / STATUS).exists() or not self.alive()):
            Path(self.base_file).unlink(missing_ok=True)
            self.base_file = ""

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


def train_command(target: str, overrides: list[str], run_id: str, runs_dir: Path,
                  device: str = "", nproc: int = 0, resume: str = "") -> list[str]:
    """The engine's command line for a run the TUI starts (plain progress: nobody reads it live)."""
    cmd = ENGINE + (["--resume", resume] if resume else [target])
    for item in overrides:
        cmd += ["--set", item]
    if device:
        cmd += ["--device", device]
    if nproc > 1:
        cmd += ["--nproc", str(nproc)]
    if not resume:
        cmd += ["--run-id", run_id]
    return cmd + ["--runs-dir", str(runs_dir), "--plain"]


def start_training(model: str, overrides: list[str], runs_dir: Path, device: str = "",
                   nproc: int = 0, resume: str = "", base_toml: str = "") -> Launch:
    """Spawn the engine in a new session (it survives the TUI if left running).

    `base_toml`, when given, is the config the overrides apply to (the target is that file,
    so a preset sharing the model's name cannot slip its own settings in).
    """
    run_id = check_id(resume or new_run_id(model))
    runs_dir = make_runs_folder(runs_dir)
    err = tempfile.TemporaryFile()
    target = model
    if base_toml:
        with tempfile.NamedTemporaryFile("w", suffix=".toml", prefix=f"{run_id}-", delete=False) as f:
            f.write(base_toml)
        target = f.name
    proc = subprocess.Popen(
        train_command(target, overrides, run_id, runs_dir, device, nproc, resume),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        os.setpriority(os.PRIO_PROCESS, proc.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + TRAIN_NICENESS))
    except (OSError, AttributeError):  # not permitted, or no such call here: run at normal priority
        pass
    return Launch(run_id, runs_dir / run_id, proc, err, target if base_toml else "")


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
