"""Run a job under torchrun as one process group: signals reach every worker, none outlives the job."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from d2ltui.engine.launching.processes import Processes, job_command
from d2ltui.errors import UserError
from d2ltui.rundir.store import proc_stat

GRACE_S = 20.0  # after a stop signal: time for every worker to checkpoint before SIGKILL


def torchrun_command(run: Path, resume: bool, plain: bool, processes: Processes) -> list[str]:
    """The `python -m torch.distributed.run ... -m d2ltui.engine.job RUN_DIR` command line: every worker trains
    the run directory `run`."""
    nproc, nnodes = processes.nproc, processes.nnodes
    if nproc < 1:
        raise UserError(f"--nproc {nproc}: needs at least one process per node")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc)]
    if processes.rdzv_endpoint:
        cmd += ["--nnodes", nnodes or "1", "--rdzv-backend", "c10d", "--rdzv-endpoint", processes.rdzv_endpoint,
                "--rdzv-id", processes.rdzv_id or "d2ltui"]
    elif nnodes not in (None, "1", "1:1"):
        raise UserError(f"--nnodes {nnodes}: several machines need --rdzv-endpoint HOST:PORT "
                        f"(the same on every machine)")
    else:
        cmd += ["--standalone"]
    return cmd + job_command(run, resume, plain)[1:]


def launch_torchrun(run: Path, resume: bool, plain: bool, processes: Processes, grace: float = GRACE_S) -> int:
    """Run the job under torchrun in its own session and return its exit code.

    torchrun starts each worker in a session of its own, so this launcher keeps track of
    every process below it (and, as a child subreaper, inherits any orphan). SIGINT,
    SIGTERM and SIGHUP reaching the launcher go to every worker (each finishes its batch,
    rank 0 checkpoints; torchrun then ends by itself); whatever is still alive `grace`
    seconds later is killed, and so is anything left once torchrun exits: no worker
    outlives the job. torchrun's own tracebacks and log lines are condensed to one line
    per failed worker.
    """
    cmd = torchrun_command(run, resume, plain, processes)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    _set_subreaper(True)
    proc = subprocess.Popen(cmd, start_new_session=True, env=env, stderr=subprocess.PIPE)
    quiet = TorchrunFilter(proc.stderr, sys.stderr)
    quiet.start()
    tree = ProcessTree(proc.pid)
    stop_at: list[float] = []
    received: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        if not stop_at:
            stop_at.append(time.monotonic() + grace)
        tree.signal(signum, workers_only=True)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        while True:
            try:
                code = proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                tree.refresh()
                if stop_at and time.monotonic() > stop_at[0]:
                    tree.signal(signal.SIGKILL)
    finally:
        tree.finish(min(grace, 5.0))
        _set_subreaper(False)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        quiet.join(timeout=5)
    if not received:
        for rank, exit_code in quiet.failures:
            print(f"d2l-tui: worker rank {rank} exited with code {exit_code}", file=sys.stderr, flush=True)
        if code and any(exit_code == "2" for _rank, exit_code in quiet.failures):
            return 2  # a worker refused its input (a UserError): the same exit code as one process
    if received:  # stopped on request: the shell's convention, whatever torchrun made of it
        return 128 + received[0]
    return 128 - code if code < 0 else code


class TorchrunFilter(threading.Thread):
    """Copies the job's stderr (torchrun's and the workers') minus torchrun's own noise.

    Dropped: torchrun's log lines, and its tracebacks (SignalException, ChildFailedError)
    with the failure report that follows, whose ranks and exit codes are kept in `failures`.
    A worker's own output and tracebacks pass through unchanged.
    """

    LOG = re.compile(r"^[WEI]\d{4} [\d:.]+ +\d+ .*torch/distributed/")

    def __init__(self, src, dst) -> None:
        super().__init__(daemon=True)
        self.src, self.dst = src, dst
        self.failures: list[tuple[str, str]] = []

    def run(self) -> None:
        block: list[str] = []
        rules, rank = -1, "?"  # rules >= 0: inside a failure report, counting its ==== lines
        for raw in iter(self.src.readline, b""):
            line = raw.decode(errors="replace")
            if rules >= 0:
                rules += line.startswith("=====")
                if found := re.match(r"\s*rank\s*:\s*(\d+)", line):
                    rank = found.group(1)
                elif found := re.match(r"\s*exitcode\s*:\s*(-?\d+)", line):
                    self.failures.append((rank, found.group(1)))
                rules = -1 if rules >= 2 else rules
            elif block:
                block.append(line)
                if line.strip() and not line[0].isspace():  # the exception line ends a traceback
                    if not line.startswith("torch.distributed.elastic."):
                        self.write("".join(block))
                    elif "ChildFailedError" in line:
                        rules = 0
                    block = []
            elif line.startswith("Traceback (most recent call last):"):
                block = [line]
            elif not self.LOG.match(line):
                self.write(line)
        if block:
            self.write("".join(block))

    def write(self, text: str) -> None:
        try:
            self.dst.write(text)
            self.dst.flush()
        except (OSError, ValueError):
            pass


def _set_subreaper(on: bool) -> None:
    """Linux: while on, orphaned descendants are re-parented to this process instead of init."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, int(on), 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


class ProcessTree:
    """Every process started below `root` (found through /proc), remembered with its start time."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.known: dict[int, str] = {}  # pid -> start time, to tell a reused pid apart
        self.refresh()

    def refresh(self) -> None:
        parents: dict[int, list[int]] = {}
        for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
            if entry.isdigit() and (fields := proc_stat(int(entry))):
                parents.setdefault(int(fields[1]), []).append(int(entry))
        todo = [self.root, *self.known]  # children of known orphans (now re-parented to us) count too
        while todo:
            for child in parents.get(todo.pop(), []):
                if child not in self.known and (fields := proc_stat(child)) and len(fields) > 19:
                    self.known[child] = fields[19]
                    todo.append(child)

    def alive(self) -> list[int]:
        out = []
        for pid, started in self.known.items():
            fields = proc_stat(pid)
            if fields and fields[19] == started and fields[0] not in ("Z", "X"):
                out.append(pid)
        return out

    def signal(self, sig: int, workers_only: bool = False) -> None:
        """Send `sig` to every live process below the root, and to the root's group unless `workers_only`
        (then the root is signalled only while it has no workers yet)."""
        self.refresh()
        alive = self.alive()
        if not workers_only or not alive:
            _killpg(self.root, sig)
        for pid in alive:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def finish(self, grace: float) -> None:
        """After torchrun exits: SIGTERM what is left, SIGKILL it after `grace`, reap re-parented orphans."""
        self.refresh()
        if self.alive():
            self.signal(signal.SIGTERM)
            deadline = time.monotonic() + grace
            while self.alive() and time.monotonic() < deadline:
                self.reap()
                time.sleep(0.05)
            self.signal(signal.SIGKILL)
        for _ in range(40):
            self.reap()
            if not self.alive():
                break
            time.sleep(0.05)

    def reap(self) -> None:
        """Collect the known processes that exited as our children (inherited orphans): no zombies."""
        for pid in self.known:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
