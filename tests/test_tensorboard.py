"""TensorBoard: live event files with train.tensorboard=true, `export --tensorboard`, read back with TensorBoard's own reader."""

from __future__ import annotations

import importlib.util
import time

import pytest
from fault_helpers import cli

from d2ltui.rundir.store import LAYER_STATS, RunDir

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

TINY = ["quick-linear", "--set", "data.num_train=64", "--set", "data.num_val=32", "--set", "train.epochs=2",
        "--set", "train.log_every=1", "--plain"]


def read_back(folder) -> event_accumulator.EventAccumulator:
    acc = event_accumulator.EventAccumulator(
        str(folder), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0})
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
    # event files sort by name: second, host, pid, then a per-process counter that sorts "10" before "9"; a
    # resumed run is another process a second later, as here
    time.sleep(1.05)
    code, _, err = cli("train", "--resume", "r", "--set", "train.epochs=3", "--runs-dir", str(tmp_path), "--plain")
    assert code == 0, err
    acc = read_back(run.path / "tensorboard")
    got, want = scalar_pairs(acc, "train/loss"), expected(run, "train", "loss")
    assert [s for s, _ in got] == [s for s, _ in want] and 99.0 not in [v for _, v in got]
    assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-6)


def layer_records(run: RunDir) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """(layer, stat) -> [(step, value)] from layers.jsonl, None values left out."""
    out: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for rec in run.layers():
        for stat in LAYER_STATS:
            if rec.get(stat) is not None:
                out.setdefault((rec["layer"] or "model", stat), []).append((rec["step"], rec[stat]))
    return out


def check_layers(acc, run: RunDir) -> None:
    """Every statistic of layers.jsonl: a scalar per layer, and per step a histogram over the layers."""
    want = layer_records(run)
    steps = sorted({r["step"] for r in run.layers()})
    assert len(steps) >= 3 and len({layer for layer, _ in want}) >= 2
    tags = acc.Tags()
    for (layer, stat), pairs in want.items():
        got = scalar_pairs(acc, f"layers/{layer}/{stat}")
        assert [s for s, _ in got] == [s for s, _ in pairs]
        assert [v for _, v in got] == pytest.approx([v for _, v in pairs], rel=1e-6)
    for stat in ("grad_norm", "weight_norm", "act_std"):
        assert f"layers/{stat}" in tags["histograms"]
        hists = acc.Histograms(f"layers/{stat}")
        assert [h.step for h in hists] == steps
        for h in hists:
            values = [v for (_, st), pairs in want.items() if st == stat for s, v in pairs if s == h.step]
            hv = h.histogram_value
            assert hv.num == len(values)
            assert hv.min == pytest.approx(min(values), rel=1e-6) and hv.max == pytest.approx(max(values), rel=1e-6)
            assert hv.sum == pytest.approx(sum(values), rel=1e-6)
            assert hv.sum_squares == pytest.approx(sum(v * v for v in values), rel=1e-6)
    assert not any(t.startswith("layers/") and t.endswith("/dead") for t in tags["scalars"])  # no ReLU: all None


LAYERED = ["quick-mlp-moons", "--set", "data.num_train=64", "--set", "data.num_val=32", "--set", "train.epochs=2",
           "--set", "data.batch_size=16", "--set", "train.layer_stats_every=3", "--set", "train.log_every=2",
           "--set", "model.activation=sigmoid",
           "--plain"]


def test_layer_statistics_as_histograms_and_scalars_live_and_exported(tmp_path):
    code, _, err = cli("train", *LAYERED, "--set", "train.tensorboard=true", "--runs-dir", str(tmp_path),
                       "--run-id", "lay")
    assert code == 0, err
    run = RunDir(tmp_path / "lay")
    check_layers(read_back(run.path / "tensorboard"), run)
    code, out, err = cli("export", "lay", "--tensorboard", str(tmp_path / "tb-out"), "--runs-dir", str(tmp_path))
    assert code == 0, err
    steps = len({r["step"] for r in run.layers()})
    assert f"from {steps} steps of layer statistics" in out
    acc = read_back(tmp_path / "tb-out")
    check_layers(acc, run)
    started, records = run.status()["started"], run.metrics()
    first = acc.Histograms("layers/grad_norm")[0]  # step 1: at the time of the first metrics line
    assert first.wall_time == pytest.approx(started + records[0]["time"], abs=1e-3)
