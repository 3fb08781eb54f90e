"""Pilot tests of the home screen: catalog, input shape, knobs, failures, help and the palette."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tui_pilot import pilot_test, row_types, settle_summary, until

from d2ltui.tui.app import create_app
from d2ltui.tui.widgets.catalog import Catalog


FIRST_PAINT = """
import asyncio, sys
from d2ltui.tui.app import create_app

async def main():
    app = create_app()
    async with app.run_test(size=(80, 24)) as pilot:
        painted = app.screen.query_one("#catalog").root.children
        print(len(painted), "torch" in sys.modules)

asyncio.run(main())
"""


def test_first_paint_needs_no_torch():
    out = subprocess.run([sys.executable, "-c", FIRST_PAINT], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    chapters, torch_loaded = out.stdout.split()
    assert int(chapters) >= 7 and torch_loaded == "False"


CLI_PAINT = """
import sys
from textual.app import App
from d2ltui.tui.screens.browse import BrowseScreen

mount, run = BrowseScreen.on_mount, App.run

def on_mount(self):
    mount(self)
    from d2ltui.tui import prefetch

    self.call_after_refresh(lambda: (print("typer" in sys.modules, "torch" in sys.modules,
                                           prefetch.pending() is not None), self.app.exit()))

BrowseScreen.on_mount = on_mount
App.run = lambda self, **kw: run(self, headless=True, size=(80, 24))
from d2ltui.cli import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize("args", [[], ["--runs-dir", "some/runs"], ["--runs-dir=some/runs"]])
def test_bare_command_opens_the_tui_without_typer(tmp_path, args):
    out = subprocess.run([sys.executable, "-c", CLI_PAINT, *args], capture_output=True, text=True, timeout=60,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    # neither typer nor torch before the first paint; the helper summarising the first table is under way
    assert out.stdout.split() == ["False", "False", "True"]


def test_cli_fast_path_only_for_the_tui():
    from d2ltui.cli import _tui_only

    assert _tui_only([]) == (True, None)
    assert _tui_only(["--runs-dir", "r"]) == (True, "r")
    assert _tui_only(["--runs-dir=r"]) == (True, "r")
    for args in (["list"], ["--help"], ["--runs-dir"], ["--runs-dir", "--help"], ["--runs-dir="], ["attach", "x"]):
        assert _tui_only(args)[0] is False, args


@pilot_test
async def test_select_model_and_change_input():
    app = create_app()
    async with app.run_test(size=(100, 30)) as pilot:
        table = await settle_summary(pilot)
        assert table.inspection.model == "lenet"
        assert table.inspection.totals["params"] == "61,706"
        app.screen.query_one(Catalog).select_model("alexnet")
        table = await settle_summary(pilot)
        assert table.inspection.model == "alexnet"
        assert table.inspection.totals["params"] == "46,764,746"
        assert table.inspection.rows[0].output == "1x96x54x54"
        await pilot.press("i", "ctrl+a", "ctrl+k", *"2x1x227x227")
        table = await settle_summary(pilot)
        assert table.inspection.input == "2x1x227x227"
        assert table.inspection.rows[0].output == "2x96x55x55"


@pilot_test
async def test_toggle_batch_norm_changes_rows_and_totals():
    app = create_app()
    async with app.run_test(size=(100, 30)) as pilot:
        table = await settle_summary(pilot)
        assert "BatchNorm2d" not in row_types(table)
        before = table.inspection.totals["params"]
        await pilot.press("b")  # norm: none -> batch
        table = await settle_summary(pilot)
        assert row_types(table).count("BatchNorm2d") == 2 and "BatchNorm1d" in row_types(table)
        assert table.inspection.totals["params"] != before
        assert table.inspection.totals["params"] == "62,158"  # 61,706 + 2 * (6 + 16 + 120 + 84)
        await pilot.press("b")  # batch -> layer
        table = await settle_summary(pilot)
        assert "BatchNorm2d" not in row_types(table)


@pilot_test
async def test_failing_input_keeps_rows_and_explains():
    app = create_app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one(Catalog).select_model("alexnet")
        await settle_summary(pilot)
        await pilot.press("i", "ctrl+a", "ctrl+k", *"1x1x28x28")
        table = await settle_summary(pilot)
        failure = table.inspection.error
        assert table.inspection.input == "1x1x28x28"
        assert "pool2" in failure and "failed" in failure and "smallest input" in failure
        assert 0 < len(table.inspection.rows)
        shown = str(app.screen.query_one("#failure").render())
        assert "failed" in shown


@pilot_test
async def test_invalid_dropout_marked_and_start_refused():
    app = create_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle_summary(pilot)
        field = app.screen.query_one("#knob-dropout")
        field.focus()
        await pilot.press("ctrl+a", "ctrl+k", *"1.5")
        await pilot.pause(0.1)
        assert "-invalid" in field.classes
        await pilot.press("escape")
        await app.screen.action_start()
        await pilot.pause(0.1)
        assert not app.launches


@pilot_test
async def test_help_and_command_palette():
    app = create_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_summary(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen).__name__ == "BrowseScreen")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Start training", "Cycle normalisation", "Runs", "Help"} <= set(titles)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
        await pilot.press(*"cycle norm", "enter")
        await until(pilot, lambda: app.screen.query_one("#knob-norm").value == "batch")


