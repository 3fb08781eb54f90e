"""The profiler: `d2l-tui profile` prints the top operators and leaves a readable Chrome trace; a request file
profiles a run that is training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from d2ltui.cli.profiling import run_profile
from d2ltui.config.schema import dump_toml
from d2ltui.engine.analysis import profile
from d2ltui.engine.loop.trainer import fit
from d2ltui.rundir.store import RunDir
from d2ltui.rundir.writer import RunWriter
from test_engine import blobs, cfg_of

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _readable_trace(path: Path) -> list:
    events = json.loads(path.read_text())["traceEvents"]
    assert any(e.get("name", "").startswith("aten::") for e in events)
    return events


def test_profile_command_writes_the_table_and_trace(tmp_path, capsys):
    code = run_profile("quick-mlp-moons", [], steps=3, warmup=2, runs_dir=str(tmp_path), json_out=True)
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["steps"] == 3 and out["run"].startswith("profile-")
    names = [op["name"] for op in out["ops"]]
    assert "aten::addmm" in names or "aten::mm" in names  # an MLP's time is in its matrix products
    selfs = [op["self_cpu_ms"] for op in out["ops"]]
    assert selfs == sorted(selfs, reverse=True) and selfs[0] > 0
    _readable_trace(Path(out["trace"]))
    assert Path(out["trace"]).parent == tmp_path / out["run"] / profile.FOLDER
    text = profile.format_table(out)
    assert text.splitlines()[0].split() == ["operator", "self", "CPU", "ms", "calls"] and "3 steps" in text


def test_a_request_file_profiles_a_training_run_without_stopping_it(tmp_path):
    cfg = cfg_of("mlp", data={"batch_size": 32}, train={"epochs": 1, "log_every": 2})
    run = RunWriter.create(tmp_path, dump_toml(cfg), "live")
    profile.request_profile(run.path, 2)
    result = fit(cfg, run, data=blobs())
    assert result.state == "finished" and result.step == 10  # all its steps: the profile did not stop it
    assert not (run.path / profile.REQUEST).exists()  # taken
    table = profile.read_table(run.path)
    assert table["steps"] == 2 and table["ops"]
    _readable_trace(run.path / profile.FOLDER / profile.TRACE)
