"""TensorBoard: live event files with train.tensorboard=true, `export --tensorboard`, read back with TensorBoard's own reader."""

from __future__ import annotations

import importlib.util

import pytest
from fault_helpers import cli

from d2ltui.rundir.store import RunDir

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

TINY = ["quick-linear", "--set", "data.num_train=64", "--set", "data.num_val=32", "--set", "train.epochs=2",
        "--set", "train.log_every=1", "--plain"]


def read_back(folder) -> event_accumulator.EventAccumulator:
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    return acc


def expected(run: RunDir, split: str, key: str) -> list[tuple[int, float]]:
    return [(int(r["step"]), float(r[key])) for r in run.metrics() if r.get("split") == split and key in r]


def scalar_pairs(acc, tag: str) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def test_train_writes_scalars_and_graph_live(tmp_path):
    code, _, err = cli("train", *TINY, "--set", "train.tensorboard=true", "--runs-dir", str(tmp_path), "--run-id", "tb")
    assert code == 0, err
    run = RunDir(tmp_path / "tb")
    acc = read_back(run.path / "tensorboard")
    assert {"train/loss", "train/lr", "val/loss"} <= set(acc.Tags()["scalars"])
    for split, key in (("train", "loss"), ("val", "loss"), ("train", "lr")):
        want = expected(run, split, key)
        got = scalar_pairs(acc, f"{split}/{key}")
        assert [s for s, _ in got] == [s for s, _ in want] and len(want) > 1
        assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-6)  # stored as float32
    assert acc.Graph() is not None and "Linear" in str(acc.Graph())


def test_export_of_a_past_run_reads_back_the_same_values(tmp_path):
    code, _, err = cli("train", *TINY, "--runs-dir", str(tmp_path), "--run-id", "plain")
    assert code == 0, err
    run = RunDir(tmp_path / "plain")
    assert not (run.path / "tensorboard").exists()
    code, out, err = cli("export", "plain", "--tensorboard", str(tmp_path / "tb-out"), "--runs-dir", str(tmp_path))
    assert code == 0, err
    assert "the model graph" in out and "no model graph" not in out
    acc = read_back(tmp_path / "tb-out")
    records = run.metrics()
    numbers = sum(1 for r in records for k, v in r.items()
                  if k not in ("step", "epoch", "split", "time") and isinstance(v, (int, float)))
    assert f"{numbers} scalars from {len(records)} metrics lines" in out
    for split, key in (("train", "loss"), ("val", "loss"), ("train", "samples_per_s")):
        got, want = scalar_pairs(acc, f"{split}/{key}"), expected(run, split, key)
        assert [s for s, _ in got] == [s for s, _ in want]
        assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-6)
    started = run.status()["started"]
    first = acc.Scalars("train/loss")[0]
    assert first.wall_time == pytest.approx(started + records[0]["time"], abs=1e-3)
    code, _, err = cli("export", "nope", "--tensorboard", str(tmp_path / "x"), "--runs-dir", str(tmp_path))
    assert code == 2 and err.startswith("d2l-tui: error: no run 'nope'")


def test_without_the_package_one_line_says_how_to_install(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    code, _, err = cli("train", *TINY, "--set", "train.tensorboard=true", "--runs-dir", str(tmp_path))
    assert code == 2 and err.strip() == \
        'd2l-tui: error: TensorBoard needs the tensorboard package: pip install "d2ltui[tensorboard]"'
    assert list(tmp_path.iterdir()) == []
    code, _, err = cli("export", "any", "--tensorboard", str(tmp_path / "x"), "--runs-dir", str(tmp_path))
    assert code == 2 and 'pip install "d2ltui[tensorboard]"' in err


def test_a_resume_purges_the_events_past_its_checkpoint(tmp_path):
    code, _, err = cli("train", *TINY, "--set", "train.tensorboard=true", "--runs-dir", str(tmp_path), "--run-id", "r")
    assert code == 0, err
    run = RunDir(tmp_path / "r")
    last = max(r["step"] for r in run.metrics())
    from torch.utils.tensorboard import SummaryWriter

    stray = SummaryWriter(str(run.path / "tensorboard"))  # events a killed run wrote after its last checkpoint
    stray.add_scalar("train/loss", 99.0, last + 1)
    stray.close()
    code, _, err = cli("train", "--resume", "r", "--set", "train.epochs=3", "--runs-dir", str(tmp_path), "--plain")
    assert code == 0, err
    acc = read_back(run.path / "tensorboard")
    got, want = scalar_pairs(acc, "train/loss"), expected(run, "train", "loss")
    assert [s for s, _ in got] == [s for s, _ in want] and 99.0 not in [v for _, v in got]
    assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-6)
