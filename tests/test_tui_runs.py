"""Pilot tests of the runs screen, overlays and attach: runs written by the CLI and by hand."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from tui_pilot import pilot_test, settle_summary, until, write_run, write_sweep

from d2ltui.tui.app import create_app
from d2ltui.tui.runlog import config_diff
from d2ltui.tui.widgets.metric_plot import MetricPlot
from d2ltui.tui.widgets.samples_view import SamplesView


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """One short real run written by `d2l-tui train` (shared by the tests of this module)."""
    root = tmp_path_factory.mktemp("cli") / "runs"
    subprocess.run([sys.executable, "-m", "d2ltui", "train", "quick-lenet-shapes", "--set", "data.num_train=128",
                    "--set", "data.num_val=64", "--set", "train.epochs=1", "--run-id", "cli-run",
                    "--runs-dir", str(root), "--plain"], check=True, capture_output=True, timeout=120)
    return root


@pilot_test
async def test_attach_to_a_cli_run_shows_curves_and_predictions(cli_runs):
    app = create_app(runs_dir=cli_runs, attach="cli-run")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen")
        dash = app.screen
        await until(pilot, lambda: dash.query_one("#plot-metric", MetricPlot).point_count > 0)  # plots draw in turn
        assert dash.status["state"] == "finished"
        assert "finished" in str(dash.query_one("#run-message").render())
        samples = str(dash.query_one(SamplesView).render())
        assert "predicted/true" in samples and "▀" in samples
        assert dash.query_one("#plot-metric", MetricPlot).title == "acc"
        titles = {c.title for c in app.get_system_commands(dash)}
        assert {"Pause", "Stop", "Smooth", "Back", "Runs", "Help"} <= titles  # the palette reaches them


@pilot_test
async def test_runs_overlay_and_settings_diff(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "r-plain", optim={"lr": 0.1, "weight_decay": 0.0})
    write_run(root, "r-bn", knobs={"norm": "batch"}, optim={"lr": 0.1, "weight_decay": 0.001})
    assert [key for key, _ in config_diff([root / "r-plain", root / "r-bn"])] == ["model.norm", "optim.weight_decay"]
    app = create_app(runs_dir=root)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle_summary(pilot)
        await pilot.press("r")
        await until(pilot, lambda: type(app.screen).__name__ == "RunsScreen" and app.screen.loaded)
        runs = app.screen
        assert {r.id for r in runs.runs} == {"r-plain", "r-bn"}
        await pilot.press("space", "down", "space", "o")
        await until(pilot, lambda: type(app.screen).__name__ == "CompareScreen")
        compare = app.screen
        await until(pilot, lambda: len(compare.query_one("#cmp-loss", MetricPlot).series) == 2)
        table = compare.query_one("#diff-table")
        keys = [table.get_row_at(i)[0] for i in range(table.row_count)]
        assert keys == ["model.norm", "optim.weight_decay"]
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen).__name__ == "RunsScreen" and app.screen.loaded)


@pilot_test
async def test_delete_asks_first(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "r-old")
    app = create_app(runs_dir=root)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        await until(pilot, lambda: type(app.screen).__name__ == "RunsScreen" and app.screen.loaded)
        await pilot.press("d")
        await until(pilot, lambda: type(app.screen).__name__ == "ChoiceScreen")
        await pilot.press("escape")  # cancel keeps it
        await until(pilot, lambda: type(app.screen).__name__ == "RunsScreen" and app.screen.loaded)
        assert (root / "r-old").exists()
        await pilot.press("d")
        await until(pilot, lambda: type(app.screen).__name__ == "ChoiceScreen")
        await pilot.click("#delete")
        await until(pilot, lambda: not (root / "r-old").exists())


@pilot_test
async def test_crashed_run_shows_crashed_and_resume_reports_the_engine(cli_runs, tmp_path):
    import shutil

    root = tmp_path / "runs"
    shutil.copytree(cli_runs / "cli-run", root / "cli-run")
    status = (root / "cli-run" / "status.json").read_text().replace('"finished"', '"running"')
    (root / "cli-run" / "status.json").write_text(status.replace('"pid": ', '"pid": 99999999, "old_pid": '))
    app = create_app(runs_dir=root)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("r")
        await until(pilot, lambda: type(app.screen).__name__ == "RunsScreen" and app.screen.loaded)
        assert app.screen.runs[0].state == "crashed"
        await pilot.press("u")
        await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen")
        launch = app.launches[0]
        assert launch.proc.args[2:5] == ["d2ltui.engine.job", str(root / "cli-run"), "--resume"]
        await until(pilot, lambda: not launch.alive(), timeout=60)
        # it had reached its last epoch: the engine refuses, and the dashboard says why
        await until(pilot, lambda: app.screen.status.get("state") == "failed")
        assert "already reached train.epochs" in str(app.screen.query_one("#run-message").render())


@pilot_test
async def test_live_runs_are_announced_at_start(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "r-live", state="running")  # this test process stands in for the engine's pid
    app = create_app(runs_dir=root)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: any("r-live" in str(n.message) for n in app._notifications))


@pilot_test
async def test_a_sweep_is_grouped_and_opens_as_an_overlay_with_its_table(tmp_path):
    root = tmp_path / "runs"
    write_sweep(root, "sweep-a")
    app = create_app(runs_dir=root)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("r")
        await until(pilot, lambda: type(app.screen).__name__ == "RunsScreen" and app.screen.loaded)
        runs = app.screen
        assert [(r.kind, r.id) for r in runs.runs] == [("sweep", "sweep-a")] + [
            ("run", f"sweep-a/{m}") for m in ("00-none-seed0", "01-none-seed1", "02-batch-seed0", "03-batch-seed1")]
        table = runs.query_one("#runs-table")
        assert str(table.get_row_at(0)[1]) == "▸ sweep-a (4/4 runs finished)"
        assert str(table.get_row_at(1)[1]) == "  └ 00-none-seed0"
        await pilot.press("down", "u")  # a member resumes with its sweep, not alone
        await until(pilot, lambda: any("sweep --resume sweep-a" in str(n.message) for n in app._notifications))
        await pilot.press("up", "enter")
        await until(pilot, lambda: type(app.screen).__name__ == "SweepScreen")
        sweep = app.screen
        await until(pilot, lambda: len(sweep.query_one("#cmp-metric", MetricPlot).series) == 4)
        table = sweep.query_one("#diff-table")
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert rows == [["none", "2/2", "0.65 ± 0.071", "finished"], ["batch", "2/2", "0.8 ± 0", "finished"]]
        assert [str(c.label) for c in table.columns.values()][:3] == ["model.norm", "runs", "best acc (mean ± std)"]
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen).__name__ == "RunsScreen")
        await pilot.press("down", "enter")  # a member opens its own dashboard
        await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen")


@pilot_test
async def test_attach_to_a_run_whose_engine_has_not_written_its_config_waits_for_it(tmp_path):
    """`d2l-tui attach` right after `train --detach`: the folder holds only the launcher's status, then fills in."""
    from d2ltui.rundir.store import STATUS
    from d2ltui.rundir.writer import atomic_write_json

    runs = tmp_path / "runs"
    (runs / "det").mkdir(parents=True)
    atomic_write_json(runs / "det" / STATUS, {"state": "starting", "pid": os.getpid(), "message": "detached, starting"})
    app = create_app(runs_dir=runs, attach="det")
    async with app.run_test(size=(100, 30)) as pilot:
        head = app.screen.query_one("#run-head")
        await until(pilot, lambda: "det" in str(head.render()))
        assert "? on ?" in str(head.render())  # no config yet: model and data unknown
        done = write_run(tmp_path / "later", "det", model="mlp", data="shapes")  # the engine's records arrive
        for name in ("config.toml", "metrics.jsonl", "status.json"):
            (runs / "det" / name).write_bytes((done / name).read_bytes())
        await until(pilot, lambda: "mlp on shapes" in str(head.render()))
        loss = app.screen.query_one("#plot-loss", MetricPlot)
        await until(pilot, lambda: len(loss.series.get("train", ([], []))[0]) == 10)
