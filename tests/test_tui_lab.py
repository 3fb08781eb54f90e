"""The lab screen as a person uses it: open a lab from the catalog, turn a knob, see the figure change."""

from __future__ import annotations

import pytest
from tui_pilot import pilot_test, until

from textual.app import App

from d2ltui.labs.figure import Boxes, Curves, Figure, Heatmap, Table
from d2ltui.labs.text import SHADES, figure_lines
from d2ltui.tui.app import create_app
from d2ltui.tui.widgets.boxes_view import BOX_COLOURS, BoxesView, box_pixels
from d2ltui.tui.widgets.catalog import LAB, Catalog
from d2ltui.tui.widgets.figure_view import FigureView, PanelStatic
from d2ltui.tui.widgets.heatmap import HeatmapView


async def open_lab(pilot, name: str):
    """Move the catalog's cursor to the lab, press enter, wait for its first figure."""
    await until(pilot, lambda: bool(pilot.app.screen.query(Catalog)))
    catalog = pilot.app.screen.query_one(Catalog)
    await pilot.pause(0.1)
    catalog.focus()
    catalog.select_model(LAB + name)
    await until(pilot, lambda: (pilot.app.screen.sub_title or "").startswith(f"lab {name}: "))  # a hint, nothing opened yet
    await pilot.press("enter")
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "LabScreen")
    await until(pilot, lambda: pilot.app.screen.computed >= 1)
    await pilot.pause(0.2)
    return pilot.app.screen


@pilot_test
async def test_open_a_lab_turn_knobs_and_the_figure_follows():
    app = create_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_lab(pilot, "nadaraya-watson")
        assert screen.spec.name == "nadaraya-watson"
        first = screen.figure
        assert first.knobs == {"kernel": "gaussian", "width": 0.5, "seed": 0}
        # the width field: select everything, type a new width
        screen.query_one("#lab-width").focus()
        await pilot.press("home", "ctrl+k", *"0.2")
        await until(pilot, lambda: screen.figure.knobs["width"] == 0.2)
        narrow = screen.figure.panel("attention weights").matrix
        assert narrow != first.panel("attention weights").matrix
        assert max(narrow[25]) > max(first.panel("attention weights").matrix[25])  # a narrower kernel peaks higher
        # the kernel select: open it, move to boxcar, choose it
        screen.query_one("#lab-kernel").focus()
        await pilot.press("enter", "down", "enter")
        await until(pilot, lambda: screen.figure.knobs["kernel"] == "boxcar")
        row = screen.figure.panel("attention weights").matrix[25]
        assert len({v for v in row if v > 0}) == 1  # boxcar: equal weights inside the window
        # a bad value is refused with the reason; the figure stays
        computed = screen.computed
        screen.query_one("#lab-width").focus()
        await pilot.press("home", "ctrl+k", *"7")
        await pilot.pause(0.5)
        assert screen.computed == computed
        assert "above the maximum" in str(screen.query_one("#lab-notes").render())
        await pilot.press("ctrl+r")  # defaults again
        await until(pilot, lambda: screen.figure.knobs == first.knobs)
        await pilot.press("escape")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "BrowseScreen")


@pilot_test
async def test_masked_cells_are_drawn_as_zero():
    app = create_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_lab(pilot, "masked-softmax")
        screen.query_one("#lab-valid_lens").focus()
        await pilot.press("home", "ctrl+k", *"((1, 3), (2, 4))")
        await until(pilot, lambda: screen.figure.knobs["valid_lens"] == ((1, 3), (2, 4)))
        await pilot.pause(0.2)
        text = screen.query_one("HeatmapView").render().plain
        row = next(line for line in text.splitlines() if line.strip().startswith("ex0 q0"))
        assert row.split()[2:] == ["1.000", "·0", "·0", "·0"]


@pytest.mark.parametrize("name, size", [("nadaraya-watson", (80, 24)), ("nadaraya-watson", (120, 40)),
                                        ("attention-scoring", (80, 24)), ("masked-softmax", (120, 40))])
def test_lab_snapshots(snap_compare, name, size):
    async def ready(pilot):
        await open_lab(pilot, name)
        pilot.app.screen.set_focus(None)  # no blinking cursor in the picture
        await pilot.pause(0.3)

    assert snap_compare(create_app(), terminal_size=size, run_before=ready)


def every_kind() -> Figure:
    """A figure with one panel of each kind, as the vision labs will send (boxes on an image, a table)."""
    image = [[(r + c) / 14 for c in range(8)] for r in range(8)]
    return Figure("test", {}, [
        Heatmap("big", [[(r * c) % 5 / 4 for c in range(40)] for r in range(50)], [str(r) for r in range(50)],
                [str(c) for c in range(40)], masked=[[0, 39]], xlabel="keys"),
        Boxes("anchors", image, [{"xyxy": [1, 1, 4, 4], "label": "cat", "score": 0.9},
                                 {"xyxy": [5, 2, 7, 7], "label": "dog", "score": None}]),
        Table("ious", ["box", "iou"], [["cat", 0.5], ["dog", 0.25]]),
        Curves("gap", [0.0, 1.0, 2.0], {"y": [1.0, None, 3.0]}),
    ], ["a note"])


def test_text_draws_every_panel_kind():
    lines = figure_lines(every_kind(), width=80)
    text = "\n".join(lines)
    assert "== anchors ==" in text and "image 8x8" in text
    cat = next(line for line in lines if line.split()[:1] == ["cat"])
    assert cat.split() == ["cat", "1.0", "1.0", "4.0", "4.0", "0.900"]
    assert next(line for line in lines if line.split()[:1] == ["dog"]).split()[-1] == "-"
    assert any(line.split() == ["dog", "0.2500"] for line in lines)
    big = lines[lines.index("== big ==") + 2]  # 40 columns do not fit as numbers: shaded cells, × masked
    assert big.endswith("×") and set(big.split()[1][:-1]) <= set(SHADES)
    assert lines[-1] == "a note"


def test_boxes_outline_the_right_pixels():
    panel = every_kind().panel("anchors")
    outline = box_pixels(panel, list(range(8)), list(range(8)))
    cat = {rc for rc, colour in outline.items() if colour == BOX_COLOURS[0]}
    assert (1, 1) in cat and (3, 3) in cat and (1, 3) in cat and (2, 2) not in cat  # border, not the inside


@pilot_test
async def test_figure_view_shows_every_kind_with_coloured_cells():
    class One(App):
        def compose(self):
            yield FigureView(id="lab-figure")

    app = One()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(FigureView)
        await view.show(every_kind())
        await pilot.pause(0.2)
        heat, boxes = app.query_one(HeatmapView).render(), app.query_one(BoxesView).render()
        assert "cat 0.90" in boxes.plain and "dog" in boxes.plain
        colours = {span.style.bgcolor for span in heat.spans if span.style and not isinstance(span.style, str)}
        assert len(colours) >= 4  # several shades, not one flat colour
        table = app.query(PanelStatic).first().render()
        assert "ious" in str(table)
        await view.show(every_kind())  # the same panels again: updated in place, not remounted
        assert app.query_one(HeatmapView) is view.children[0]
