"""Pilot tests of the lab views: the inspector's Parameters tab and the dashboard's layer statistics."""

from __future__ import annotations

from tui_pilot import pilot_test, settle_summary, until

from d2ltui.tui.app import create_app
from d2ltui.tui.widgets.catalog import Catalog
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
