"""The trainer's seam: a task that owns its step, the train state, the metrics window and the cadences."""

from __future__ import annotations

import torch

from d2ltui.config.schema import from_dict
from d2ltui.data.base import DataModule
from d2ltui.tasks import supervised as tasks
from d2ltui.engine.loop.cadence import CheckpointPolicy, LogPolicy
from d2ltui.engine.loop.state import TrainState
from d2ltui.engine.loop.trainer import fit
from d2ltui.engine.loop.window import MetricsWindow
from d2ltui.tasks.base import StepStats


def test_train_state_round_trips_and_tracks_the_best_validation():
    s = TrainState(step=7, epoch=1, pos=3, order=torch.arange(5))
    s.record_validation({"loss": 0.5, "acc": 0.8}, "acc", True)
    s.step = 9
    s.record_validation({"loss": 0.4, "acc": 0.7}, "acc", True)  # worse: the best stays
    assert s.best == {"metric": "acc", "value": 0.8, "epoch": 2, "step": 7} and s.val_step == 9
    t = TrainState()
    t.load_state_dict({**s.state_dict(), "elapsed": 3.5})
    assert (t.step, t.epoch, t.pos, t.best, t.val_step, t.elapsed) == (9, 1, 3, s.best, 9, 3.5)
    assert torch.equal(t.order, s.order)
    t.next_epoch()
    assert (t.epoch, t.pos, t.order) == (2, 0, None)


def test_metrics_window_sums_counts_and_averages_extras():
    w = MetricsWindow(torch.device("cpu"))
    w.add(StepStats(torch.tensor(2.0), 4, torch.tensor(3), 4, {"loss_g": torch.tensor(1.0)}))
    w.add(StepStats(torch.tensor(1.0), torch.tensor(2), None, 2, {"loss_g": torch.tensor(3.0)}))
    totals = w.take()
    assert (totals.loss_sum, totals.count, totals.correct) == (10.0, 6.0, 3.0)
    assert totals.extra == {"loss_g": 2.0} and totals.samples_per_s > 0
    assert w.steps == 0 and w.take().count == 0


def test_cadences():
    log = LogPolicy(every=10, steps_per_epoch=3)
    assert [s for s in range(1, 31) if log.due(s)] == [10, 20, 30]
    assert log.due_at_epoch_end(2) and not log.due_at_epoch_end(0)
    assert not LogPolicy(10, 50).due_at_epoch_end(5)
    assert [s for s in range(1, 13) if CheckpointPolicy(5).due(s)] == [5, 10]
    assert not any(CheckpointPolicy(0).due(s) for s in range(1, 13))


def test_a_task_that_owns_its_step_drives_the_loop(monkeypatch):
    """A task replacing train_step (two updates a step, an extra named mean) trains through the same loop."""
    calls = []

    class TwoUpdates(tasks.Regression):
        def train_step(self, batch):
            first = super().train_step(batch)
            second = super().train_step(batch)
            calls.append(1)
            return StepStats(second.loss, second.count, None, second.samples, {"first": first.loss})

    import dataclasses

    from d2ltui.tasks import spec as task_specs

    task_specs.task_names()  # the catalog is loaded before it is patched
    toy = dataclasses.replace(task_specs.REGISTRY["regression"], step=f"{__name__}:TwoUpdates")
    globals()["TwoUpdates"] = TwoUpdates
    monkeypatch.setitem(task_specs.REGISTRY, "regression", toy)
    X = torch.randn(64, 2)
    y = X @ torch.tensor([2.0, -3.4]) + 4.2
    data = DataModule("toy", "regression", (X, y), (X[:16], y[:16]), ((1, 2),), {"in_features": 2})
    cfg = from_dict({"model": {"name": "linear-regression"}, "data": {"batch_size": 16, "name": "synthetic-regression"},
                     "optim": {"lr": 0.03}, "train": {"epochs": 2, "log_every": 2}})
    records = []
    result = fit(cfg, subscribers=[lambda e: records.append(e.record) if hasattr(e, "record") else None], data=data)
    assert result.state == "finished" and len(calls) == result.step == 8
    train = [r for r in records if r["split"] == "train"]
    assert train and all("first" in r and r["first"] >= r["loss"] for r in train[1:])
