"""Resume edge cases: a kill between a validation and its checkpoint, and a changed process count."""

from __future__ import annotations

import json

import pytest
import torch

from d2ltui.metrics import EFFICIENCY_KEYS
from d2ltui.rundir.checkpoint import load_checkpoint
from d2ltui.rundir.writer import save_checkpoint
from d2ltui.rundir.store import CHECKPOINT, METRICS
from d2ltui.engine.loop.trainer import Loop
from test_train_cli import MOONS, cli

# 256 samples in batches of 32: 8 steps an epoch; a step checkpoint lands on every epoch's last step.
BASE = [*MOONS, "--set", "dropout=0.3", "--set", "train.log_every=1", "--set", "train.checkpoint_every=8"]
CLOCK = ("time", *EFFICIENCY_KEYS)  # wall-clock fields: the only ones allowed to differ


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the trainer catches it, so no status or checkpoint is written."""


def lines(run) -> list[dict]:
    records = [json.loads(line) for line in (run / METRICS).read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in CLOCK} for r in records]


def kill_after_validation(monkeypatch, at_step: int) -> None:
    """Test-only fault injection: the process dies right after the validation at `at_step` is logged."""
    validate = Loop.validate

    def dying(self):
        validate(self)
        if self.step == at_step:
            raise Killed
    monkeypatch.setattr(Loop, "validate", dying)


@pytest.mark.parametrize("max_steps, kill_at", [(0, 8), (8, 8), (5, 5)],
                         ids=["epoch-end", "max-steps-at-epoch-end", "max-steps-mid-epoch"])
def test_kill_between_validation_and_checkpoint_resumes_to_the_same_curve(tmp_path, monkeypatch, max_steps, kill_at):
    args = [*BASE, "--set", f"train.max_steps={max_steps}", "--set", f"train.checkpoint_every={kill_at}",
            "--runs-dir", str(tmp_path)]
    code, _, err = cli("train", *args, "--run-id", "whole")
    assert code == 0, err
    with monkeypatch.context() as patch:
        kill_after_validation(patch, kill_at)
        with pytest.raises(Killed):
            cli("train", *args, "--run-id", "cut")
    cut = tmp_path / "cut"
    state = load_checkpoint(cut / CHECKPOINT)
    assert state["step"] == kill_at and state["val_step"] != kill_at  # the checkpoint precedes the validation
    assert [r["split"] for r in lines(cut)][-1] == "val"  # ... which was logged before the kill
    code, out, err = cli("train", "--resume", "cut", "--runs-dir", str(tmp_path), "--plain")
    assert code == 0, err
    whole = lines(tmp_path / "whole")
    assert [r["split"] for r in whole].count("val") == (2 if not max_steps else 1)
    assert lines(cut) == whole  # line for line: one validation per step, same values
    a, b = (load_checkpoint(tmp_path / r / CHECKPOINT) for r in ("whole", "cut"))
    assert (a["step"], a["epoch"], a["pos"], a["val_step"]) == (b["step"], b["epoch"], b["pos"], b["val_step"])
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_resume_with_another_process_count_is_refused(tmp_path):
    args = [*BASE, "--set", "train.max_steps=3", "--runs-dir", str(tmp_path)]
    assert cli("train", *args, "--run-id", "r")[0] == 0
    path = tmp_path / "r" / CHECKPOINT
    state = load_checkpoint(path)
    assert state["world_size"] == 1
    state["world_size"] = 4  # as a `--nproc 4` job would have written it
    save_checkpoint(path, state)
    before = (tmp_path / "r" / METRICS).read_bytes()
    code, out, err = cli("train", "--resume", "r", "--set", "train.max_steps=0", "--runs-dir", str(tmp_path))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("d2l-tui: error: ") and "Traceback" not in err
    assert "--nproc 4" in err and "not 1" in err
    assert (tmp_path / "r" / METRICS).read_bytes() == before  # refused before anything was touched
    state["world_size"] = 1
    save_checkpoint(path, state)
    code, _, err = cli("train", "--resume", "r", "--set", "train.max_steps=0", "--runs-dir", str(tmp_path))
    assert code == 0, err
