"""A run's headline metric and its direction are read from what the engine recorded, not guessed from columns."""

from __future__ import annotations

import json

from tui_pilot import pilot_test, settle_summary, until, write_run

from d2ltui.engine.orchestration.rungs import Trial, best_trial, val_curve
from d2ltui.rundir.index import headline, summarise
from d2ltui.rundir.sweeps import sweep_table
from d2ltui.tui.app import create_app
from d2ltui.tui.screens.compare import CompareScreen
from d2ltui.tui.widgets.metric_plot import MetricPlot


def record_headline(path, metric: str, higher: bool) -> None:
    """status.json as the engine leaves it: with the task's headline metric and its direction."""
    status = json.loads((path / "status.json").read_text())
    (path / "status.json").write_text(json.dumps({**status, "headline": {"metric": metric, "higher_is_better": higher}}))


def add_column(path, name: str, values: list[float]) -> None:
    """Give the run's validation lines a further metric column, `values` in order."""
    lines = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    it = iter(values)
    for line in lines:
        if line["split"] == "val":
            line[name] = next(it)
    (path / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_the_recorded_headline_wins_over_the_columns(tmp_path):
    run = write_run(tmp_path, "r", epochs=2)  # val lines carry loss and acc (0.5, 0.6)
    add_column(run, "err", [0.3, 0.1])  # a metric of a task of the user's own: lower is better
    assert headline(run) == ("acc", True)  # an older run directory: the first known column
    record_headline(run, "err", False)
    assert headline(run) == ("err", False)
    row = summarise(run)
    assert (row.metric, row.best, row.higher_is_better) == ("err", 0.1, False)
    assert val_curve(run) == ("err", False, {0: 0.3, 1: 0.1})


def test_an_older_run_falls_back_to_its_recorded_best_then_to_the_loss(tmp_path):
    run = write_run(tmp_path, "r", epochs=2)
    status = json.loads((run / "status.json").read_text())
    (run / "status.json").write_text(json.dumps({**status, "best": {"metric": "ppl", "value": 3.0}}))
    assert headline(run) == ("ppl", False)
    lines = [{k: v for k, v in json.loads(line).items() if k != "acc"}
             for line in (run / "metrics.jsonl").read_text().splitlines()]
    (run / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert headline(run, status={}) == ("loss", False)


def test_a_sweep_ranks_by_the_direction_its_members_recorded(tmp_path):
    sweep = tmp_path / "sweep"
    members = []
    for i, errs in enumerate(([0.4, 0.2], [0.5, 0.3])):
        member = f"{i:02d}-lr-{i}"
        run = write_run(sweep, member, epochs=2)
        add_column(run, "err", errs)
        record_headline(run, "err", False)
        members.append({"id": member, "setting": {"optim.lr": i}, "seed": 0, "overrides": []})
    (sweep / "sweep.json").write_text(json.dumps({"id": "sweep", "members": members, "model": "lenet", "data": "shapes"}))
    _, metric, rows, _ = sweep_table(sweep)
    assert metric == "err" and [r.mean for r in rows] == [0.2, 0.3]  # each member's lowest err


def test_the_best_trial_follows_the_trials_direction():
    rows = [Trial("a", {}, "finished", 2, "err", 0.2, higher_is_better=False),
            Trial("b", {}, "finished", 2, "err", 0.4, higher_is_better=False)]
    assert best_trial(rows).id == "a"
    rows = [Trial(t.id, {}, "finished", 2, "f1", t.value, higher_is_better=True) for t in rows]
    assert best_trial(rows).id == "b"


@pilot_test
async def test_compare_plots_the_metric_the_runs_recorded(tmp_path):
    runs = [write_run(tmp_path, name, epochs=2) for name in ("r-a", "r-b")]
    for run in runs:
        add_column(run, "err", [0.3, 0.1])
        record_headline(run, "err", False)
    app = create_app(runs_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle_summary(pilot)
        await app.push_screen(CompareScreen(runs))
        plot = app.screen.query_one("#cmp-metric", MetricPlot)
        await until(pilot, lambda: len(plot.series) == 2)
        assert plot.title == "err"  # not acc, which the columns carry first
        assert {tuple(ys) for _, ys in plot.series.values()} == {(0.3, 0.1)}
