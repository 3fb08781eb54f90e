"""The dashboard of a detection run: validation images with scored boxes, a key that moves the threshold."""

from __future__ import annotations

from tui_pilot import pilot_test, until, write_run

from d2ltui.tui.app import create_app
from d2ltui.tui.widgets.detections import next_threshold, render_detections
from d2ltui.tui.widgets.samples_view import SamplesView


def image(shift: int) -> list[list[list[float]]]:
    return [[[((r + c + shift * k) % 9) / 12 for c in range(40)] for r in range(40)] for k in range(3)]


DET_SAMPLES = {"epoch": 3, "kind": "detections", "items": [
    {"image": image(1), "truth": [["banana", 0.2, 0.3, 0.6, 0.7]],
     "detections": [{"label": "banana", "score": 0.95, "box": [0.22, 0.28, 0.61, 0.72]},
                    {"label": "banana", "score": 0.6, "box": [0.5, 0.5, 0.9, 0.9]},
                    {"label": "banana", "score": 0.2, "box": [0.0, 0.0, 0.3, 0.3]}]},
    {"image": image(2), "truth": [["banana", 0.1, 0.1, 0.4, 0.5]], "detections": []}]}


def shown(app) -> str:
    return str(app.screen.query_one(SamplesView).render())


def test_render_draws_boxes_in_colour_above_the_threshold():
    text = render_detections(DET_SAMPLES, 60, 0.5)
    plain = text.plain
    assert "banana 0.95" in plain and "banana 0.60" in plain and "0.20" not in plain and "no box" in plain
    colours = {str(span.style) for span in text.spans}
    assert any("#3cdc3c" in c for c in colours)  # the true box's green outline
    assert any("#ffffff" in c for c in colours)  # the best detection's white outline
    assert "banana 0.20" in render_detections(DET_SAMPLES, 60, 0.1).plain
    assert [next_threshold(t) for t in (0.5, 0.3, 0.1, 0.9)] == [0.3, 0.1, 0.9, 0.7]


@pilot_test
async def test_threshold_key_changes_the_boxes_shown(tmp_path):
    write_run(tmp_path / "runs", "det", model="tiny-ssd", data="bananas", samples=DET_SAMPLES)
    app = create_app(runs_dir=tmp_path / "runs", attach="det")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen"
                    and "banana 0.95" in shown(app))
        assert "banana 0.60" in shown(app) and "banana 0.20" not in shown(app)
        assert app.screen.check_action("threshold", ()) is True
        await pilot.press("t")
        await pilot.pause(0.1)
        assert "≥ 0.30" in shown(app) and "banana 0.20" not in shown(app)
        await pilot.press("t")
        await pilot.pause(0.1)
        assert "banana 0.20" in shown(app)
        await pilot.press("t")
        await pilot.pause(0.1)
        assert "banana 0.95" in shown(app) and "banana 0.60" not in shown(app)


@pilot_test
async def test_threshold_key_is_absent_for_other_runs(tmp_path):
    samples = {"epoch": 1, "kind": "images", "items": [
        {"predicted": "disk", "true": "disk", "confidence": 0.9, "image": [[0.5] * 28] * 28}]}
    write_run(tmp_path / "runs", "cls", samples=samples)
    app = create_app(runs_dir=tmp_path / "runs", attach="cls")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen"
                    and "predicted/true" in shown(app))
        assert not app.screen.check_action("threshold", ())
        await pilot.press("t")
        await pilot.pause(0.1)
        assert app.screen.query_one(SamplesView).threshold == 0.5


def test_dashboard_detection_run_snapshot(snap_compare, tmp_path):
    from test_tui_snapshots import _pin_status

    _pin_status(write_run(tmp_path / "runs", "det", model="tiny-ssd", data="bananas", samples=DET_SAMPLES))

    async def ready(pilot):
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "DashboardScreen"
                    and "banana 0.95" in shown(pilot.app))
        await pilot.pause(0.8)

    assert snap_compare(create_app(runs_dir=tmp_path / "runs", attach="det"), terminal_size=(120, 36),
                        run_before=ready)
