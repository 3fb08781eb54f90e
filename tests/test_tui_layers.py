"""Pilot tests of the lab views: the inspector's Parameters tab and the dashboard's layer statistics."""

from __future__ import annotations

from tui_pilot import pilot_test, settle_summary, until

from d2ltui.tui.app import create_app
from d2ltui.tui.widgets.param_table import ParamTable


def params_settled(app, model: str) -> bool:
    table = app.screen.query_one(ParamTable)
    return bool(table.rows) and table._shown is not None and table._shown[0] == model and not [
        w for w in app.workers if w.group == "params" and not w.is_finished]


@pilot_test
async def test_parameters_tab_lists_tensors_and_follows_knobs():
    app = create_app()
    async with app.run_test(size=(110, 30)) as pilot:
        await settle_summary(pilot)
        table = app.screen.query_one(ParamTable)
        assert not table.rows  # nothing is built until the tab is shown
        await pilot.press("p")
        await until(pilot, lambda: params_settled(app, "lenet"))
        names = [r[0] for r in table.rows]
        assert names[:2] == ["conv1.weight", "conv1.bias"] and len(names) == 10
        fc3 = next(r for r in table.rows if r[0] == "fc3.weight")
        assert fc3[1] == "120x400" and fc3[2] == "48,000" and "lazy" in fc3[6]
        assert "unique params 61,706" in str(app.screen.query_one("#param-totals").render())
        await pilot.press("b")  # batch norm adds norm weights and biases
        await until(pilot, lambda: any(r[0] == "norm1.weight" for r in table.rows))
        assert "unique params 62,158" in str(app.screen.query_one("#param-totals").render())


@pilot_test
async def test_dashboard_layers_view_table_heatmap_and_statistic_keys(tmp_path):
    from tui_pilot import write_layers, write_run

    from d2ltui.tui.widgets.layer_stats import LayerStatsView

    path = write_run(tmp_path / "runs", "run-a")
    write_layers(path, steps=4)
    app = create_app(runs_dir=tmp_path / "runs", attach="run-a")
    async with app.run_test(size=(110, 32)) as pilot:
        await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen")
        view = app.screen.query_one(LayerStatsView)
        assert not view.display
        await pilot.press("l")
        await until(pilot, lambda: view.query_one("#layer-stats-table").row_count == 3)
        assert not app.screen.query_one("#dash-body").display
        table = view.query_one("#layer-stats-table")
        row = table.get_row_at(0)
        assert row[0] == "conv1" and row[2] == "Sigmoid"
        assert row[7] == "0.0014"  # conv1's grad norm at the latest step 4: 10^-3 * (1 + 4 / 10)
        heat = str(view.query_one("#layer-heatmap").render())
        assert heat.splitlines()[0].startswith("conv1") and heat.count("█") == 3 * 4
        assert "grad norm" in heat and "steps 1..4" in heat
        await pilot.press("h")
        assert view.stat == "weight_norm"
        assert "weight norm" in str(view.query_one("#layer-heatmap").render())
        with open(path / "layers.jsonl", "a") as f:  # a live run appends a step: the view follows
            f.write('{"step": 5, "layer": "conv1", "grad_norm": 0.5, "weight_norm": 2.0}\n')
        await until(pilot, lambda: view.tail.steps[-1:] == [5])
        await until(pilot, lambda: "steps 1..5" in str(view.query_one("#layer-heatmap").render()))
        await pilot.press("l")
        assert not view.display and app.screen.query_one("#dash-body").display
