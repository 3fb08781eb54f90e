"""The lab screen as a person uses it: open a lab from the catalog, turn a knob, see the figure change."""

from __future__ import annotations

import pytest
from tui_pilot import pilot_test, until

from d2ltui.tui.app import create_app
from d2ltui.tui.widgets.catalog import LAB, Catalog


async def open_lab(pilot, name: str):
    """Move the catalog's cursor to the lab, press enter, wait for its first figure."""
    await until(pilot, lambda: bool(pilot.app.screen.query(Catalog)))
    catalog = pilot.app.screen.query_one(Catalog)
    await pilot.pause(0.1)
    catalog.focus()
    catalog.select_model(LAB + name)
    await pilot.pause(0.1)
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
        pilot.app.screen.query_one("#lab-figure").focus()
        await pilot.pause(0.3)

    assert snap_compare(create_app(), terminal_size=size, run_before=ready)
