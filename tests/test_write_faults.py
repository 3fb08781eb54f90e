"""No write can kill a run: ENOSPC, EROFS and EIO injected into every run-folder write site at a random write,
for a classification, a language-model, a GAN and an RL run; and one real full disk (a small tmpfs)."""

from __future__ import annotations

import errno
import os
import random
import shutil
import subprocess

import pytest
from fault_helpers import cli

from d2ltui.rundir import writer
from d2ltui.rundir.store import CHECKPOINT, DATA_CARD, LAYERS, METRICS, SAMPLES, STATUS, read_json, read_metrics
from test_faults_gan_rl import WALL, assert_same_run

pytestmark = pytest.mark.slow
JOBS = {  # name -> the CLI arguments of a tiny run (a few steps, a record at every one)
    "classification": ["mlp", "--set", "data.name=moons", "--set", "data.num_train=96", "--set", "data.batch_size=32",
                       "--set", "train.epochs=2", "--set", "train.log_every=1", "--set", "train.layer_stats_every=1"],
    "language-model": ["quick-rnn-python-docs", "--set", "data.num_train=48", "--set", "data.batch_size=16",
                       "--set", "train.epochs=2", "--set", "train.log_every=1"],
    "gan": ["gan", "--set", "data.num_train=48", "--set", "data.batch_size=16", "--set", "train.epochs=2",
            "--set", "train.log_every=1"],
    "rl": ["q-learning", "--set", "data.name=frozenlake-4x4-slippery", "--set", "train.epochs=4"],
}
SITES = (METRICS, LAYERS, SAMPLES, STATUS, CHECKPOINT, DATA_CARD)
ERRORS = (errno.ENOSPC, errno.EROFS, errno.EIO)
SEED = int(os.environ.get("D2LTUI_FAULT_SEED") or int.from_bytes(os.urandom(4), "little"))  # a failure prints it


class Fault:
    """Makes writer.put_bytes fail with `code` for writes of `site`, from its `start`th write, `count` times
    (None: for ever)."""

    def __init__(self, site: str, code: int, start: int, count: int | None) -> None:
        self.site, self.code, self.start, self.count, self.seen, self.failed = site, code, start, count, 0, 0
        self.real = writer.put_bytes

    def __call__(self, path, data, append=False):
        name = path.name
        if name == self.site or name.startswith(f".{self.site}."):
            self.seen += 1
            if self.seen >= self.start and (self.count is None or self.failed < self.count):
                self.failed += 1
                raise OSError(self.code, os.strerror(self.code))
        return self.real(path, data, append)


def _train(runs, run_id: str, job: str, *extra: str) -> tuple[int, str]:
    code, out, err = cli("train", *JOBS[job], *extra, "--plain", "--runs-dir", str(runs), "--run-id", run_id)
    return code, out + err


WRITES: dict[str, dict[str, int]] = {}  # job -> site -> how many writes the reference run made of it


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    runs = tmp_path_factory.mktemp("references")
    real = writer.put_bytes
    for job in JOBS:
        counts = WRITES[job] = {}

        def count(path, data, append=False):
            site = next((s for s in SITES if path.name == s or path.name.startswith(f".{s}.")), None)
            counts[site] = counts.get(site, 0) + 1
            return real(path, data, append)

        writer.put_bytes = count
        try:
            code, out = _train(runs, job, job)
        finally:
            writer.put_bytes = real
        assert code == 0, out
    return runs


@pytest.mark.parametrize("job", list(JOBS))
def test_a_fault_at_every_write_site_is_survived_and_the_records_are_whole_after(references, tmp_path, monkeypatch,
                                                                                   job):
    ref = references / job
    rng = random.Random(SEED + list(JOBS).index(job))
    for i, site in enumerate(s for s in SITES if WRITES[job].get(s)):
        code_ = ERRORS[i % len(ERRORS)]
        if site == CHECKPOINT:  # one refused checkpoint: a later one must land for the comparison below
            fault = Fault(site, code_, start=rng.randint(1, WRITES[job][site] - 1), count=1)
        else:  # at a random write of the site, for one to three writes
            fault = Fault(site, code_, start=rng.randint(1, WRITES[job][site]), count=rng.randint(1, 3))
        monkeypatch.setattr(writer, "put_bytes", fault)
        run_id = f"{job}-{site.split('.')[0]}"
        code, out = _train(tmp_path, run_id, job)
        monkeypatch.undo()
        where = f"{job}, {site}, {errno.errorcode[code_]} (seed {SEED})"
        assert fault.failed, f"{where}: the fault never fired"
        assert code == 0 and "Traceback" not in out, f"{where}: {out[-600:]}"
        status = read_json(tmp_path / run_id / STATUS)
        assert status["state"] == "finished" and not status.get("warning"), f"{where}: {status}"
        assert_same_run(tmp_path / run_id, ref)  # every record and every checkpointed tensor, as if nothing happened
        assert not list((tmp_path / run_id).glob(".*.tmp")), where


@pytest.mark.parametrize("job", list(JOBS))
def test_a_fault_that_never_clears_stops_the_run_cleanly_then_resume_is_exact(references, tmp_path, monkeypatch,
                                                                              job):
    code_ = ERRORS[list(JOBS).index(job) % len(ERRORS)]
    monkeypatch.setattr(writer, "WRITE_FAULT_LIMIT_S", 0.0)
    monkeypatch.setattr(writer, "put_bytes", Fault(METRICS, code_, start=3, count=None))
    code, out = _train(tmp_path, "r", job)
    monkeypatch.undo()
    assert code == 1 and "Traceback" not in out, out[-600:]
    status = read_json(tmp_path / "r" / STATUS)
    assert status["state"] == "stopped", status
    assert "could not be written" in status["message"] and os.strerror(code_) in status["message"]
    assert "last good checkpoint" in status["message"] and "--resume r" in status["message"]
    code, out, err = cli("train", "--resume", "r", "--runs-dir", str(tmp_path))
    assert code == 0, out + err
    assert read_json(tmp_path / "r" / STATUS)["state"] == "finished"
    assert_same_run(tmp_path / "r", references / job)


def test_a_real_full_disk_is_survived(references, tmp_path):
    """A 4 MiB tmpfs as the runs folder, filled up mid-run by another file, then emptied."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("this machine does not let root mount a tmpfs (a container without CAP_SYS_ADMIN)")
    try:
        filler = disk / "filler"
        real = writer.put_bytes
        calls = []

        def fill_then_free(path, data, append=False):
            calls.append(path.name)
            if len(calls) == 6:  # the disk fills up (a real ENOSPC from the kernel) ...
                with open(filler, "wb") as f:
                    try:
                        while True:
                            f.write(b"\0" * 65536)
                    except OSError:
                        pass
            if len(calls) == 30:  # ... and is freed a little later
                filler.unlink()
            return real(path, data, append)

        writer.put_bytes = fill_then_free
        try:
            code, out = _train(disk, "full", "classification")
        finally:
            writer.put_bytes = real
        assert code == 0 and "Traceback" not in out, out[-600:]
        assert "No space left on device" in out
        assert read_json(disk / "full" / STATUS)["state"] == "finished"
        strip = lambda rs: [{k: v for k, v in r.items() if k not in WALL} for r in rs]  # noqa: E731
        assert strip(read_metrics(disk / "full" / METRICS)[0]) == \
            strip(read_metrics(references / "classification" / METRICS)[0])
    finally:
        subprocess.run(["umount", str(disk)], check=False)
