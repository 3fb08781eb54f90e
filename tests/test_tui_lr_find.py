"""Pilot tests of the training panel's learning-rate range test: run off the event loop, drawn, its lr one key away."""

from __future__ import annotations

import math

from tui_pilot import pilot_test, settle_summary, until

from d2ltui.tui.app import create_app
from d2ltui.tui.widgets.catalog import Catalog


async def _panel_for(pilot, model: str) -> None:
    await settle_summary(pilot)
    pilot.app.screen.query_one(Catalog).select_model(model)
    await until(pilot, lambda: pilot.app.screen.model == model)
    await pilot.press("t")
    await until(pilot, lambda: bool(pilot.app.screen.query("#config")))


@pilot_test
async def test_find_lr_runs_the_panels_settings_and_enter_fills_the_lr_field(tmp_path, monkeypatch):
    import d2ltui.engine.analysis.lr_find as lr_find

    monkeypatch.setattr(lr_find, "STEPS", 80)  # the screen's test length: a tiny model and few steps
    app = create_app(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(100, 30)) as pilot:
        await _panel_for(pilot, "mlp")
        screen = app.screen
        screen.query_one("#cfg-data-num_train").value = "512"
        screen.query_one("#cfg-data-batch_size").value = "32"
        await pilot.pause(0.05)
        screen.query_one("#catalog").focus()
        await pilot.press("f")
        await until(pilot, lambda: type(app.screen).__name__ == "LrFindScreen")
        finder = app.screen
        assert finder.cfg.data.batch_size == 32 and finder.cfg.data.num_train == 512  # the panel's settings
        await until(pilot, lambda: finder.curve is not None, timeout=60)
        curve = finder.curve
        assert curve.model == "mlp" and 10 <= len(curve.lrs) <= 80 and curve.lrs == sorted(curve.lrs)
        assert curve.suggested_lr is not None and 1e-6 < curve.suggested_lr < 10
        assert f"suggested lr {curve.suggested_lr:g}" in str(finder.query_one("#lr-result").render())
        assert finder.query_one("#lr-plot").panel.points["suggested"]["x"] == [
            min((math.log10(lr) for lr in curve.lrs), key=lambda x: abs(x - math.log10(curve.suggested_lr)))]
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "BrowseScreen")
        assert app.screen.query_one("#cfg-optim-lr").value == f"{curve.suggested_lr:g}"
        assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # no run written


@pilot_test
async def test_find_lr_refuses_an_invalid_panel_and_esc_stops_a_running_test(tmp_path, monkeypatch):
    import d2ltui.engine.analysis.lr_find as lr_find

    app = create_app(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(100, 30)) as pilot:
        await _panel_for(pilot, "mlp")
        app.screen.query_one("#cfg-optim-lr").value = "abc"
        await pilot.pause(0.05)
        app.screen.query_one("#catalog").focus()
        await pilot.press("f")
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "BrowseScreen"  # refused: the field is marked
        assert "lr" in str(app.screen.query_one("#cfg-errors").render())
        app.screen.query_one("#cfg-optim-lr").value = "0.1"
        monkeypatch.setattr(lr_find, "STEPS", 100000)  # would run for minutes
        await pilot.pause(0.05)
        app.screen.query_one("#catalog").focus()
        await pilot.press("f")
        await until(pilot, lambda: type(app.screen).__name__ == "LrFindScreen")
        finder = app.screen
        await until(pilot, lambda: "running" in str(finder.query_one("#lr-status").render()), timeout=60)
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen).__name__ == "BrowseScreen")
        await until(pilot, lambda: all(w.is_finished for w in app.workers if w.group == "lr-find"), timeout=30)
        assert app.screen.query_one("#cfg-optim-lr").value == "0.1"


def _made_up_curve(cfg, steps=0, lr_min=1e-6, lr_max=10.0, data=None, progress=None):
    """A range test's record drawn from a formula (flat, a fall around 1e-2, then the explosion): a fixed picture."""
    from d2ltui.engine.analysis.lr_find import LrCurve, suggest
    from d2ltui.metrics import smooth

    curve = LrCurve(cfg.model.name, cfg.data.name, stopped="the loss exploded at lr 0.794 (step 61)")
    curve.lrs = [10 ** (-5 + i * 0.075) for i in range(61)]
    curve.losses = [2.3 - 1.6 / (1 + math.exp(-(math.log10(lr) + 2) * 3)) + max(0.0, math.log10(lr) + 0.8) ** 2 * 6
                    + 0.05 * math.sin(i * 1.7) for i, lr in enumerate(curve.lrs)]
    curve.smoothed = smooth(curve.losses, 0.9)
    curve.suggested_lr = suggest(curve.lrs, curve.smoothed)
    return curve


def test_lr_find_view_snapshot(snap_compare, monkeypatch):
    import d2ltui.engine.analysis.lr_find as lr_find

    monkeypatch.setattr(lr_find, "find_lr", _made_up_curve)

    async def ready(pilot):
        await settle_summary(pilot)
        await pilot.press("t")
        await until(pilot, lambda: bool(pilot.app.screen.query("#config")))
        pilot.app.screen.query_one("#catalog").focus()
        await pilot.press("f")
        await until(pilot, lambda: getattr(pilot.app.screen, "curve", None) is not None)
        await pilot.pause(0.3)

    assert snap_compare(create_app(), terminal_size=(100, 30), run_before=ready)
