"""The optimization and Gaussian-process labs on the lab screen: turn a knob, the figure follows; snapshots."""

from __future__ import annotations

import pytest
from test_tui_lab import open_lab
from tui_pilot import pilot_test, until

from d2ltui.tui.app import create_app
from d2ltui.tui.widgets.figure_view import CurvesPlot


@pilot_test
async def test_optimizer_paths_gd_stops_diverging_at_the_books_smaller_lr():
    app = create_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_lab(pilot, "optimizer-paths")
        assert screen.figure.notes[0].startswith("gd diverges")
        assert len(screen.query(CurvesPlot)) == 2
        screen.query_one("#lab-lr").focus()
        await pilot.press("home", "ctrl+k", *"0.4")
        await until(pilot, lambda: screen.figure.knobs["lr"] == 0.4)
        assert screen.figure.notes[0].startswith("gd: f")
        assert len(screen.figure.panels[0].paths["gd"]["x"]) == 21  # the whole path stays in view
        screen.query_one("#lab-optimizers").focus()
        await pilot.press("end", *",adam")
        await until(pilot, lambda: "adam" in screen.figure.panels[0].paths)


@pilot_test
async def test_gaussian_process_fit_on_request_and_lr_schedules_pick():
    app = create_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_lab(pilot, "gaussian-process")
        assert screen.figure.panel("hyperparameters").rows[0][0] == 0.2
        screen.query_one("#lab-fit").focus()
        await pilot.press("enter", "down", "enter")
        await until(pilot, lambda: screen.figure.knobs["fit"] == "length-noise")
        assert screen.figure.panel("hyperparameters").rows[0][0] > 0.3  # the optimum is smoother than the prior's 0.2
        await pilot.press("escape")
        screen = await open_lab(pilot, "lr-schedules")
        screen.query_one("#lab-schedules").focus()
        await pilot.press("home", "ctrl+k", *"one-cycle")
        await until(pilot, lambda: list(screen.figure.panels[0].series) == ["one-cycle"])


@pytest.mark.parametrize("name", ["optimizer-paths", "lr-schedules", "gaussian-process"])
def test_optimization_lab_snapshots(snap_compare, name):
    async def ready(pilot):
        await open_lab(pilot, name)
        pilot.app.screen.set_focus(None)  # no blinking cursor in the picture
        await pilot.pause(0.3)

    assert snap_compare(create_app(), terminal_size=(120, 40), run_before=ready)
