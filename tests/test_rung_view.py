"""The rung sweep's view: every trial with its state and rung, the rung plot, the best trial one key from training."""

from __future__ import annotations

import asyncio

from d2ltui.engine.orchestration.rungs import best_trial, trials
from d2ltui.tui.app import create_app
from tests.tui_pilot import until, write_rung_sweep


def test_trials_read_from_the_sweep_folder(tmp_path):
    sweep = write_rung_sweep(tmp_path)
    rows = {t.id[:2]: t for t in trials(sweep)}
    assert {k: (t.state, t.rung) for k, t in rows.items()} == {
        "00": ("stopped", 1), "01": ("stopped", 1), "02": ("stopped", 2), "03": ("finished", 4)}
    assert rows["03"].value == 0.85 and sorted(rows["03"].curve) == [1, 2, 3, 4]
    assert best_trial(list(rows.values())).id == rows["03"].id


def test_rung_view_shows_trials_and_trains_the_best_again(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    sweep = write_rung_sweep(root)
    started = []

    async def main():
        app = create_app(runs_dir=root)
        monkeypatch.setattr(app, "start_run", lambda model, overrides, **kw: started.append((model, overrides, kw)))
        async with app.run_test(size=(110, 32)) as pilot:
            await pilot.press("r")
            await until(pilot, lambda: type(app.screen).__name__ == "RunsScreen" and app.screen.loaded)
            await pilot.press("enter")
            await until(pilot, lambda: type(app.screen).__name__ == "RungSweepScreen")
            screen = app.screen
            table = screen.query_one("#rung-table")
            await until(pilot, lambda: table.row_count == 4)
            states = [table.get_row_at(i)[2] for i in range(4)]
            assert states == ["stopped", "stopped", "stopped", "finished"]
            plot = screen.query_one("#rung-plot")
            assert sorted(len(xs) for xs, _ in plot.series.values()) == [1, 1, 2, 4]  # the stopped end early
            assert "03-lr-0.4-seed0" in str(screen.query_one("#rung-best").render())
            await pilot.press("t")
            await pilot.pause()

    asyncio.run(main())
    assert started and started[0][0] == "lenet" and started[0][1] == ["optim.lr=0.4"]
    assert started[0][2]["base_toml"] == (sweep / "base.toml").read_text()
