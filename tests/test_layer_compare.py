"""Layer statistics across runs: `d2l-tui runs --layers STAT` / `--json`, and the overlay's layers view (Pilot)."""

from __future__ import annotations

import json

from fault_helpers import cli
from tui_pilot import pilot_test, settle_summary, until, write_layers, write_run

from d2ltui.rundir.layers import merge_names
from d2ltui.tui.app import create_app
from d2ltui.tui.widgets.layer_compare import LayerCompareView
from d2ltui.tui.widgets.metric_plot import MetricPlot

PLAIN, BN = ("conv1", "conv2", "fc3"), ("conv1", "bn1", "conv2", "fc3")


def grad_norm(depth: int, count: int, step: int) -> float:
    """write_layers' gradient norm of the layer at `depth` of `count` at `step`, worked out again here."""
    return 10.0 ** (depth - count) * (1 + step / 10)


def two_runs(tmp_path):
    root = tmp_path / "runs"
    write_layers(write_run(root, "r-plain"), layers=PLAIN, steps=10)
    write_layers(write_run(root, "r-bn", model="lenet-bn"), layers=BN, steps=4)
    write_run(root, "r-none")  # no layers.jsonl: left out of the comparison
    return root


def test_merge_names_keeps_each_order():
    assert merge_names([list(PLAIN), list(BN)]) == ["conv1", "bn1", "conv2", "fc3"]
    assert merge_names([["a", "c"], ["b", "c", "d"], ["a", "e"]]) == ["b", "a", "e", "c", "d"]


def test_runs_layers_table_json_and_errors(tmp_path):
    root = two_runs(tmp_path)
    code, out, err = cli("runs", "--layers", "grad_norm", "--runs-dir", str(root))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("grad_norm") and lines[1].split() == ["LAYER", "TYPE", "r-bn", "r-plain"]
    assert lines[2].split() == ["(latest", "step)", "4", "10"]
    rows = {line.split()[0]: line.split()[2:] for line in lines[3:]}
    assert list(rows) == ["conv1", "bn1", "conv2", "fc3"]
    assert rows["bn1"] == [f"{grad_norm(1, 4, 4):.3g}", "-"]
    assert rows["fc3"] == [f"{grad_norm(3, 4, 4):.3g}", f"{grad_norm(2, 3, 10):.3g}"]

    code, out, err = cli("runs", "--layers", "weight_norm", "--json", "r-plain", "--runs-dir", str(root))
    assert code == 0, err
    table = json.loads(out)
    assert table["stat"] == "weight_norm" and table["runs"] == [{"id": "r-plain", "step": 10}]
    assert [(r["layer"], r["values"]["r-plain"]) for r in table["layers"]] == [("conv1", 1.0), ("conv2", 2.0), ("fc3", 3.0)]

    code, out, err = cli("runs", "--json", "--runs-dir", str(root))
    assert code == 0, err
    by_id = {r["id"]: r for r in json.loads(out)}
    assert by_id["r-none"]["layers"] == []
    latest = by_id["r-plain"]["layers"]
    assert [r["layer"] for r in latest] == list(PLAIN) and {r["step"] for r in latest} == {10}
    assert latest[0]["grad_norm"] == grad_norm(0, 3, 10) and latest[0]["update_ratio"] == 1e-3 / 10

    for args, message in ((["--layers", "nope"], "d2l-tui: error: --layers: unknown layer statistic 'nope'"),
                          (["r-plain"], "d2l-tui: error: RUN arguments go with --layers STAT"),
                          (["--layers", "dead", "r-none"], "d2l-tui: error: run r-none has no layer statistics"),
                          (["--layers", "dead", "r-zzz"], "d2l-tui: error: no run 'r-zzz'")):
        code, out, err = cli("runs", *args, "--runs-dir", str(root))
        assert code == 2 and err.startswith(message) and "Traceback" not in err, (args, err)


async def open_overlay(pilot, app):
    await settle_summary(pilot)
    await pilot.press("r")
    await until(pilot, lambda: type(app.screen).__name__ == "RunsScreen" and app.screen.loaded)
    ids = [r.id for r in app.screen.runs]
    assert sorted(ids) == ["r-bn", "r-none", "r-plain"]
    for run_id in ids:  # mark r-bn and r-plain, going down the list
        await pilot.press(*(["space"] if run_id != "r-none" else []), "down")
    await pilot.press("o")
    await until(pilot, lambda: type(app.screen).__name__ == "CompareScreen")


@pilot_test
async def test_overlay_layers_view_table_statistic_and_layer_curve(tmp_path):
    root = two_runs(tmp_path)
    app = create_app(runs_dir=root)
    async with app.run_test(size=(110, 34)) as pilot:
        await open_overlay(pilot, app)
        screen = app.screen
        view = screen.query_one(LayerCompareView)
        assert not view.display
        await pilot.press("l")
        await until(pilot, lambda: view.display and view.layer_names)
        assert not screen.query_one("#compare-plots").display and not screen.query_one("#diff-table").display
        table = view.query_one("#cmp-layer-table")
        assert [str(c.label) for c in table.columns.values()] == ["layer", "type", "r-bn @4", "r-plain @10"]
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert [r[0] for r in rows] == ["conv1", "bn1", "conv2", "fc3"]
        assert rows[1][2:] == [f"{grad_norm(1, 4, 4):.3g}", "-"]
        assert rows[0][2:] == [f"{grad_norm(0, 4, 4):.2e}", f"{grad_norm(0, 3, 10):.3g}"]
        plot = view.query_one(MetricPlot)
        assert plot.title == "grad norm of conv1" and set(plot.series) == {"r-bn", "r-plain"}
        xs, ys = plot.series["r-plain"]
        assert xs == [float(s) for s in range(1, 11)] and ys == [grad_norm(0, 3, s) for s in range(1, 11)]
        await pilot.press("down")  # the cursor picks the plotted layer: bn1 is only in r-bn
        await until(pilot, lambda: plot.title == "grad norm of bn1")
        assert set(plot.series) == {"r-bn"} and plot.series["r-bn"][1] == [grad_norm(1, 4, s) for s in range(1, 5)]
        await pilot.press("h", "h")  # grad_norm -> weight_norm -> update_ratio
        await until(pilot, lambda: view.stat == "update_ratio")
        assert plot.title == "update/weight of bn1"  # the cursor stays on its row
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert rows[3][2:] == [f"{1e-3 / 4:.2e}", f"{1e-3 / 10:.2e}"]
        with open(root / "r-bn" / "layers.jsonl", "a") as f:  # a live run records one more step: the view follows
            f.write(json.dumps({"step": 5, "layer": "bn1", "type": "Linear", "act": "Sigmoid",
                                "update_ratio": 7e-4}) + "\n")
        await until(pilot, lambda: table.get_row_at(1)[2] == "7.00e-04", timeout=15)
        assert [str(c.label) for c in table.columns.values()][2] == "r-bn @5"
        await pilot.press("l")
        await until(pilot, lambda: not view.display and screen.query_one("#compare-plots").display)
