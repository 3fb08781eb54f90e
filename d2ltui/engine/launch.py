"""Start training elsewhere: detached in its own session, or under torchrun as one process group."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from d2ltui.rundir.store import (LOG, STATUS, RunDir, atomic_write_json, fsync_dir, new_run_id, pid_start,
                                  resolve_runs_dir)
from d2ltui.errors import UserError

GRACE_S = 20.0  # after a stop signal: time for every worker to checkpoint before SIGKILL


@dataclass(frozen=True)
class Detached:
    run_id: str
    pid: int
    path: Path


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
                    quiet: bool = False) -> Detached:
    """Start `python -m d2ltui train ARGV --run-id ID` in its own session and return at once.

    The child ignores the terminal: stdin is /dev/null, stdout and stderr go to the run's
    output.log, and its new session gets no SIGHUP when the terminal or SSH connection
    closes. A new run's folder is made now (output.log plus a `starting` status naming the
    child's pid) so `d2l-tui runs` sees it at once and a child that dies early shows as
    crashed; a resumed run appends to its own output.log.
    """
    args = train_argv(argv, drop=("--detach",), drop_valued=("--run-id",))
    resume = _option(args, "--resume")
    if resume:
        folder = RunDir.find(resume, runs_dir).path
        run_id = folder.name
    else:
        run_id = run_id or new_run_id("run")
        folder = resolve_runs_dir(runs_dir) / run_id
        try:
            folder.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise UserError(f"run directory {folder} already exists") from None
        except OSError as err:
            raise UserError(f"cannot create run directory {folder}: {err.strerror}") from None
        args += ["--run-id", run_id]
    if runs_dir is not None and _option(args, "--runs-dir") is None:
        args += ["--runs-dir", str(runs_dir)]
    cmd = [sys.executable, "-m", "d2ltui", "train", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(folder / LOG, "ab") as log, open(os.devnull, "rb") as devnull:
        log.write(f"$ d2l-tui train {' '.join(args)}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, stdin=devnull, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True, env=env)
    if not resume:  # unless the child already wrote its own status (never overwrite it)
        _create_json(folder / STATUS, {
            "state": "starting", "pid": proc.pid, "pid_start": pid_start(proc.pid),
            "host": socket.gethostname(), "message": "detached, starting", "updated": time.time()})
    if not quiet:
        print(run_id, flush=True)
        print(f"detached: pid {proc.pid}, output in {folder / LOG}; follow it with "
              f"`d2l-tui attach {run_id}` or `d2l-tui runs`", file=sys.stderr, flush=True)
    return Detached(run_id=run_id, pid=proc.pid, path=folder)


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


def torchrun_command(argv: list[str], nproc: int, nnodes: str | None = None, rdzv_endpoint: str | None = None,
                     rdzv_id: str | None = None) -> list[str]:
    """The `python -m torch.distributed.run ... -m d2ltui train ...` command line for a job."""
    if nproc < 1:
        raise UserError(f"--nproc {nproc}: needs at least one process per node")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc)]
    if rdzv_endpoint:
        cmd += ["--nnodes", nnodes or "1", "--rdzv-backend", "c10d", "--rdzv-endpoint", rdzv_endpoint,
                "--rdzv-id", rdzv_id or "d2ltui"]
    elif nnodes not in (None, "1", "1:1"):
        raise UserError(f"--nnodes {nnodes}: several machines need --rdzv-endpoint HOST:PORT "
                        f"(the same on every machine)")
    else:
        cmd += ["--standalone"]
    args = train_argv(argv, drop=("--detach",), drop_valued=("--nproc", "--nnodes", "--rdzv-endpoint", "--rdzv-id"))
    return cmd + ["-m", "d2ltui", "train", *args]


def launch_torchrun(argv: list[str], nproc: int, nnodes: str | None = None, rdzv_endpoint: str | None = None,
                    rdzv_id: str | None = None, grace: float = GRACE_S) -> int:
    """Run the job under torchrun in its own session and return its exit code.

    torchrun starts each worker in a session of its own, so this launcher keeps track of
    every process below it (and, as a child subreaper, inherits any orphan). SIGINT,
    SIGTERM and SIGHUP reaching the launcher go to every worker (each finishes its batch,
    rank 0 checkpoints; torchrun then ends by itself); whatever is still alive `grace`
    seconds later is killed, and so is anything left once torchrun exits: no worker
    outlives the job. torchrun's own tracebacks and log lines are condensed to one line
    per failed worker.
    """
    cmd = torchrun_command(argv, nproc, nnodes, rdzv_endpoint, rdzv_id)
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


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


class ProcessTree:
    """Every process started below `root` (found through /proc), remembered with its start time."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.known: dict[int, str] = {}  # pid -> start time, to tell a reused pid apart
        self.refresh()

    def refresh(self) -> None:
        parents: dict[int, list[int]] = {}
        for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
            if entry.isdigit() and (fields := _stat(int(entry))):
                parents.setdefault(int(fields[1]), []).append(int(entry))
        todo = [self.root, *self.known]  # children of known orphans (now re-parented to us) count too
        while todo:
            for child in parents.get(todo.pop(), []):
                if child not in self.known and (fields := _stat(child)) and len(fields) > 19:
                    self.known[child] = fields[19]
                    todo.append(child)

    def alive(self) -> list[int]:
        out = []
        for pid, started in self.known.items():
            fields = _stat(pid)
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
