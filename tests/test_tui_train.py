"""Pilot test of the main flow: configure, start a real engine process, watch, pause, resume, stop."""

from __future__ import annotations

from tui_pilot import pilot_test, settle_summary, until

from d2ltui.rundir.store import read_status
from d2ltui.tui.app import create_app
from d2ltui.tui.widgets.metric_plot import MetricPlot


async def fill(pilot, field_id: str, text: str) -> None:
    field = pilot.app.screen.query_one(f"#{field_id}")
    field.value = text
    await pilot.pause(0.05)


@pilot_test
async def test_configure_start_watch_pause_resume_then_quit_stops_it(tmp_path):
    app = create_app(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle_summary(pilot)
        await pilot.press("t")
        await fill(pilot, "cfg-data-num_train", "256")
        await fill(pilot, "cfg-data-batch_size", "32")
        await fill(pilot, "cfg-train-epochs", "40")
        await fill(pilot, "cfg-optim-lr", "abc")  # invalid: marked, and Start refused
        await pilot.press("s")
        await pilot.pause(0.1)
        assert not app.launches
        assert "lr" in str(app.screen.query_one("#cfg-errors").render())
        await fill(pilot, "cfg-optim-lr", "0.05")
        await pilot.press("s")
        await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen")
        launch = app.launches[0]
        dash = app.screen
        await until(pilot, lambda: dash.query_one("#plot-loss", MetricPlot).point_count > 0, timeout=60)
        assert dash.status["state"] == "running"
        await pilot.press("space")
        await until(pilot, lambda: read_status(launch.path)["state"] == "paused", timeout=30)
        await until(pilot, lambda: "PAUSED" in str(dash.query_one("#progress").render()))
        paused_lines = len(dash.tail.records)
        await pilot.pause(1.0)
        dash.poll()
        assert len(dash.tail.records) == paused_lines  # nothing trains while paused
        await pilot.press("space")
        await until(pilot, lambda: read_status(launch.path)["state"] == "running", timeout=30)
        await pilot.press("q")  # quitting while it trains asks; "Stop them" stops it and then quits
        await until(pilot, lambda: type(app.screen).__name__ == "ChoiceScreen")
        await pilot.click("#stop")
        await until(pilot, lambda: not app.is_running, timeout=60)
    assert not launch.alive()
    status = read_status(launch.path)
    assert status["state"] == "stopped" and status.get("checkpoint_step")
    config = (launch.path / "config.toml").read_text()
    assert "num_train = 256" in config and "lr = 0.05" in config and 'name = "shapes"' in config


@pilot_test
async def test_quit_while_running_asks_then_leave_and_reattach(tmp_path):
    runs = tmp_path / "runs"
    app = create_app(runs_dir=runs)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle_summary(pilot)
        await pilot.press("t")
        await fill(pilot, "cfg-data-num_train", "256")
        await fill(pilot, "cfg-train-epochs", "500")
        await pilot.press("s")
        await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen")
        launch = app.launches[0]
        await until(pilot, lambda: read_status(launch.path)["state"] == "running", timeout=60)
        await pilot.press("q")
        await until(pilot, lambda: type(app.screen).__name__ == "ChoiceScreen")
        await pilot.press("escape")  # cancel: nothing happens
        await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen")
        await pilot.press("q")
        await until(pilot, lambda: type(app.screen).__name__ == "ChoiceScreen")
        await pilot.click("#leave")
        await until(pilot, lambda: not app.is_running)
    try:
        assert launch.alive()  # left running, in its own session
        again = create_app(runs_dir=runs, attach=launch.run_id)
        async with again.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: type(again.screen).__name__ == "DashboardScreen")
            dash = again.screen
            await until(pilot, lambda: dash.status.get("state") == "running")
            await pilot.press("x")  # stop from the re-attached dashboard
            await until(pilot, lambda: not launch.alive(), timeout=60)
            await until(pilot, lambda: dash.status.get("state") == "stopped")
    finally:
        launch.send("kill")
