"""`d2l-tui train`, `runs` and `presets` through the CLI: exit codes, one-line errors, run folders, resume."""

from __future__ import annotations

import json

import pytest
import torch

from fault_helpers import cli

from d2ltui.rundir.checkpoint import load_checkpoint
from d2ltui.rundir.store import CHECKPOINT, run_folders

MOONS = ["mlp", "--set", "data.name=moons", "--set", "model.hidden=(16,)", "--set", "train.epochs=2",
         "--set", "data.num_train=256", "--set", "data.num_val=64", "--set", "data.batch_size=32", "--plain"]


def test_train_writes_a_run_and_runs_lists_it(tmp_path):
    code, out, err = cli("train", *MOONS, "--runs-dir", str(tmp_path), "--run-id", "first")
    assert code == 0, err
    assert out.splitlines()[0] == f"run first in {tmp_path / 'first'}"
    assert "epoch 2/2 val loss" in out and "finished:" in out
    folder = tmp_path / "first"
    for name in ("config.toml", "metrics.jsonl", "status.json", "checkpoint.pt", "samples.json"):
        assert (folder / name).exists(), name
    code, out, _ = cli("runs", "--json", "--runs-dir", str(tmp_path))
    rows = json.loads(out)
    assert code == 0 and len(rows) == 1
    row = rows[0]
    assert (row["id"], row["state"], row["model"], row["data"], row["metric"]) == ("first", "finished", "mlp", "moons", "acc")
    assert 0 < row["best"] <= 1 and row["duration_s"] >= 0 and (row["epoch"], row["total_epochs"]) == (2, 2)
    code, out, _ = cli("runs", "--runs-dir", str(tmp_path))
    assert code == 0 and out.splitlines()[0].split()[:4] == ["RUN", "STATE", "MODEL", "DATA"] and "first" in out


def test_config_toml_reruns_the_same_run(tmp_path):
    assert cli("train", *MOONS, "--runs-dir", str(tmp_path), "--run-id", "a")[0] == 0
    code, _, err = cli("train", str(tmp_path / "a" / "config.toml"), "--runs-dir", str(tmp_path), "--run-id", "b",
                       "--plain")
    assert code == 0, err
    wa, wb = (load_checkpoint(tmp_path / r / CHECKPOINT)["model"] for r in ("a", "b"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_resume_after_max_steps_matches_an_uninterrupted_run(tmp_path):
    tiny = [*MOONS, "--set", "dropout=0.3", "--set", "train.log_every=1", "--runs-dir", str(tmp_path)]
    assert cli("train", *tiny, "--run-id", "whole")[0] == 0
    assert cli("train", *tiny, "--run-id", "cut", "--set", "train.max_steps=11")[0] == 0
    assert load_checkpoint(tmp_path / "cut" / CHECKPOINT)["pos"] == 3  # 8 steps an epoch: inside epoch 2
    code, out, err = cli("train", "--resume", "cut", "--set", "train.max_steps=0", "--runs-dir", str(tmp_path),
                         "--plain")
    assert code == 0, err
    assert "resuming at step 11" in out
    wa, wb = (load_checkpoint(tmp_path / r / CHECKPOINT)["model"] for r in ("whole", "cut"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    code, _, err = cli("train", "--resume", "cut", "--runs-dir", str(tmp_path))
    assert code == 2 and "already reached train.epochs=2" in err
    code, _, err = cli("train", "--resume", "cut", "--set", "optim.lr=1", "--runs-dir", str(tmp_path))
    assert code == 2 and "keeps its config" in err


def test_diverging_run_exits_non_zero(tmp_path):
    code, out, _ = cli("train", "linear-regression", "--set", "optim.lr=5000", "--runs-dir", str(tmp_path),
                       "--run-id", "nan", "--plain")
    assert code == 1 and "diverged: loss became" in out
    assert json.loads((tmp_path / "nan" / "status.json").read_text())["state"] == "diverged"


BAD = [
    (["mlp", "--set", "optim.lrr=0.1"], "unknown key optim.lrr (did you mean lr"),
    (["mlp", "--set", "optim.lr=fast"], "optim.lr: expected float"),
    (["mlp", "--set", "optim.lr=-1"], "optim.lr: -1.0 must be > 0"),
    (["mlp", "--set", "train.epochs=0"], "train.epochs: 0 must be >= 1"),
    (["mlp", "--set", "data.batch_size=0"], "data.batch_size"),
    (["mlp", "--set", "optim.name=adan"], "optim.name: unknown 'adan' (did you mean adam"),
    (["mlp", "--set", "model.dropuot=0.1"], "dropuot"),
    (["mlp", "--set", "model.dropout=1.5"], "model.dropout: 1.5 is above the maximum"),
    (["rnn-lm", "--set", "data.name=shapes"], "data.name=shapes does not fit the task language-model"),
    (["lenet", "--set", "data.name=moons"], "model.name=lenet cannot take data.name=moons"),
    (["lenet", "--set", "data.name=shapes", "--set", "model.num_classes=5"], "model.num_classes=5 conflicts with data shapes"),
    (["lenet", "--set", "data.name=shapes", "--set", "model.in_channels=3"], "set data.channels=3"),
    (["mlp", "--set", "data.name=fashion-mnst"], "did you mean fashion-mnist"),
    (["lenett"], "unknown target 'lenett'"),
    (["mlp", "--device", "cuda:7"], "train.device"),
    (["mlp", "--device", "tpu"], "train.device"),
    (["mlp", "--set", "lr"], "expected section.key=value"),
    ([], "train needs a TARGET"),
    (["mlp", "--set", "train.amp=fp8"], "train.amp"),
    (["mlp", "--set", "lr=-1"], "optim.lr: -1.0 must be > 0"),  # a bare key finds its section
    (["mlp", "--set", "seed=1"], "ambiguous, write data.seed or train.seed"),
    (["mlp", "--set", "dropuot=0.1"], "did you mean dropout"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[" ".join(a) or "none" for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    code, out, err = cli("train", *args, "--runs-dir", str(tmp_path), "--plain")
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("d2l-tui: error: ") and message in lines[0], err
    assert run_folders(tmp_path) == []  # nothing was started


def test_missing_real_dataset_fails_before_any_run(tmp_path):
    code, _, err = cli("train", "lenet", "--set", "data.download=false", "--set", f"data.root={tmp_path / 'none'}",
                       "--runs-dir", str(tmp_path / "runs"))
    assert code == 2 and "fashion" in err.lower() and len(err.strip().splitlines()) == 1
    assert run_folders(tmp_path / "runs") == []


def test_presets_lists_every_preset():
    from d2ltui.config.presets import preset_names

    code, out, _ = cli("presets")
    assert code == 0 and out.splitlines()[0].split() == ["PRESET", "MODEL", "DATA", "SOURCE", "DESCRIPTION"]
    listed = [line.split()[0] for line in out.splitlines()[1:]]
    assert listed == preset_names() and "lenet" in listed and "quick-mlp-moons" in listed


def test_runs_with_no_runs(tmp_path):
    code, out, _ = cli("runs", "--json", "--runs-dir", str(tmp_path / "empty"))
    assert code == 0 and json.loads(out) == []
