"""Time the TUI: first paint against a minimal Textual app, and key-to-repaint latency during training.

Usage: python benchmarks/bench_tui.py [--repeat 5] [--keys 60]

Start-up: each app runs headless in a fresh interpreter, which prints a line once its first
screen has painted; the time from spawning it to that line is taken for the workbench and
for a minimal Textual app (a Static and a Footer), alternating, `repeat` times each, and the
medians are compared (target: ratio <= 1.5). The workbench mounts its knobs and tabs just after
the first paint; the time until they are there (the whole home screen) is reported too.

Latency: a real CPU training run (LeNet on the embedded shapes) is started as its own
process, the way the workbench starts runs (at a slightly lower CPU priority); the dashboard is attached to it, and keys that force a redraw ('m' toggles smoothing
of all four plots, 'down' moves the catalog cursor and starts a summary) are pressed one at a
time; each sample is the time from sending the key to the first screen update written after
the key's action ran (target: p95 < 50 ms). Catalog keys are timed twice: 50 ms apart (the
knobs and layer table wait for the cursor to rest) and 0.4 s apart (each key's model is loaded,
summarised and its table drawn before the next key).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MINIMAL = """
from textual.app import App
from textual.widgets import Footer, Static

class Minimal(App):
    def compose(self):
        yield Static("hello")
        yield Footer()

    def on_mount(self):
        self.call_after_refresh(self.painted)

    def painted(self):
        print("painted", flush=True)
        self.exit()

Minimal().run(headless=True, size=(100, 30))
"""

WORKBENCH = """
import sys
from d2ltui.tui.app import create_app
from d2ltui.tui.screens.browse import BrowseScreen
from d2ltui.tui.widgets.layer_table import LayerTable

mount, table_mount = BrowseScreen.on_mount, LayerTable.on_mount

def on_mount(self):
    mount(self)
    self.call_after_refresh(lambda: print("painted", "torch" in sys.modules, flush=True))

def on_table_mount(self):
    table_mount(self)
    self.call_after_refresh(lambda: (print("composed", flush=True), self.app.exit()))

BrowseScreen.on_mount, LayerTable.on_mount = on_mount, on_table_mount
create_app().run(headless=True, size=(100, 30))
"""


def time_to_paint(script: str) -> tuple[float, str, float]:
    """Seconds to the "painted" line, that line, and seconds to a "composed" line (0 if none)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    composed = 0.0
    if proc.stdout.readline().startswith("composed"):
        composed = time.perf_counter() - start
    proc.wait(timeout=60)
    if not line.startswith("painted"):
        raise SystemExit(f"the app did not paint: {line!r}")
    return elapsed, line.strip(), composed


def startup(repeat: int) -> None:
    ours, minimal, whole, lines = [], [], [], set()
    for _ in range(repeat):
        t, line, composed = time_to_paint(WORKBENCH)
        ours.append(t)
        whole.append(composed)
        lines.add(line)
        minimal.append(time_to_paint(MINIMAL)[0])
    a, b = statistics.median(ours), statistics.median(minimal)
    torch_loaded = any(line.endswith("True") for line in lines)
    print(f"first paint: workbench {a * 1000:.0f} ms, minimal Textual app {b * 1000:.0f} ms "
          f"(medians of {repeat}); ratio {a / b:.2f} (target <= 1.5); torch loaded at first paint: {torch_loaded}; "
          f"whole home screen (knobs, tabs) mounted at {statistics.median(whole) * 1000:.0f} ms")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def spy_on_paints(app) -> list[float]:
    """Record when the app writes each screen update (the moment a repaint reaches the terminal)."""
    paints: list[float] = []
    display = app._display

    def recorded(screen, renderable):
        display(screen, renderable)
        if renderable is not None:
            paints.append(time.perf_counter())

    app._display = recorded
    return paints


HANDLED: list[float] = []


def mark_handled(cls: type, name: str) -> None:
    """Note the moment the action a key triggers has run."""
    action = getattr(cls, name)

    def wrapped(self, *args, **kwargs):
        result = action(self, *args, **kwargs)
        HANDLED.append(time.perf_counter())
        return result

    setattr(cls, name, wrapped)


async def press_and_time(pilot, paints: list[float], key: str, gap: float = 0.05) -> float:
    """From sending the key to the first screen update written after its action ran."""
    await pilot.pause(gap)
    handled = len(HANDLED)
    start = time.perf_counter()
    await pilot.press(key)
    while len(HANDLED) == handled:
        await asyncio.sleep(0.001)
    done = HANDLED[handled]
    while not paints or paints[-1] < done:
        await asyncio.sleep(0.001)
    return next(p for p in paints if p >= done) - start


async def latency(keys: int, runs_dir: Path, run_id: str) -> None:
    from textual.widgets import Tree

    from d2ltui.rundir.store import read_status
    from d2ltui.tui.app import create_app
    from d2ltui.tui.screens.dashboard import DashboardScreen

    mark_handled(DashboardScreen, "action_toggle_smoothing")
    mark_handled(Tree, "action_cursor_down")
    mark_handled(Tree, "action_cursor_up")

    deadline = time.monotonic() + 120
    while read_status(runs_dir / run_id).get("state") != "running":
        if time.monotonic() > deadline:
            raise SystemExit(f"the training run did not start: {read_status(runs_dir / run_id)}")
        await asyncio.sleep(0.2)
    app = create_app(runs_dir=runs_dir, attach=run_id)
    async with app.run_test(size=(100, 30)) as pilot:
        paints = spy_on_paints(app)
        await pilot.pause(1.0)
        await app.workers.wait_for_complete()  # the home screen's first summary (torch's import) is done
        dash = [await press_and_time(pilot, paints, "m") for _ in range(keys)]
        await pilot.press("escape")
        await pilot.pause(2.0)  # the first summary imports torch's meta kernels: let it finish
        browse = []
        for i in range(keys):
            browse.append(await press_and_time(pilot, paints, "down" if i % 2 == 0 else "up"))
        resting = []
        for i in range(keys // 2):
            resting.append(await press_and_time(pilot, paints, "down" if i % 2 == 0 else "up", gap=0.4))
    for name, samples in (("dashboard 'm' (4 plots redrawn)", dash), ("catalog up/down (summary worker)", browse),
                          ("catalog up/down 0.4 s apart (each model loaded)", resting)):
        ms = [s * 1000 for s in samples]
        print(f"key-to-repaint {name}: p50 {percentile(ms, 0.5):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms, "
              f"max {max(ms):.1f} ms over {len(ms)} keys (target p95 < 50 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="start-ups of each app; medians compared")
    parser.add_argument("--keys", type=int, default=60, help="keys pressed per latency measurement")
    args = parser.parse_args()
    startup(args.repeat)
    from d2ltui.engine.job import create_run
    from d2ltui.engine.launching.processes import start_job
    from d2ltui.tasks.resolve import resolve

    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        # started as the workbench starts runs (same launcher, same priority), flat out on the CPU
        cfg = resolve("quick-lenet-shapes", ["train.epochs=1000"], "cpu")[0]
        train = start_job(create_run(cfg, runs).path)
        try:
            asyncio.run(latency(args.keys, runs, train.run_id))
        finally:
            train.send("stop")
            train.proc.wait(timeout=60)


if __name__ == "__main__":
    main()
