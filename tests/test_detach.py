"""Detached runs: `train --detach` returns at once, the run outlives its terminal and is seen live, then done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_helpers import CHILD_ENV, TINY, cli, run_states

from d2ltui.engine.job import create_run
from d2ltui.engine.launching.processes import launch_detached
from d2ltui.tasks.resolve import resolve
from d2ltui.rundir.store import LOG, STATUS, read_json, read_status
from d2ltui.errors import UserError

pytestmark = pytest.mark.slow


def _session_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[3])


def _wait_state(run: Path, states: tuple[str, ...], timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = read_status(run)
        if status["state"] in states:
            return status
        time.sleep(0.05)
    raise TimeoutError(f"{run.name} stayed {read_status(run)['state']}; log:\n{(run / LOG).read_text()[-2000:]}")


def test_detached_run_outlives_its_terminal(tmp_path):
    out = tmp_path / "terminal.out"
    out.write_text("")
    # The "terminal": a shell in its own session that starts the detached run and then lingers.
    shell = subprocess.Popen(
        ["sh", "-c", f'"{sys.executable}" -m d2ltui train "$@" --detach --runs-dir "{tmp_path / "runs"}" '
                     f'--set train.epochs=8 > "{out}"; sleep 60', "sh", *TINY],
        env=CHILD_ENV, start_new_session=True, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not out.read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.02)
        run_id = out.read_text().strip()
        assert run_id, "train --detach printed no run id"
        run = tmp_path / "runs" / run_id
        pid = read_json(run / STATUS)["pid"]
        assert run_states(tmp_path / "runs")[run_id] in ("starting", "running")  # live at once
        os.killpg(shell.pid, signal.SIGHUP)  # the SSH connection drops: the terminal's session is hung up
        assert shell.wait(timeout=10) == -signal.SIGHUP
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
            shell.wait()
    assert _session_of(pid) == pid != shell.pid  # the run leads its own session, not the terminal's
    status = _wait_state(run, ("running",))
    assert status["pid"] == pid
    assert run_states(tmp_path / "runs")[run_id] == "running"  # after the terminal is gone
    status = _wait_state(run, ("finished", "failed", "crashed", "stopped", "diverged"))
    assert status["state"] == "finished", status
    log = (run / LOG).read_text()
    assert log.startswith("$ d2l-tui train mlp") and "finished at step 504" in log


def test_detached_stop_then_detached_resume(tmp_path):
    code, out, err = cli("train", *TINY, "--set", "train.epochs=8", "--set", "train.checkpoint_every=20",
                         "--detach", "--runs-dir", str(tmp_path), "--run-id", "bg")
    assert code == 0 and out.strip() == "bg" and "attach bg" in err
    run = tmp_path / "bg"
    status = _wait_state(run, ("running",))
    deadline = time.monotonic() + 60
    while not (run / "checkpoint.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(status["pid"], signal.SIGTERM)  # what a view's "stop" sends
    assert _wait_state(run, ("stopped", "finished", "crashed"))["state"] == "stopped"
    code, out, err = cli("train", "--resume", "bg", "--detach", "--runs-dir", str(tmp_path))
    assert code == 0 and out.strip() == "bg"
    time.sleep(0.5)
    assert _wait_state(run, ("finished", "failed", "crashed", "diverged"))["state"] == "finished"
    log = (run / LOG).read_text()
    assert log.count("$ d2l-tui train") == 2 and "stopped" in log and "finished at step 504" in log


def test_launcher_refuses_an_existing_run_and_marks_an_early_death(tmp_path):
    (tmp_path / "taken").mkdir()
    cfg = resolve("mlp")[0]
    with pytest.raises(UserError, match="already exists"):
        create_run(cfg, tmp_path, "taken")
    run = create_run(cfg, tmp_path, "dies")
    (run.path / "config.toml").write_text('[model]\nname = "no-such-model"\n')  # what the job re-reads
    job = launch_detached(run.path, quiet=True)
    assert job.path == tmp_path / "dies" and read_json(job.path / STATUS)["state"] == "starting"
    for _ in range(600):
        if read_status(job.path)["state"] == "crashed":
            break
        time.sleep(0.05)
    assert read_status(job.path)["state"] == "crashed"  # its pid is gone and it never wrote a status
    log = (job.path / LOG).read_text()
    assert log.startswith("$ d2l-tui train dies") and "unknown model 'no-such-model'" in log.lower()


def test_the_launcher_never_overwrites_a_status_the_run_wrote(tmp_path):
    from d2ltui.engine.launching.processes import _create_json

    assert _create_json(tmp_path / STATUS, {"state": "starting"})
    assert not _create_json(tmp_path / STATUS, {"state": "other"})
    assert read_json(tmp_path / STATUS) == {"state": "starting"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [STATUS]