@pilot_test
async def test_preset_loads_into_panel_and_panel_saves_as_preset(tmp_path):
    from d2ltui.config.presets import load_preset, preset_files as list_presets

    app = create_app(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle_summary(pilot)
        app.screen.query_one(Catalog).select_model("mlp")
        await settle_summary(pilot)
        await pilot.press("t")
        await until(pilot, lambda: bool(app.screen.query("#preset")))
        app.screen.query_one("#preset").value = "quick-lenet-shapes"
        await until(pilot, lambda: app.screen.model == "lenet")
        table = await settle_summary(pilot)
        assert "ReLU" in row_types(table)  # the preset's activation knob reaches the inspector
        assert app.screen.query_one("#cfg-optim-name").value == "adam"
        assert app.screen.query_one("#cfg-optim-lr").value == "0.003"
        app.screen.query_one("#cfg-train-epochs").value = "3"
        app.screen.query_one("#preset-name").value = "my-lenet"
        await pilot.click("#save-preset")
        await until(pilot, lambda: "my-lenet" in list_presets())
        saved = load_preset("my-lenet")
        assert saved["model"]["name"] == "lenet" and saved["model"]["activation"] == "relu"
        assert saved["train"]["epochs"] == 3 and saved["optim"]["name"] == "adam"


@pilot_test
async def test_device_picker_lists_real_devices():
    app = create_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle_summary(pilot)
        await pilot.press("t")
        picker = await _device_picker(pilot)
        values = {value for _, value in picker._options}
        assert {"auto", "cpu"} <= values


@pytest.mark.gpu
@pilot_test
async def test_device_picker_lists_each_gpu_with_free_memory():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    app = create_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle_summary(pilot)
        await pilot.press("t")
        picker = await _device_picker(pilot)
        labels = {value: str(label) for label, value in picker._options}
        for i in range(torch.cuda.device_count()):
            assert f"cuda:{i}" in labels and "GiB free" in labels[f"cuda:{i}"]
        if torch.cuda.device_count() > 1:
            assert f"all:{torch.cuda.device_count()}" in labels


async def _device_picker(pilot):
    await until(pilot, lambda: bool(pilot.app.screen.query("#cfg-device")))
    picker = pilot.app.screen.query_one("#cfg-device")
    panel = pilot.app.screen.query_one("#config")
    await until(pilot, lambda: panel.devices_listed, timeout=60)  # torch's own listing has arrived
    return picker


def test_chapter_labels_are_short_and_keep_the_registry_names():
    from d2ltui.tui.widgets.catalog import chapter_label
    from d2ltui.zoo.registry import all_specs

    chapters = {spec.chapter for spec in all_specs()}
    assert "5 Multilayer perceptrons" in chapters  # the registry is untouched; only the tree shortens
    assert chapter_label("5 Multilayer perceptrons") == "Ch 5 MLP"
    assert chapter_label("12 Something new") == "Ch 12 Something new"
    assert all(len(chapter_label(c)) <= 20 for c in chapters)


@pilot_test
async def test_catalog_labels_fit_at_80x24():
    app = create_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_summary(pilot)
        catalog = app.screen.query_one(Catalog)
        assert len(catalog.root.children) >= 7
        # every line (chapter or model) fits the column: nothing is cut or scrolls sideways
        assert catalog.virtual_size.width <= catalog.scrollable_content_region.width


@pilot_test
async def test_invalid_input_says_why_and_keeps_the_last_table():
    app = create_app()
    async with app.run_test(size=(100, 30)) as pilot:
        table = await settle_summary(pilot)
        await pilot.press("i", "ctrl+a", "ctrl+k", *"1x1xabc")
        failure = app.screen.query_one("#failure")
        await until(pilot, lambda: failure.display)
        text = str(failure.render())
        assert "not updated" in text and "input" in text and "1x1x28x28" in text
        assert table.inspection.input == "1x1x28x28" and table.inspection.totals["params"] == "61,706"
        await pilot.press("ctrl+a", "ctrl+k", *"1x1x28x28")  # back to the same valid input: recomputed
        table = await settle_summary(pilot)
        await until(pilot, lambda: not failure.display)
        assert table.inspection.totals["params"] == "61,706"
