"""Pilot tests of the TUI on a bad runs folder: a file, a read-only folder, and one that turns read-only while
the app runs. Each error shows where the action was taken (a notification, the runs screen's hint line) and
the app keeps running; the bare command refuses a file in one line, exit 2."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fault_helpers import cli
from tui_pilot import pilot_test, settle_summary, until, write_run

from d2ltui.tui.app import create_app
from d2ltui.tui.screens.browse import BrowseScreen
from d2ltui.tui.screens.runs import RunsScreen


@contextlib.contextmanager
def read_only(*paths: Path):
    """Make folders refuse writes for real: `chattr +i` as root (who ignores permission bits), else chmod 555."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("root without chattr cannot make a folder read-only")
        done = []
        try:
            for path in paths:
                if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
                    pytest.skip(f"chattr +i is not supported on {path}'s file system")
                done.append(path)
            yield
        finally:
            for path in done:
                subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        modes = {path: path.stat().st_mode for path in paths}
        try:
            for path in paths:
                path.chmod(0o555)
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)


def messages(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def start_from_panel(pilot) -> None:
    await settle_summary(pilot)
    await pilot.press("s")


def test_the_bare_tui_refuses_a_runs_folder_that_is_a_file(tmp_path):
    file = tmp_path / "file"
    file.write_text("x")
    code, out, err = cli("--runs-dir", str(file))
    assert code == 2 and err.strip() == f"d2l-tui: error: --runs-dir {file}: a file, not a folder", out + err
    assert file.read_text() == "x"


@pilot_test
async def test_a_runs_folder_that_is_a_file_is_one_line_where_the_action_was_taken(tmp_path):
    """A runs folder that became a file after launch (or D2LTUI_RUNS_DIR naming one): Start and the runs screen
    each say so; the app goes on."""
    file = tmp_path / "file"
    file.write_text("x")
    app = create_app(runs_dir=file)
    async with app.run_test(size=(100, 30)) as pilot:
        await start_from_panel(pilot)
        await until(pilot, lambda: any("a file, not a folder" in m for m in messages(app)))
        assert isinstance(app.screen, BrowseScreen) and app.is_running
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen))
        hint = app.screen.query_one("#runs-hint")
        await until(pilot, lambda: "a file, not a folder" in str(hint.render()))
        await pilot.pause(1.2)  # the screen's next poll: still one line, still running
        assert app.is_running and "a file, not a folder" in str(hint.render())
    assert app.return_code in (0, None) and file.read_text() == "x"


@pilot_test
async def test_starting_a_run_in_a_read_only_runs_folder_is_a_notification(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    app = create_app(runs_dir=runs)
    with read_only(runs):
        async with app.run_test(size=(100, 30)) as pilot:
            await start_from_panel(pilot)
            await until(pilot, lambda: any("cannot create run directory" in m for m in messages(app)))
            assert isinstance(app.screen, BrowseScreen) and app.is_running and not app.launches
    assert list(runs.iterdir()) == []


@pilot_test
async def test_a_runs_folder_that_turns_read_only_while_the_app_runs(tmp_path):
    """Resume and delete in a folder that refuses writes: each says why in a notification, the run is untouched."""
    runs = tmp_path / "runs"
    run = write_run(runs, "r-stopped", model="mlp", data="moons", state="stopped")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    app = create_app(runs_dir=runs)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.loaded and app.screen.runs)
        with read_only(runs, run):
            await pilot.press("u")
            await until(pilot, lambda: any("r-stopped" in m and "cannot" in m for m in messages(app)))
            assert isinstance(app.screen, RunsScreen) and not app.launches
            await pilot.press("d")
            await until(pilot, lambda: app.screen.query("ChoiceScreen Button") or
                        type(app.screen).__name__ == "ChoiceScreen")
            await pilot.press("enter")  # Delete is the first choice
            await until(pilot, lambda: any("not deleted" in m for m in messages(app)))
            assert not any(m.startswith("deleted") for m in messages(app))
            await pilot.pause(1.2)
            assert app.is_running and isinstance(app.screen, RunsScreen)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
