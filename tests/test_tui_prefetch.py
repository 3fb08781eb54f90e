"""The home screen's first layer table from the helper process: same rows, torch-free app, no stray process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tui_pilot import pilot_test, row_types, settle_summary

from d2ltui.format import format_shapes
from d2ltui.tui import HOME_MODEL, prefetch
from d2ltui.tui.app import create_app
from d2ltui.tui.inspection import inspect_model
from d2ltui.tui.runplan import RunPlan
from d2ltui.zoo.registry import get_spec


def first_request(model: str = HOME_MODEL) -> tuple[str, dict, str]:
    """What the home screen first asks its layer table for: the base config's knobs, the default input."""
    return model, RunPlan.for_model(model).model_knobs(), format_shapes(get_spec(model).default_input)


def gone(proc: subprocess.Popen) -> bool:
    return proc.poll() is not None


@pytest.fixture(autouse=True)
def no_helper_left():
    yield
    prefetch.close()


APP_WITH_HELPER = """
import json, sys
from d2ltui.tui import prefetch

prefetch.start()  # as `d2l-tui` does before it imports Textual
from d2ltui.tui.app import create_app
from d2ltui.tui.widgets.layer_table import LayerTable

show = LayerTable.show

def shown(self, result):
    show(self, result)
    table = self.query_one("#layer-rows")
    rows = [[str(cell) for cell in table.get_row_at(r)] for r in range(table.row_count)]  # as on screen
    print(json.dumps({"torch": "torch" in sys.modules, "rows": rows, "totals": result.totals,
                      "input": result.input, "helper_left": prefetch.pending() is not None}), flush=True)
    self.app.exit()

LayerTable.show = shown
create_app(runs_dir=sys.argv[1]).run(headless=True, size=(120, 40))
"""


def test_the_first_table_comes_from_the_helper_with_the_in_process_rows(tmp_path):
    out = subprocess.run([sys.executable, "-c", APP_WITH_HELPER, str(tmp_path / "runs")],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    shown = json.loads(out.stdout.strip().splitlines()[-1])
    assert shown["torch"] is False  # the app process never imported torch: the rows are the helper's
    assert shown["helper_left"] is False
    model, knobs, input_text = first_request()
    here = inspect_model(model, knobs, input_text)  # the in-process path, in this process
    assert here.error is None and len(here.rows) >= 10
    assert shown["rows"] == [[r.name, r.type, r.output, r.params, r.flops, r.rf] for r in here.rows]
    assert shown["totals"] == here.totals and shown["input"] == input_text


def test_take_gives_the_in_process_inspection_and_leaves_no_helper():
    prefetch.start()
    helper = prefetch.pending()
    assert helper is not None
    result = prefetch.take(*first_request())
    assert result is not None and gone(helper) and prefetch.pending() is None
    assert result == inspect_model(*first_request())
    assert prefetch.take(*first_request()) is None  # taken once


def test_another_request_stops_the_helper_at_once():
    prefetch.start()
    helper = prefetch.pending()
    start = time.monotonic()
    model, knobs, _ = first_request()
    assert prefetch.take(model, knobs, "1x1x32x32") is None  # another input: computed in-process
    assert gone(helper) and time.monotonic() - start < 10
    prefetch.start()
    helper = prefetch.pending()
    assert prefetch.take("mlp", {}, "") is None and gone(helper)  # another model


def test_other_knobs_are_not_taken_for_the_helpers():
    prefetch.start()
    model, knobs, input_text = first_request()
    assert prefetch.take(model, {**knobs, "norm": "batch"}, input_text) is None


@pytest.mark.parametrize("script", ["exit 3", "echo not json", "kill -9 $$"])
def test_a_failed_helper_means_none(tmp_path, monkeypatch, script):
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(fake))
    prefetch.start()
    assert prefetch.take(*first_request()) is None


@pilot_test
async def test_the_table_fills_in_process_when_the_helper_fails(tmp_path, monkeypatch):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(fake))
    prefetch.start()
    app = create_app(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        table = await settle_summary(pilot)
        assert row_types(table)[:2] == ["Conv2d", "Sigmoid"]
        assert table.inspection.error is None and prefetch.pending() is None


def test_close_stops_the_helper():
    prefetch.start()
    helper = prefetch.pending()
    prefetch.close()
    assert gone(helper) and prefetch.pending() is None


EXITING_APP = """
import os, sys
from d2ltui.tui import prefetch

sys.executable = sys.argv[1]  # a helper that would sleep for a minute
prefetch.start()
print(prefetch.pending().pid, flush=True)
sys.exit(0)
"""

CRASHING_APP = """
import os, subprocess, sys

# the real helper's entry point, its summary made to last a minute
SLOW = ("import sys, time; import d2ltui.tui.inspection as i; i.inspect_model = lambda *a: time.sleep(60); "
        "from d2ltui.tui import prefetch; prefetch._serve('lenet', int(sys.argv[1]))")
helper = subprocess.Popen([sys.executable, "-c", SLOW, str(os.getpid())], stdout=subprocess.DEVNULL,
                          start_new_session=True)
print(helper.pid, flush=True)
os._exit(0)  # no clean-up at all, as when the app is killed
"""


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, left for whoever adopted it to reap, counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("app", [EXITING_APP, CRASHING_APP], ids=["exit", "crash"])
def test_the_helper_never_outlives_the_app(tmp_path, app):
    """A normal exit kills it (atexit); after a crash it sees its parent gone and exits: well within its minute."""
    sleeper = tmp_path / "python"
    sleeper.write_text("#!/bin/sh\nexec sleep 60\n")
    sleeper.chmod(0o755)
    out = subprocess.run([sys.executable, "-c", app, str(sleeper)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 20
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
