"""Fault injection on real runs: SIGKILL at random points then resume (bitwise), SIGTERM, failed checkpoint writes."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from fault_helpers import (TINY, assert_same_weights, cli, curve, run_states, spawn, wait_for_step)

from d2ltui.rundir import store as rundir
from d2ltui.rundir.checkpoint import load_checkpoint
from d2ltui.rundir.store import CHECKPOINT, STATUS, read_json
from d2ltui.rundir.writer import RunWriter

pytestmark = pytest.mark.slow
TOTAL_STEPS, STEPS_PER_EPOCH = 252, 63
TRIALS = 10  # half with epoch-end checkpoints only, half also checkpointing every 5 steps


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The same job, never interrupted (trained in this process, one thread like the children)."""
    runs = tmp_path_factory.mktemp("reference")
    code, out, err = cli("train", *TINY, "--runs-dir", str(runs), "--run-id", "ref")
    assert code == 0, out + err
    return runs / "ref"


def _kill_at_random(runs: Path, run_id: str, kill_step: int, extra: list[str]) -> tuple[int | None, int]:
    """Start the job as a child, SIGKILL it once it reaches `kill_step`; the step seen and its exit code.

    A run that finishes before the kill lands (this test process starved of CPU) is tried
    again once, to be killed at an earlier step.
    """
    for attempt in range(2):
        if attempt:
            shutil.rmtree(runs / run_id)
            kill_step = max(kill_step // 2, int(extra[-1].split("=")[1]) if extra else STEPS_PER_EPOCH)
        proc = spawn("train", *TINY, *extra, "--runs-dir", str(runs), "--run-id", run_id)
        try:
            seen = wait_for_step(proc, runs / run_id, kill_step)
            if seen is not None:
                os.kill(proc.pid, signal.SIGKILL)
        finally:
            code = proc.wait(timeout=60)
        if seen is not None:
            break
    return seen, code


def test_sigkill_at_random_points_then_resume_is_bitwise_exact(reference, tmp_path):
    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    trials = []
    for i in range(TRIALS):
        every = 5 if i % 2 else 0  # 5 does not divide an epoch's 63 steps: most resumes start mid-epoch
        extra = ["--set", f"train.checkpoint_every={every}"] if every else []
        first_checkpoint = every or STEPS_PER_EPOCH
        trials.append((f"t{i}", rng.randint(first_checkpoint, TOTAL_STEPS - 40), extra))
    with ThreadPoolExecutor(2) as pool:  # two children at a time, one per core
        outcomes = list(pool.map(lambda t: _kill_at_random(tmp_path, *t), trials))

    states = run_states(tmp_path)
    kinds = {"epoch boundary": 0, "mid-epoch": 0}
    for (run_id, kill_step, _), (seen, code) in zip(trials, outcomes):
        where = f"trial {run_id} (seed {seed}, kill at step {kill_step})"
        assert seen is not None, f"{where}: the run ended before it could be killed"
        assert code == -signal.SIGKILL, where
        run = tmp_path / run_id
        assert states[run_id] == "crashed", f"{where}: `runs` says {states[run_id]}"
        assert read_json(run / STATUS) is not None, f"{where}: status.json unreadable"
        state = load_checkpoint(run / CHECKPOINT)  # whole, never half-written
        assert 0 < state["step"] <= seen, where
        kinds["mid-epoch" if state["pos"] % STEPS_PER_EPOCH else "epoch boundary"] += 1

        code, out, err = cli("train", "--resume", run_id, "--runs-dir", str(tmp_path))
        assert code == 0, f"{where}: resume failed: {out[-500:]} {err[-500:]}"
        assert read_json(run / STATUS)["state"] == "finished", where
        assert_same_weights(run, reference)
        assert curve(run) == curve(reference), f"{where}: metrics differ from the uninterrupted run"
        assert not list(run.glob(".*.tmp")), f"{where}: temp files left behind"
    print(f"seed {seed}: killed at steps {[seen for seen, _ in outcomes]}, resumed from {kinds}")
    assert kinds["mid-epoch"] >= 2 and kinds["epoch boundary"] >= 2, kinds


def _wait_status(run: Path, state: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (status := read_json(run / STATUS)) and status["state"] == state:
            return status
        time.sleep(0.01)
    raise TimeoutError(f"{run.name} never became {state}")


def test_pause_resume_then_sigterm_stops_with_a_checkpoint(reference, tmp_path):
    """SIGUSR1 pauses (after a checkpoint), SIGUSR2 goes on, SIGTERM stops; the result is still exact."""
    run = tmp_path / "term"
    proc = spawn("train", *TINY, "--runs-dir", str(tmp_path), "--run-id", "term",
                 "--set", "train.checkpoint_every=50")
    try:
        assert wait_for_step(proc, run, 30, need_checkpoint=False) is not None
        proc.send_signal(signal.SIGUSR1)
        paused = _wait_status(run, "paused")
        assert run_states(tmp_path)["term"] == "paused"
        assert load_checkpoint(run / CHECKPOINT)["step"] == paused["step"] >= 30
        time.sleep(0.3)
        assert read_json(run / STATUS)["step"] == paused["step"]  # nothing moves while paused
        proc.send_signal(signal.SIGUSR2)
        assert wait_for_step(proc, run, max(70, paused["step"] + 5)) is not None
        proc.send_signal(signal.SIGTERM)
    finally:
        code = proc.wait(timeout=60)
    assert code != 0
    status = read_json(run / STATUS)
    assert status["state"] == "stopped" and "--resume term" in status["message"]
    assert run_states(tmp_path)["term"] == "stopped"
    state = load_checkpoint(run / CHECKPOINT)
    assert state["step"] == status["step"] > 70  # the checkpoint holds the last finished batch
    assert max(r[0] for r in curve(run)) == state["step"]
    code, out, err = cli("train", "--resume", "term", "--runs-dir", str(tmp_path))
    assert code == 0, out + err
    assert_same_weights(run, reference)


def test_failed_checkpoint_writes_are_reported_and_keep_the_last_good_one(tmp_path, monkeypatch):
    """The disk fills up after the first epoch: later checkpoints fail, the run says so and goes on."""
    real_replace, failures = os.replace, []

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == CHECKPOINT and Path(dst).exists():
            failures.append(dst)
            raise OSError(28, "No space left on device")
        return real_replace(src, dst, *args, **kwargs)

    statuses = []
    real_status = RunWriter.write_status

    def spy(self, state, message="", **extra):
        statuses.append((state, message, extra.get("checkpoint_error")))
        return real_status(self, state, message, **extra)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(RunWriter, "write_status", spy)
    code, out, err = cli("train", *TINY, "--set", "train.epochs=2", "--runs-dir", str(tmp_path), "--run-id", "full")
    monkeypatch.undo()
    run = tmp_path / "full"
    assert code == 0, out + err
    assert len(failures) == 2  # the second epoch's checkpoint, and once more at the end (the disk may take it then)
    assert "warning: checkpoint at step 126 not written (No space left on device)" in out
    assert any(e and "No space left on device" in e for _s, _m, e in statuses)
    assert any("not written" in m for _s, m, _e in statuses)
    assert read_json(run / STATUS)["checkpoint_error"].startswith("checkpoint at step 126 not written")
    assert load_checkpoint(run / CHECKPOINT)["step"] == 63  # the last good one, whole
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []  # no temp files left


@pytest.mark.parametrize("damage", ["truncated", "malicious"])
def test_resume_from_a_damaged_checkpoint_is_one_line(reference, tmp_path, damage):
    run = tmp_path / "copy"
    shutil.copytree(reference, run)
    marker = tmp_path / "pwned"
    if damage == "truncated":
        data = (run / CHECKPOINT).read_bytes()
        (run / CHECKPOINT).write_bytes(data[: len(data) // 3])
    else:
        class Payload:
            def __reduce__(self):
                return (os.system, (f"touch {marker}",))

        torch.save({"model": {}, "step": 1, "epoch": 0, "x": Payload()}, run / CHECKPOINT)
    config = (run / "config.toml").read_text().replace("epochs = 4", "epochs = 5")
    (run / "config.toml").write_text(config)
    code, out, err = cli("train", "--resume", "copy", "--runs-dir", str(tmp_path))
    assert code == 2 and "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("d2l-tui: error: ") and "checkpoint" in lines[0]
    assert not marker.exists()
    assert json.loads((run / STATUS).read_text())["state"] == "finished"  # the record is untouched


def test_control_turns_signals_into_intents():
    from d2ltui.engine.loop.control import Control, send

    before = signal.getsignal(signal.SIGTERM)
    control = Control().install()
    try:
        send(os.getpid(), "pause")
        assert control.paused.is_set() and not control.stop.is_set()
        send(os.getpid(), "resume")
        assert not control.paused.is_set()
        send(os.getpid(), "pause")
        os.kill(os.getpid(), signal.SIGTERM)  # a stop also ends a pause
        assert control.stop.is_set() and not control.paused.is_set()
        assert control.exit_code == 128 + signal.SIGTERM and control.reason == "stopped by SIGTERM"
        with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C while stopping aborts at once
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        control.restore()
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_run_killed_before_its_first_checkpoint_resumes_from_the_start(reference, tmp_path):
    """No checkpoint yet: --resume trains it again from the start, with its config and seed, to the same result."""
    proc = spawn("train", *TINY, "--runs-dir", str(tmp_path), "--run-id", "early")
    try:
        seen = wait_for_step(proc, tmp_path / "early", 20, need_checkpoint=False)
        assert seen is not None and seen < STEPS_PER_EPOCH, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    run = tmp_path / "early"
    assert not (run / CHECKPOINT).exists() and run_states(tmp_path)["early"] == "crashed"
    code, out, err = cli("train", "--resume", "early", "--runs-dir", str(tmp_path))
    assert code == 0, out + err
    assert "no checkpoint yet" in out
    assert read_json(run / STATUS)["state"] == "finished"
    assert_same_weights(run, reference)
    assert curve(run) == curve(reference)
