"""The learning-rate range test: its suggestion on the embedded shapes with LeNet trains, and it writes no run."""

from __future__ import annotations

import math

import pytest
import torch

from d2ltui.engine.analysis.lr_find import find_lr, suggest
from d2ltui.tasks.resolve import resolve


def test_suggest_picks_the_steepest_descent_before_the_minimum():
    lrs = [10 ** (-4 + i * 0.1) for i in range(41)]  # 1e-4 .. 1
    # flat, then falling fastest around 1e-2, a minimum near 1e-1, then a rise (the explosion)
    losses = [2.0 - 1.5 / (1 + math.exp(-(math.log10(lr) + 2) * 4)) + (max(0.0, math.log10(lr) + 1) * 8) ** 2
              for lr in lrs]
    assert abs(math.log10(suggest(lrs, losses)) + 2) <= 0.15
    assert suggest(lrs[:5], losses[:5]) is None


@pytest.fixture
def one_thread():
    """One torch thread, as the runs the TUI starts: on a busy machine two threads of tiny steps wait on each
    other (this test took minutes on two; seconds on one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_lenet_on_shapes_learns_at_the_suggested_lr(tmp_path, monkeypatch, one_thread):
    monkeypatch.setenv("D2LTUI_RUNS_DIR", str(tmp_path))
    from d2ltui.data.registry import load_data
    from d2ltui.engine.loop.trainer import fit
    from d2ltui.tasks.defaults import clears
    from d2ltui.tasks.spec import task_spec

    overrides = ["data.num_train=1024", "data.num_val=256", "data.batch_size=16", "optim.schedule=none",
                 "train.device=cpu"]
    cfg = resolve("quick-lenet-shapes", overrides)[0]
    data = load_data(cfg.data, "classification", "cpu")
    curve = find_lr(cfg, steps=100, lr_min=1e-4, lr_max=1.0, data=data)
    assert curve.suggested_lr is not None and 1e-4 < curve.suggested_lr < 1.0
    assert len(curve.lrs) == len(curve.smoothed) and curve.lrs == sorted(curve.lrs)
    assert not any(tmp_path.iterdir())  # no run directory
    trained = resolve("quick-lenet-shapes", overrides + [f"optim.lr={curve.suggested_lr}", "train.epochs=3"])[0]
    result = fit(trained, data=data)
    metric, bar = task_spec(data.task).task_class().learning_bar(data)
    assert clears(metric, bar, result.val[metric]), (curve.suggested_lr, result.val)
