"""Run directory records: atomic replaces, tolerant readers, liveness of the writing process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from d2ltui.rundir.writer import RunWriter
from d2ltui.rundir import writer as rundir
from d2ltui.rundir.store import CONFIG, LOG, METRICS, STATUS, RunDir, run_folders, read_metrics, read_status
from d2ltui.errors import UserError


def test_create_refuses_an_existing_run_but_takes_over_a_prepared_folder(tmp_path):
    run = RunWriter.create(tmp_path, "[model]\n", "r1")
    assert (run.path / CONFIG).read_text() == "[model]\n"
    with pytest.raises(UserError, match="already exists"):
        RunWriter.create(tmp_path, "[model]\n", "r1")
    prepared = tmp_path / "r2"
    prepared.mkdir()
    (prepared / LOG).write_text("$ d2l-tui train\n")
    assert RunWriter.create(tmp_path, "x = 1\n", "r2").path == prepared
    assert (prepared / LOG).read_text() == "$ d2l-tui train\n"
    with pytest.raises(UserError, match="already exists"):
        RunWriter.create(tmp_path, "x = 1\n", "r2", allow_prepared=False)
    other = tmp_path / "r3"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="already exists"):
        RunWriter.create(tmp_path, "x = 1\n", "r3")


def test_atomic_write_keeps_the_old_file_when_the_replace_fails(tmp_path, monkeypatch):
    target = tmp_path / STATUS
    rundir.atomic_write_json(target, {"state": "running"})

    def boom(*_a):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rundir.os, "replace", boom)
    with pytest.raises(OSError, match="No space"):
        rundir.atomic_write_json(target, {"state": "finished"})
    assert json.loads(target.read_text()) == {"state": "running"}
    assert [p.name for p in tmp_path.iterdir()] == [STATUS]  # no temp file left behind


def test_metrics_reader_leaves_a_half_written_line_for_later(tmp_path):
    run = RunWriter.create(tmp_path, "", "r")
    run.append_metrics({"step": 1, "loss": 1.5})
    with open(run.path / METRICS, "a") as f:
        f.write('{"step": 2, "lo')  # a write cut by a crash
    records, offset = read_metrics(run.path / METRICS)
    assert records == [{"step": 1, "loss": 1.5}]
    with open(run.path / METRICS, "a") as f:
        f.write('ss": 1.25}\n')
    more, end = read_metrics(run.path / METRICS, offset)
    assert more == [{"step": 2, "loss": 1.25}] and end == (run.path / METRICS).stat().st_size


def test_appending_after_a_crash_closes_the_cut_line(tmp_path):
    path = tmp_path / "r"
    path.mkdir()
    (path / CONFIG).write_text("")
    (path / METRICS).write_text('{"step": 1}\n{"step": 2, "lo')  # the killed run's last line
    RunWriter(path).append_metrics({"step": 2, "loss": 0.5})  # the resumed run
    RunWriter(path).append_metrics({"step": 3, "loss": 0.4})
    assert [r["step"] for r in read_metrics(path / METRICS)[0]] == [1, 2, 3]


def test_a_dead_pid_is_crashed_never_running(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    run = RunWriter.create(tmp_path, "", "r")
    run.write_status("running")
    assert read_status(run.path)["state"] == "running"  # this test process is alive
    status = json.loads((run.path / STATUS).read_text())
    for fake in ({"pid": child.pid}, {"pid_start": (status["pid_start"] or 0) + 1}, {"pid": None}):
        rundir.atomic_write_json(run.path / STATUS, {**status, **fake})
        seen = read_status(run.path)
        assert seen["state"] == "crashed" and "--resume r" in seen["message"]
    rundir.atomic_write_json(run.path / STATUS, {**status, "state": "finished", "pid": child.pid})
    assert read_status(run.path)["state"] == "finished"


def test_status_survives_garbage_and_absence(tmp_path):
    run = RunWriter.create(tmp_path, "", "r")
    assert read_status(run.path)["state"] == "starting"  # created, status not yet written
    (run.path / STATUS).write_text('{"state": "runn')
    assert read_status(run.path)["state"] == "starting"
    (run.path / STATUS).write_text('[1, 2]')
    assert read_status(run.path)["state"] == "starting"
    old = time.time() - 3600
    for name in (CONFIG, STATUS, ""):
        os.utime(run.path / name, (old, old))
    assert read_status(run.path)["state"] == "crashed"  # nobody ever wrote a status


def test_run_folders_and_find(tmp_path):
    for name in ("b", "a"):
        RunWriter.create(tmp_path, "", name)
    (tmp_path / "detached").mkdir()
    rundir.atomic_write_json(tmp_path / "detached" / STATUS, {"state": "starting", "pid": os.getpid()})
    (tmp_path / "stray").mkdir()
    assert [r.id for r in run_folders(tmp_path)] == ["a", "b", "detached"]
    assert run_folders(tmp_path / "nowhere") == []
    assert RunDir.find("a", tmp_path).id == "a"
    with pytest.raises(UserError, match="no run"):
        RunDir.find("zzz", tmp_path)


def test_a_starting_run_is_found_only_by_a_viewer_that_waits_for_it(tmp_path):
    """A detached launch's folder (status.json, no config.toml yet): attach finds it, resume/predict do not."""
    (tmp_path / "det-1").mkdir()
    rundir.atomic_write_json(tmp_path / "det-1" / STATUS, {"state": "starting", "pid": os.getpid()})
    (tmp_path / "stray").mkdir()
    assert RunDir.find("det-1", tmp_path, starting=True).path == tmp_path / "det-1"
    assert RunDir.find("det", tmp_path, starting=True).id == "det-1"  # a unique prefix
    assert RunDir.find(str(tmp_path / "det-1"), starting=True).id == "det-1"  # the folder itself
    with pytest.raises(UserError, match="no run 'det-1'"):
        RunDir.find("det-1", tmp_path)
    with pytest.raises(UserError, match="no run 'stray'"):
        RunDir.find("stray", tmp_path, starting=True)
    RunWriter.create(tmp_path, "", "det-2")
    with pytest.raises(UserError, match="ambiguous"):
        RunDir.find("det", tmp_path, starting=True)
    assert RunDir.find("det", tmp_path).id == "det-2"


def test_temp_files_of_a_killed_writer_are_cleaned_up(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    stale = tmp_path / f".checkpoint.pt.{child.pid}.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    live = tmp_path / f".checkpoint.pt.{os.getpid()}.def456.tmp"  # another writer, still at work
    live.write_bytes(b"in progress")
    rundir.atomic_write_bytes(tmp_path / "checkpoint.pt", b"new")
    assert not stale.exists() and live.exists()
    assert (tmp_path / "checkpoint.pt").read_bytes() == b"new"


def test_an_unknown_users_home_is_one_clear_line(tmp_path):
    with pytest.raises(UserError, match="--runs-dir '~nosuchuser/runs': no such user"):
        run_folders("~nosuchuser/runs")
    with pytest.raises(UserError, match="run '~nosuchuser': no such user"):
        RunDir.find("~nosuchuser", tmp_path)
