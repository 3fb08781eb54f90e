"""A rung sweep end to end: ASHA over two trials, the loser stopped at its rung, the winner resumed to r_max."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from d2ltui.rundir.store import read_metrics


@pytest.mark.slow
def test_asha_sweep_stops_the_loser_and_resumes_the_winner(tmp_path):
    env = {**os.environ, "D2LTUI_RUNS_DIR": str(tmp_path)}
    args = [sys.executable, "-m", "d2ltui", "sweep", "quick-linear", "--set", "data.num_train=256", "--set",
            "data.num_val=64", "--grid", "lr=0.0005,0.1", "--scheduler", "asha",
            "--r-min", "1", "--r-max", "2", "--eta", "2", "--parallel", "2", "--json"]
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    trials = {t["setting"]["optim.lr"]: t for t in report["trials"]}
    assert len(trials) == 2, report
    assert trials[0.1]["state"] == "finished" and trials[0.1]["rung"] == 2
    assert trials[0.0005]["state"] == "stopped" and trials[0.0005]["rung"] == 1
    assert report["best"]["setting"] == {"optim.lr": 0.1} and "--set optim.lr=0.1" in report["best"]["train"]
    assert sorted(trials[0.1]["curve"]) == ["1", "2"] and list(trials[0.0005]["curve"]) == ["1"]
    sweep = tmp_path / report["sweep"]
    winner = sweep / trials[0.1]["id"]
    assert "epochs = 2" in (winner / "config.toml").read_text()  # resumed with the next rung's epochs
    steps = [r["step"] for r in read_metrics(winner / "metrics.jsonl")[0] if r.get("split") == "val"]
    assert steps == sorted(steps) and len(steps) == 2  # one run continued, not trained twice
