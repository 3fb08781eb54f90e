"""Helpers for the fault-injection tests: run the CLI in-process or as a child, watch a run, kill it."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from d2ltui.rundir.store import CHECKPOINT, METRICS, read_metrics

# A small MLP with dropout (so resuming must restore the random state) on the embedded moons set:
# 63 steps an epoch, 252 in all, about 1.5 s of training on one CPU thread.
TINY = ["mlp", "--set", "data.name=moons", "--set", "hidden=(64,64)", "--set", "dropout=0.2",
        "--set", "train.epochs=4", "--set", "data.batch_size=16", "--set", "train.log_every=1", "--plain"]
CHILD_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def cli(*args: str) -> tuple[int, str, str]:
    """Run `d2l-tui ARGS` in this process (torch already imported: fast); exit code, stdout, stderr."""
    from d2ltui.cli import main

    out, err = io.StringIO(), io.StringIO()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                                                  signal.SIGUSR1, signal.SIGUSR2)}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the children run (OMP_NUM_THREADS=1): same kernels, same bits
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        torch.set_num_threads(threads)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return code, out.getvalue(), err.getvalue()


def spawn(*args: str, new_session: bool = False, log: Path | None = None) -> subprocess.Popen:
    """`python -m d2ltui ARGS` as a child process."""
    sink = open(log, "ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen([sys.executable, "-m", "d2ltui", *args], env=CHILD_ENV, stdin=subprocess.DEVNULL,
                                stdout=sink, stderr=subprocess.STDOUT, start_new_session=new_session)
    finally:
        if log:
            sink.close()


def wait_for_step(proc: subprocess.Popen, run: Path, step: int, need_checkpoint: bool = True,
                  timeout: float = 120.0) -> int | None:
    """Poll the run's metrics until a train line reaches `step` (and a checkpoint exists); the step seen.

    None when the process ended first.
    """
    offset, seen, deadline = 0, 0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        records, offset = read_metrics(run / METRICS, offset)
        seen = max([seen] + [r.get("step", 0) for r in records if r.get("split") == "train"])
        if seen >= step and (not need_checkpoint or (run / CHECKPOINT).exists()):
            return seen
        if proc.poll() is not None:
            return None
        time.sleep(0.002)
    raise TimeoutError(f"run {run.name} did not reach step {step} in {timeout:.0f} s")


def run_states(runs_dir: Path) -> dict[str, str]:
    """What `d2l-tui runs --json` says of each run: id -> state."""
    code, out, err = cli("runs", "--json", "--runs-dir", str(runs_dir))
    assert code == 0, err
    return {r["id"]: r["state"] for r in json.loads(out)}


def curve(run: Path) -> list[tuple]:
    """The run's metrics without the wall-clock fields: what must match an uninterrupted run."""
    records, _ = read_metrics(run / METRICS)
    return [(r["step"], r["epoch"], r["split"], r["loss"], r.get("acc")) for r in records]


def assert_same_weights(a: Path, b: Path) -> None:
    """The two runs' final checkpoints hold bitwise-equal model and optimizer tensors."""
    sa, sb = (torch.load(p / CHECKPOINT, weights_only=True) for p in (a, b))
    assert (sa["step"], sa["epoch"]) == (sb["step"], sb["epoch"])
    assert sa["model"].keys() == sb["model"].keys()
    for key, value in sa["model"].items():
        assert torch.equal(value, sb["model"][key]), f"{key} differs"
    for key, value in sa["optimizer"]["state"].items():
        for name, tensor in value.items():
            assert torch.equal(tensor, sb["optimizer"]["state"][key][name]), f"optimizer {key}.{name} differs"


def group_pids(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, by scanning /proc."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            pids.append(int(entry))
    return pids


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    """The console script's own path (UserError -> one stderr line, exit 2): (code, stdout, stderr)."""
    from d2ltui.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err
