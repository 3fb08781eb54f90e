"""SVG snapshots of every screen at fixed terminal sizes (pytest-textual-snapshot)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_pilot import settle_summary, until, write_layers, write_run, write_sweep

from d2ltui.tui.app import create_app

RUN_SAMPLES = {"epoch": 1, "kind": "images", "items": [
    {"predicted": "circle", "true": "circle", "confidence": 0.9,
     "image": [[(r * c % 7) / 6 for c in range(28)] for r in range(28)]},
    {"predicted": "square", "true": "star", "confidence": 0.6,
     "image": [[((r + c) % 5) / 4 for c in range(28)] for r in range(28)]}]}


@pytest.mark.parametrize("size", [(100, 30), (80, 24)])
def test_browse_layers(snap_compare, size):
    async def ready(pilot):
        await settle_summary(pilot)

    assert snap_compare(create_app(), terminal_size=size, run_before=ready)


def test_browse_batch_norm_and_failure(snap_compare):
    async def ready(pilot):
        await settle_summary(pilot)
        await pilot.press("b", "i", "ctrl+a", "ctrl+k", *"1x1x3x3")
        pilot.app.screen.query_one("#catalog").focus()  # no blinking cursor in the picture
        await settle_summary(pilot)

    assert snap_compare(create_app(), terminal_size=(100, 30), run_before=ready)


def test_train_panel(snap_compare):
    async def ready(pilot):
        await settle_summary(pilot)
        await pilot.press("t")
        await pilot.pause(0.3)

    assert snap_compare(create_app(), terminal_size=(80, 24), run_before=ready)


@pytest.mark.parametrize("size", [(100, 30), (80, 24)])
def test_dashboard_finished_run(snap_compare, tmp_path, size):
    path = write_run(tmp_path / "runs", "run-a", samples=RUN_SAMPLES)
    _pin_status(path)

    async def ready(pilot):
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "DashboardScreen")
        await pilot.pause(0.8)

    assert snap_compare(create_app(runs_dir=tmp_path / "runs", attach="run-a"), terminal_size=size,
                        run_before=ready)


def test_dashboard_layers_view(snap_compare, tmp_path):
    path = write_run(tmp_path / "runs", "run-a", samples=RUN_SAMPLES)
    write_layers(path, ("conv1", "conv2", "fc3", "fc4", "fc5"), steps=30)
    _pin_status(path)

    async def ready(pilot):
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "DashboardScreen")
        await pilot.press("l")
        await pilot.pause(0.8)

    assert snap_compare(create_app(runs_dir=tmp_path / "runs", attach="run-a"), terminal_size=(100, 30),
                        run_before=ready)


def test_browse_parameters_tab(snap_compare):
    async def ready(pilot):
        await settle_summary(pilot)
        await pilot.press("p")
        await until(pilot, lambda: bool(pilot.app.screen.query_one("#params").rows))
        pilot.app.screen.query_one("#catalog").focus()
        await pilot.pause(0.3)

    assert snap_compare(create_app(), terminal_size=(100, 30), run_before=ready)


def test_runs_screen(snap_compare, tmp_path):
    root = tmp_path / "runs"
    for name, knobs in (("run-a", {}), ("run-b", {"norm": "batch"})):
        _pin_status(write_run(root, name, knobs=knobs))

    async def ready(pilot):
        await settle_summary(pilot)
        await pilot.press("r")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "RunsScreen" and pilot.app.screen.loaded)
        await pilot.pause(0.2)

    assert snap_compare(create_app(runs_dir=root), terminal_size=(100, 30), run_before=ready)


def test_compare_screen(snap_compare, tmp_path):
    root = tmp_path / "runs"
    for name, knobs in (("run-a", {}), ("run-b", {"norm": "batch"})):
        _pin_status(write_run(root, name, knobs=knobs))

    async def ready(pilot):
        await pilot.press("r")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "RunsScreen" and pilot.app.screen.loaded)
        await pilot.press("space", "down", "space", "o")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "CompareScreen")
        await pilot.pause(0.3)

    assert snap_compare(create_app(runs_dir=root), terminal_size=(100, 30), run_before=ready)


def test_compare_layers_view(snap_compare, tmp_path):
    root = tmp_path / "runs"
    for name, model, layers in (("run-a", "lenet", ("conv1", "conv2", "fc3")),
                                ("run-b", "lenet-bn", ("conv1", "bn1", "conv2", "fc3"))):
        path = write_run(root, name, model=model)
        write_layers(path, layers=layers)
        _pin_status(path)

    async def ready(pilot):
        await pilot.press("r")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "RunsScreen" and pilot.app.screen.loaded)
        await pilot.press("space", "down", "space", "o")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "CompareScreen")
        await pilot.press("l")  # the cursor's layer, conv1, plotted for both runs
        await until(pilot, lambda: len(pilot.app.screen.query_one("#cmp-layer-plot").series) == 2)
        await pilot.pause(0.3)

    assert snap_compare(create_app(runs_dir=root), terminal_size=(100, 30), run_before=ready)


def test_sweep_overlay(snap_compare, tmp_path):
    root = tmp_path / "runs"
    sweep = write_sweep(root, "sweep-a")
    for member in sorted(p for p in sweep.iterdir() if p.is_dir()):
        _pin_status(member)

    async def ready(pilot):
        await pilot.press("r")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "RunsScreen" and pilot.app.screen.loaded)
        await pilot.press("enter")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "SweepScreen")
        await pilot.pause(0.5)

    assert snap_compare(create_app(runs_dir=root), terminal_size=(100, 30), run_before=ready)


def test_rung_sweep_view(snap_compare, tmp_path):
    from tests.tui_pilot import write_rung_sweep

    root = tmp_path / "runs"
    sweep = write_rung_sweep(root)
    for member in sorted(p for p in sweep.iterdir() if p.is_dir()):
        _pin_status(member)

    async def ready(pilot):
        await pilot.press("r")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "RunsScreen" and pilot.app.screen.loaded)
        await pilot.press("enter")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "RungSweepScreen")
        await until(pilot, lambda: pilot.app.screen.query_one("#rung-table").row_count == 4)
        await pilot.pause(0.5)

    assert snap_compare(create_app(runs_dir=root), terminal_size=(100, 30), run_before=ready)


def _pin_status(path: Path) -> None:
    """Fixed times in status.json and config mtime, for a stable duration column."""
    import json
    import os

    status = json.loads((path / "status.json").read_text())
    status.update(started=1_700_000_000.0, updated=1_700_000_090.0)
    (path / "status.json").write_text(json.dumps(status))
    os.utime(path / "config.toml", (1_700_000_000, 1_700_000_000))


async def _open_runs(pilot):
    await pilot.press("r")
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "RunsScreen" and pilot.app.screen.loaded)


async def _open_dashboard(pilot):
    await _open_runs(pilot)
    await pilot.press("enter")
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "DashboardScreen")
    await pilot.pause(0.8)


async def _open_compare(pilot):
    await _open_runs(pilot)
    await pilot.press("space", "down", "space", "o")
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "CompareScreen")


async def _open_sweep(pilot):
    await _open_runs(pilot)
    sweep = next(i for i, r in enumerate(pilot.app.screen.runs) if r.kind == "sweep")
    await pilot.press(*["down"] * sweep, "enter")
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "SweepScreen")


async def _open_lab(pilot):
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "BrowseScreen")
    pilot.app.open_lab("masked-softmax")
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "LabScreen" and pilot.app.screen.computed > 0, 60)
    pilot.app.screen.set_focus(None)  # no blinking cursor in the picture


async def _open_help(pilot):
    await pilot.press("question_mark")
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "HelpScreen")


async def _open_palette(pilot):
    from textual.command import CommandList

    await settle_summary(pilot)
    await pilot.press("ctrl+p", *"lenet")
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "CommandPalette")
    counts = [-1]

    def gathered() -> bool:  # the hits arrive in batches, the runs' last: they are in, and no more came in 0.3 s
        options = pilot.app.screen.query_one(CommandList).options
        counts.append(len(options))
        return counts[-1] == counts[-2] and any(str(o.prompt).startswith("run ") for o in options)

    await until(pilot, gathered, step=0.3)
    pilot.app.screen.query_one("CommandInput").cursor_blink = False  # the same cursor in every picture


SCREENS = {"browse": settle_summary, "runs": _open_runs, "dashboard": _open_dashboard, "compare": _open_compare,
           "sweep": _open_sweep, "lab": _open_lab, "help": _open_help, "palette": _open_palette}


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_every_screen_fits(snap_compare, tmp_path, screen, size):
    """Each screen at the smallest terminal it supports and a roomy one: columns whole, the footer's first keys."""
    root = tmp_path / "runs"
    for name, knobs in (("20240101-120000-lenet-ab12", {}), ("20240102-120000-lenet-cd34", {"norm": "batch"})):
        _pin_status(write_run(root, name, knobs=knobs, samples=RUN_SAMPLES))
    sweep = write_sweep(root, "sweep-a")
    for member in sorted(p for p in sweep.iterdir() if p.is_dir()):
        _pin_status(member)

    async def ready(pilot):
        await SCREENS[screen](pilot)
        await pilot.pause(0.3)

    assert snap_compare(create_app(runs_dir=root), terminal_size=size, run_before=ready)
