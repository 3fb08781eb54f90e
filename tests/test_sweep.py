"""Sweeps: the grid, the checks before anything starts, the table, `runs` grouping, the scheduler, kill + resume."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_helpers import cli
from tui_pilot import write_sweep

from d2ltui.config.presets import list_presets
from d2ltui.config.schema import from_dict, load_toml
from d2ltui.tasks.resolve import resolve
from d2ltui.engine.orchestration import slots, sweep as sw
from d2ltui.engine.launching.processes import Detached
from d2ltui.rundir.runs import list_runs
from d2ltui.rundir.sweeps import read_sweep, sweep_table


def test_grid_keys_get_their_section_and_values_their_type():
    grid = sw.parse_grid(["lr=0.01,0.1", "dropout=0,0.5", "optim.name=sgd,adam", "model.hidden=(64,),(128, 64)"])
    assert grid == {"optim.lr": [0.01, 0.1], "model.dropout": [0, 0.5], "optim.name": ["sgd", "adam"],
                    "model.hidden": [(64,), (128, 64)]}
    assert sw.member_id(3, {"optim.weight_decay": 3.0, "model.hidden": (64, 32)}, 1) == \
        "03-weight_decay-3.0_hidden-64x32-seed1"  # a folder name a shell takes as it is
    with pytest.raises(Exception, match="expected KEY=V1,V2"):
        sw.parse_grid(["optim.lr"])


def test_bad_grid_value_is_one_line_and_nothing_is_created(tmp_path):
    code, out, err = cli("sweep", "quick-linear", "--grid", "optim.name=sgd,nesterov", "--runs-dir", str(tmp_path))
    assert code == 2 and err.startswith("d2l-tui: error: optim.name") and "nesterov" in err
    assert len(err.strip().splitlines()) == 1 and list(tmp_path.iterdir()) == []
    code, _, err = cli("sweep", "quick-linear", "--runs-dir", str(tmp_path))
    assert code == 2 and "--grid" in err
    code, _, err = cli("sweep", "--resume", "nope", "--runs-dir", str(tmp_path))
    assert code == 2 and "no sweep 'nope'" in err


def test_table_is_mean_and_sample_std_over_seeds(tmp_path):
    path = write_sweep(tmp_path)
    record, metric, rows, members = sweep_table(path)
    assert metric == "acc" and len(members) == 4
    none, batch = rows
    assert none.setting == {"model.norm": "none"} and none.values == pytest.approx([0.6, 0.7])
    assert none.mean == pytest.approx(0.65) and none.std == pytest.approx(math.sqrt(((0.05) ** 2 * 2) / 1))
    assert batch.mean == pytest.approx(0.8) and batch.std == 0.0
    code, out, _ = cli("sweep", "--resume", str(path), "--json")  # nothing left to run: just the table
    table = json.loads(out)
    assert code == 0 and table["metric"] == "acc" and [r["n"] for r in table["rows"]] == [2, 2]
    assert table["rows"][0]["mean"] == pytest.approx(0.65)
    code, out, _ = cli("sweep", "--resume", str(path))
    lines = out.splitlines()
    assert lines[1].split() == ["model.norm", "runs", "best", "acc", "(mean", "±", "std)"]
    assert lines[2].split() == ["none", "2/2", "0.65", "±", "0.071"]


def test_unfinished_members_leave_the_mean_and_the_exit_code_says_so(tmp_path):
    path = write_sweep(tmp_path, members=[({"model.norm": "none"}, 0, 2, "finished"),
                                          ({"model.norm": "none"}, 1, 3, "diverged")])
    _, _, rows, _ = sweep_table(path)
    assert rows[0].values == pytest.approx([0.6]) and rows[0].std == 0.0 and rows[0].states == ["finished", "diverged"]
    code, out, _ = cli("sweep", "--resume", str(path))  # a diverged run is kept as it is, not rerun
    assert code == 1 and "1/2" in out


def test_runs_groups_a_sweep_and_survives_a_damaged_one(tmp_path):
    write_sweep(tmp_path, "sweep-a", members=[({"model.norm": "none"}, 0, 2, "finished"),
                                              ({"model.norm": "batch"}, 0, 2, "pending")])
    (tmp_path / "sweep-broken").mkdir()
    (tmp_path / "sweep-broken" / "sweep.json").write_text("{not json")
    rows = list_runs(tmp_path)
    broken = [r for r in rows if r.id == "sweep-broken"]  # listed as a row that says it cannot be read
    assert len(broken) == 1 and broken[0].state == "?" and broken[0].message.startswith("sweep: ")
    rows = [r for r in rows if r.id != "sweep-broken"]
    assert [(r.id, r.kind, r.sweep, r.state) for r in rows] == [
        ("sweep-a", "sweep", None, "pending"), ("sweep-a/00-none-seed0", "run", "sweep-a", "finished"),
        ("sweep-a/01-batch-seed0", "run", "sweep-a", "pending")]
    assert rows[0].message == "sweep: 1/2 runs finished" and rows[0].best == pytest.approx(0.6)
    code, out, _ = cli("runs", "--runs-dir", str(tmp_path))
    assert code == 0 and "1/2 runs" in out and "sweep-a/00-none-seed0" in out


class FakeProc:
    """A member process that ends after a few polls."""

    def __init__(self, log: list) -> None:
        self.polls, self.log = 0, log

    def poll(self):
        self.polls += 1
        return 0 if self.polls > 2 else None


def test_scheduler_runs_p_at_a_time_with_cores_over_p_threads_or_one_per_gpu(tmp_path, monkeypatch):
    path = sw.plan_sweep("quick-linear", {"optim.lr": [0.01, 0.02, 0.03]}, 2, [], None, str(tmp_path), 2)
    record = read_sweep(path)
    assert [m["id"] for m in record["members"]][:2] == ["00-lr-0.01-seed0", "01-lr-0.01-seed1"]
    assert record["members"][1]["overrides"] == ["optim.lr=0.01", "train.seed=1"]
    assert resolve(str(path / "base.toml"), record["members"][1]["overrides"])[0].train.seed == 1
    launched, live = [], []

    def fake_launch(run, resume=False, title="", quiet=False, env=None):
        live[:] = [p for p in live if p.poll() is None]
        proc = FakeProc(live)
        live.append(proc)
        launched.append((from_dict(load_toml(run / "config.toml")), run.name, env, len(live)))
        return Detached(run.name, 1, run, proc)

    monkeypatch.setattr(slots, "launch_detached", fake_launch)
    monkeypatch.setattr(slots, "POLL_S", 0.0)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert slots.Scheduler(path, slots.slots_for(2, "cpu")).run(record["members"])
    assert [run_id for _, run_id, _, _ in launched] == [m["id"] for m in record["members"]]
    assert max(n for *_, n in launched) == 2 and all(env["OMP_NUM_THREADS"] == "4" for _, _, env, _ in launched)
    assert [(c.train.seed, c.optim.lr) for c, *_ in launched[:3]] == [(0, 0.01), (1, 0.01), (0, 0.02)]
    launched.clear()
    assert slots.Scheduler(path, ["cuda:0", "cuda:1"]).run(record["members"][:2])  # the members exist: resumed
    assert [c.train.device for c, *_ in launched] == ["cuda:0", "cuda:1"] and launched[1][2] == {}
    assert [c.train.seed for c, *_ in launched] == [0, 1]


def _wait(cond, timeout=240.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.mark.slow
def test_a_sweep_killed_in_the_middle_resumes(tmp_path):
    """Kill -9 the sweep and its running member (a power cut); --resume keeps the finished run, resumes the rest."""
    env = {**os.environ, "D2LTUI_RUNS_DIR": str(tmp_path)}
    args = [sys.executable, "-m", "d2ltui", "sweep", "quick-linear", "--grid", "train.epochs=2,300", "--parallel",
            "1", "--set", "data.num_train=64", "--set", "data.num_val=32"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait(lambda: any(tmp_path.glob("*/sweep.json")))
        path = next(tmp_path.glob("*/sweep.json")).parent
        first, second = (path / m["id"] for m in read_sweep(path)["members"])
        _wait(lambda: _state(first) == "finished" and (second / "metrics.jsonl").exists())
        before = (first / "metrics.jsonl").read_bytes(), (first / "checkpoint.pt").stat().st_mtime_ns
        pid = json.loads((second / "status.json").read_text())["pid"]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    os.kill(pid, signal.SIGKILL)
    _wait(lambda: _state(second) == "crashed", 30)
    done = subprocess.run([sys.executable, "-m", "d2ltui", "sweep", "--resume", path.name, "--json"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert ((first / "metrics.jsonl").read_bytes(), (first / "checkpoint.pt").stat().st_mtime_ns) == before
    assert f"started {second.name}" in done.stderr and f"started {first.name}" not in done.stderr
    assert _state(second) == "finished"
    table = json.loads(done.stdout)
    assert [r["states"] for r in table["rows"]] == [["finished"], ["finished"]]
    steps = [r["step"] for r in map(json.loads, (second / "metrics.jsonl").read_text().splitlines())
             if r["split"] == "train"]
    assert steps == sorted(steps) and len(steps) == len(set(steps))  # the resumed run's curve has no repeat


def _state(run: Path) -> str | None:
    try:
        from d2ltui.rundir.store import read_status

        return read_status(run).get("state") if run.is_dir() else None
    except OSError:
        return None


def test_book_ablation_presets_are_sweeps_whose_every_point_validates():
    from d2ltui.cli.sweeping import sweep_preset

    sweeps = {p.name: p for p in list_presets() if p.sweep and "grid" in sweep_preset(p.name)}  # not the searches
    assert set(sweeps) == {"sweep-lenet-bn", "quick-sweep-lenet-bn", "sweep-mlp-dropout", "quick-sweep-mlp-dropout",
                           "sweep-weight-decay", "quick-sweep-weight-decay"}
    from d2ltui.cli.sweeping import sweep_preset

    expected = {"lenet-bn": ("model.norm", ["none", "batch"]), "mlp-dropout": ("model.dropout", [0.0, 0.5]),
                "weight-decay": ("optim.weight_decay", [0.0, 3.0])}
    for name in sweeps:
        key, values = expected[name.removeprefix("quick-").removeprefix("sweep-")]
        table = sweep_preset(name)
        assert table["grid"] == {key: values} and table["seeds"] >= 2
        for value in values:
            resolve(name, [f"{key}={value!r}"])
    wd, _ = resolve("sweep-weight-decay")  # the book's section 3.7: batch 5, lr 0.01, 10 epochs
    assert (wd.data.name, wd.data.batch_size, wd.optim.lr, wd.train.epochs) == ("weight-decay", 5, 0.01, 10)


@pytest.mark.slow
def test_sigterm_stops_every_running_member_with_a_checkpoint(tmp_path):
    env = {**os.environ, "D2LTUI_RUNS_DIR": str(tmp_path)}
    args = [sys.executable, "-m", "d2ltui", "sweep", "quick-linear", "--grid", "train.epochs=300,2", "--set",
            "data.num_train=64", "--set", "data.num_val=32"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait(lambda: any(tmp_path.glob("*/sweep.json")))
        path = next(tmp_path.glob("*/sweep.json")).parent
        first, second = (path / m["id"] for m in read_sweep(path)["members"])
        _wait(lambda: _state(first) == "running" and (first / "metrics.jsonl").exists())
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1 and f"sweep --resume {path.name}" in out
    assert _state(first) == "stopped" and (first / "checkpoint.pt").exists() and not second.exists()
    rows = list_runs(tmp_path)
    assert [(r.kind, r.state) for r in rows] == [("sweep", "stopped"), ("run", "stopped"), ("run", "pending")]
