"""The anchor-boxes and roi-pooling labs: hand-worked values, knobs that move the figure, CLI and TUI."""

from __future__ import annotations

import json

import pytest
from fault_helpers import run_main
from test_tui_lab import open_lab
from tui_pilot import pilot_test, until
from typer.testing import CliRunner

from d2ltui.cli import app
from d2ltui.labs.registry import compute, get_lab
from d2ltui.tui.app import create_app

runner = CliRunner()


def iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_roi_pool_and_align_on_the_books_example():
    figure = compute("roi-pooling")
    # roi_pool: region 1 x 0.1 is cells 0..2 (3x3, bins of rows/cols {0,1} and {1,2}): maxima 5, 6, 9, 10;
    # region 2 is rows 1..3, cols 0..3 (bins rows {1,2},{2,3}, cols {0,1},{2,3}): 9, 11, 13, 15 (the book's)
    assert figure.panel("roi_pool").matrices == {"region 1": [[5.0, 6.0], [9.0, 10.0]],
                                                 "region 2": [[9.0, 11.0], [13.0, 15.0]]}
    # roi_align, region 1 = (0, 0)..(2, 2): one sample a 1x1 bin, at its centre; X at (0.5, 0.5) is the mean
    # of 0, 1, 4, 5 = 2.5, and each step right adds 1, each step down adds 4
    assert figure.panel("roi_align").matrices["region 1"] == [[2.5, 3.5], [6.5, 7.5]]
    assert figure.panel("regions on the 4x4 feature map (x spatial_scale)").boxes[1]["xyxy"] == [0.0, 1.0, 3.0, 3.0]


def test_roi_regions_are_knobs():
    moved = compute("roi-pooling", {"region1": "(10, 10, 30, 30)", "output_size": "1"})
    assert moved.panel("roi_pool").matrices["region 1"] == [[15.0]]  # cells 1..3 x 1..3: the maximum is X[3, 3]
    with pytest.raises(Exception, match="region1"):
        compute("roi-pooling", {"region1": "(30, 0, 10, 10)"})


def test_anchor_boxes_at_a_pixel_with_their_iou():
    figure = compute("anchor-boxes", {"pixel": "(20, 30)"})
    boxes = figure.panels[0].boxes
    truth, anchors = boxes[0], boxes[1:]
    assert truth["label"] == "ground truth" and len(anchors) == 3 + 3 - 1
    # s=0.5, r=1 on a 96 x 96 image: a 48 x 48 square centred on the pixel's centre (20.5, 30.5)
    assert anchors[1]["label"] == "s=0.5, r=1" and anchors[1]["xyxy"] == [-3.5, 6.5, 44.5, 54.5]
    # s=0.75, r=2: width 0.75 * sqrt(2) * 96, height 0.75 / sqrt(2) * 96
    x0, y0, x1, y1 = anchors[3]["xyxy"]
    assert (x1 - x0, y1 - y0) == pytest.approx((101.82, 50.91), abs=0.02)
    for box in anchors:
        assert box["score"] == pytest.approx(iou(box["xyxy"], truth["xyxy"]), abs=2e-3)
    centre = [int(v) for v in figure.notes[-1].rsplit("(", 1)[1].rstrip(")").split(", ")]
    centred = compute("anchor-boxes", {"pixel": str(tuple(centre))}).panels[0].boxes[1:]
    assert max(b["score"] for b in centred) > max(b["score"] for b in anchors)  # on the banana, anchors fit better


def test_multiscale_view_has_the_books_three_grids():
    figure = compute("anchor-boxes", {"view": "multiscale"})
    assert [p.title for p in figure.panels] == ["4x4 feature map, size 0.15", "2x2 feature map, size 0.4",
                                                "1x1 feature map, size 0.8"]
    assert [len(p.boxes) - 1 for p in figure.panels] == [48, 12, 3]
    first = figure.panels[0].boxes[1]  # cell (0, 0), ratio 1: a 0.15 * 96 = 14.4 px square at (12, 12)
    assert first["xyxy"] == pytest.approx([4.8, 4.8, 19.2, 19.2], abs=0.01)


def test_cli_lab_json_and_bad_knob(capsys):
    result = runner.invoke(app, ["lab", "roi-pooling", "--set", "output_size=1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["knobs"]["output_size"] == 1 and {p["kind"] for p in data["panels"]} == {"boxes", "grid"}
    code, out, err = run_main(["lab", "anchor-boxes", "--set", "pixel=(200, 3)"], capsys)
    assert code == 2 and err.startswith("d2l-tui: error: ") and "pixel" in err and len(err.splitlines()) == 1
    assert get_lab("anchor-boxes").chapter == get_lab("roi-pooling").chapter == "14 Computer vision"


@pilot_test
async def test_moving_a_region_changes_the_pooled_grid():
    tui = create_app()
    async with tui.run_test(size=(120, 40)) as pilot:
        screen = await open_lab(pilot, "roi-pooling")
        assert screen.figure.panel("roi_pool").matrices["region 1"] == [[5.0, 6.0], [9.0, 10.0]]
        screen.query_one("#lab-region1").focus()
        await pilot.press("home", "ctrl+k", *"(10, 10, 30, 30)")
        await until(pilot, lambda: screen.figure.knobs["region1"] == (10, 10, 30, 30))
        assert screen.figure.panel("roi_pool").matrices["region 1"] == [[10.0, 11.0], [14.0, 15.0]]


@pytest.mark.parametrize("name", ["anchor-boxes", "roi-pooling"])
def test_vision_lab_snapshots(snap_compare, name):
    async def ready(pilot):
        await open_lab(pilot, name)
        pilot.app.screen.set_focus(None)
        await pilot.pause(0.3)

    assert snap_compare(create_app(), terminal_size=(120, 40), run_before=ready)
