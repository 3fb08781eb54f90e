"""Intents to the engine: start `d2l-tui train` as its own process, pause/resume/stop it by signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from d2ltui.rundir.store import new_run_id, read_status

TRAIN_NICENESS = 5  # the engine yields the CPU to the interface's redraws; alone, it still gets all of it
SIGNALS: dict[str, signal.Signals] = {"pause": signal.SIGUSR1, "resume": signal.SIGUSR2, "stop": signal.SIGTERM}


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
        if self.base_file and ((self.path / "status.json").exists() or not self.alive()):
            Path(self.base_file).unlink(missing_ok=True)
            self.base_file = ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, intent: str) -> None:
        """Signal the process group this app started (the engine and any torchrun workers)."""
        if self.alive():
            try:
                os.killpg(self.proc.pid, SIGNALS[intent] if intent in SIGNALS else signal.SIGKILL)
            except ProcessLookupError:
                pass

    def early_error(self) -> str:
        """The process's last stderr line when it died before writing its run directory."""
        if self.alive() or self.stderr is None:
            return ""
        self.stderr.seek(0)
        lines = [ln for ln in self.stderr.read().decode(errors="replace").splitlines() if ln.strip()]
        return lines[-1] if lines else f"exited with code {self.proc.returncode}"


def train_command(target: str, overrides: list[str], run_id: str, runs_dir: Path,
                  device: str = "", nproc: int = 0, resume: str = "") -> list[str]:
    cmd = [sys.executable, "-m", "d2ltui", "train"]
    cmd += ["--resume", resume] if resume else [target]
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
    run_id = resume or new_run_id(model)
    runs_dir.mkdir(parents=True, exist_ok=True)
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
    if status.get("state") not in ("running", "paused", "starting") or not pid:
        return f"run is {status.get('state')}: nothing to {intent}"
    try:
        os.kill(pid, SIGNALS[intent])
    except (ProcessLookupError, PermissionError) as err:
        return f"cannot signal process {pid}: {err.strerror}"
    return f"sent {intent}"
