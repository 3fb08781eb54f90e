"""The palette finds models, presets, labs and runs by a fragment of their names; help scrolls at 80x24; the runs
screen paints at once with thousands of runs."""

from __future__ import annotations

from tui_pilot import pilot_test, settle_summary, until, write_run

from d2ltui.tui.app import create_app


def hits(app) -> list[str]:
    """The palette's hits as shown: 'kind   name' then the help line."""
    from textual.command import CommandList

    options = app.screen.query_one(CommandList).options
    return [str(option.prompt).split("\n")[0] for option in options]


async def find(pilot, fragment: str, first: str) -> None:
    """Open the palette, type `fragment`, wait until the first hit reads `first`, and take it."""
    app = pilot.app
    await pilot.press("ctrl+p")
    await until(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
    await pilot.press(*fragment)
    await until(pilot, lambda: bool(hits(app)) and " ".join(hits(app)[0].split()) == first)
    await pilot.press("enter")
    await until(pilot, lambda: type(app.screen).__name__ != "CommandPalette")


@pilot_test
async def test_the_palette_finds_a_model_a_preset_a_lab_and_a_run(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "20240101-120000-lenet-ab12")
    app = create_app(runs_dir=root)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle_summary(pilot)
        await find(pilot, "dcga", "model dcgan")  # the model before its namesake preset
        await until(pilot, lambda: app.screen.model == "dcgan")
        assert app.screen.query_one("#tabs").active == "layers"
        await settle_summary(pilot)
        assert app.screen.query_one("#inspector").inspection.model == "dcgan"

        await find(pilot, "quick-lenet-sh", "preset quick-lenet-shapes")
        await until(pilot, lambda: app.screen.model == "lenet" and bool(app.screen.query("#cfg-optim-name")))
        await until(pilot, lambda: app.screen.query_one("#cfg-optim-name").value == "adam")
        assert app.screen.query_one("#tabs").active == "train"

        await find(pilot, "maskedsoft", "lab masked-softmax")
        await until(pilot, lambda: type(app.screen).__name__ == "LabScreen")
        assert app.screen.spec.name == "masked-softmax"

        await find(pilot, "ab12", "run 20240101-120000-lenet-ab12")  # a run, from any screen
        await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen")
        assert app.screen.path == root / "20240101-120000-lenet-ab12"

        await find(pilot, "lenet5", "model lenet")  # a model from the dashboard: back home, on its table
        await until(pilot, lambda: type(app.screen).__name__ == "BrowseScreen" and app.screen.model == "lenet")


@pilot_test
async def test_the_palette_overlays_a_run_with_the_marked_ones(tmp_path):
    root = tmp_path / "runs"
    for name in ("r-one", "r-two", "r-three"):
        write_run(root, name)
    app = create_app(runs_dir=root)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("r")
        await until(pilot, lambda: type(app.screen).__name__ == "RunsScreen" and app.screen.loaded)
        await pilot.press("space")  # the first row marked
        marked = set(app.screen.marked)
        other = next(r.id for r in app.screen.runs if r.id not in marked)
        await pilot.press("ctrl+p", *other)
        await until(pilot, lambda: any("overlay" in h or "run" in h for h in hits(app)) and len(hits(app)) >= 2)
        texts = [str(o.prompt) for o in app.screen.query("CommandList").first().options]
        index = next(i for i, t in enumerate(texts) if other in t and "overlay with the 1 marked" in t)
        await pilot.press(*["down"] * index, "enter")
        await until(pilot, lambda: type(app.screen).__name__ == "CompareScreen")
        assert {p.name for p in app.screen.paths} == marked | {other}


@pilot_test
async def test_help_scrolls_with_the_keys_at_80x24_and_a_shown_key_closes_it(tmp_path):
    app = create_app(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        body = app.screen.query_one("#help-body")
        await until(pilot, lambda: body.max_scroll_y > 0)
        assert "esc / q / ? close" in str(app.screen.query_one("#help-keys").render())
        await pilot.press("pagedown")
        await until(pilot, lambda: body.scroll_y > 0)
        await pilot.press("end")
        await until(pilot, lambda: body.scroll_y == body.max_scroll_y)
        await pilot.press("home")
        await until(pilot, lambda: body.scroll_y == 0)
        await pilot.press("down")
        await until(pilot, lambda: body.scroll_y == 1)
        await pilot.press("q")  # closes help, does not quit
        await until(pilot, lambda: type(app.screen).__name__ == "BrowseScreen")
        assert app.is_running


@pilot_test
async def test_the_runs_screen_paints_thousands_of_runs_reading_only_the_shown_ones(tmp_path):
    from d2ltui.tui.screens import runs as runs_screen

    root = tmp_path / "runs"
    for i in range(2000):
        write_run(root, f"run-{i:04d}", epochs=1)
    read = []
    summary = runs_screen.Summaries.read

    def counting(self, entry):
        read.append(entry.id)
        return summary(self, entry)

    runs_screen.Summaries.read = counting
    try:
        app = create_app(runs_dir=root)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("r")
            await until(pilot, lambda: type(app.screen).__name__ == "RunsScreen" and app.screen.loaded)
            screen = app.screen
            table = screen.query_one("#runs-table")
            assert len(screen.runs) == 2000 and table.row_count >= 20
            first = str(table.get_row_at(0)[1])
            assert first == screen.runs[0].id and screen.runs[0].state == "finished"
            assert len(set(read)) < 100  # only the rows on screen (and a margin) were read
            assert "2000 runs" in str(screen.query_one("#runs-hint").render())
            await until(pilot, lambda: table.row_count == 2000)  # the rest are added a chunk a frame
            await pilot.press("end")
            await until(pilot, lambda: table.cursor_row == 1999 and screen.runs[1999].state == "finished")
    finally:
        runs_screen.Summaries.read = summary


PALETTE_NO_TORCH = """
import asyncio, sys
from textual.command import CommandList
from d2ltui.tui.app import WorkbenchApp

class Bare(WorkbenchApp):  # no home screen (its inspector loads torch): only what the palette imports counts
    CSS_PATH = None

    def on_mount(self, event):
        event.prevent_default()

async def main():
    app = Bare(runs_dir=sys.argv[1])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p", *"gan")
        for _ in range(200):
            await pilot.pause(0.05)
            if app.screen.query(CommandList) and len(app.screen.query_one(CommandList).options) >= 3:
                break
        print(len(app.screen.query_one(CommandList).options), "torch" in sys.modules)

asyncio.run(main())
"""


def test_listing_models_presets_labs_and_runs_imports_no_torch(tmp_path):
    import subprocess
    import sys

    write_run(tmp_path / "runs", "20240101-120000-gan-ab12", model="gan")
    out = subprocess.run([sys.executable, "-c", PALETTE_NO_TORCH, str(tmp_path / "runs")], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    found, torch_loaded = out.stdout.split()
    assert int(found) >= 3 and torch_loaded == "False"
