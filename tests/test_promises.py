"""Bad folders, names and destinations are one line and exit 2, with nothing written outside the runs folder;
one progress for every view."""

from __future__ import annotations

import json

import pytest
from fault_helpers import cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from d2ltui.errors import UserError
from d2ltui.format import format_progress, run_progress
from d2ltui.rundir.names import check_id
from d2ltui.rundir.store import METRICS

TINY = ["mlp", "--set", "data.name=moons", "--set", "data.num_train=64", "--set", "train.epochs=1", "--plain"]


def one_line(code: int, out: str, err: str) -> str:
    assert code == 2 and "Traceback" not in out + err, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("d2l-tui: error: "), err
    return lines[0]


@pytest.mark.parametrize("args", [["runs"], ["train", *TINY], ["sweep", "mlp", "--grid", "optim.lr=0.1,0.2"],
                                  ["attach", "x"], ["export", "x", "--tensorboard", "tb"]])
def test_a_runs_folder_that_is_a_file_is_one_line_for_every_command(tmp_path, args):
    file = tmp_path / "file"
    file.write_text("not a folder")
    assert "a file, not a folder" in one_line(*cli(*args, "--runs-dir", str(file)))
    assert file.read_text() == "not a folder"


@pytest.mark.parametrize("run_id", ["../../x", "a/b", "..", ".hidden", "-x", "", "a\nb", "x" * 200])
def test_a_bad_run_id_is_refused_before_anything_is_written(tmp_path, run_id):
    runs = tmp_path / "runs"
    assert "run id" in one_line(*cli("train", *TINY, "--runs-dir", str(runs), "--run-id", run_id))
    assert not runs.exists() and list(tmp_path.iterdir()) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=0, max_size=40))
def test_the_id_rule_admits_only_one_safe_path_component(name):
    try:
        check_id(name)
    except UserError as err:
        assert "\n" not in str(err)
        return
    assert "/" not in name and name not in (".", "..") and not name.startswith((".", "-")) and name.isascii()


def test_a_big_sweep_asks_first(tmp_path):
    line = one_line(*cli("sweep", "mlp", "--grid", "optim.lr=0.1,0.2", "--seeds", "100000",
                         "--runs-dir", str(tmp_path)))
    assert "200000 runs" in line and "--yes" in line
    assert list(tmp_path.iterdir()) == []


def test_export_to_a_bad_destination_and_over_damaged_records(tmp_path):
    code, out, err = cli("train", *TINY, "--runs-dir", str(tmp_path / "runs"), "--run-id", "r")
    assert code == 0, out + err
    file = tmp_path / "file"
    file.write_text("x")
    for dest in (file, file / "tb"):
        assert "--tensorboard" in one_line(*cli("export", "r", "--tensorboard", str(dest),
                                                "--runs-dir", str(tmp_path / "runs")))
    with open(tmp_path / "runs" / "r" / METRICS, "a") as f:
        f.write(json.dumps({"step": "x"}) + "\n")
    code, out, err = cli("export", "r", "--tensorboard", str(tmp_path / "tb"), "--runs-dir", str(tmp_path / "runs"))
    assert code == 0 and "Traceback" not in err, err
    code, out, err = cli("runs", "--runs-dir", str(tmp_path / "runs"))
    assert code == 0 and "r " in out, err


def test_one_progress_for_every_view_follows_the_newest_record():
    status = {"state": "running", "step": 0, "epoch": 0, "total_steps": 504, "total_epochs": 8}
    assert format_progress(status, None) == "epoch 1/8 step 0/504"
    assert format_progress(status, {"step": 50, "epoch": 1, "split": "train"}) == "epoch 1/8 step 50/504"
    status.update(step=63, epoch=1)  # an epoch end: status.json is newer than the last logged row
    assert run_progress(status, {"step": 60, "epoch": 1})["epoch"] == 2
    done = {"state": "finished", "step": 504, "epoch": 8, "total_steps": 504, "total_epochs": 8}
    assert format_progress(done, {"step": 504, "epoch": 8}) == "epoch 8/8 step 504/504"
    assert format_progress({}, {"step": "x"}) == "epoch -/? step -/?"
