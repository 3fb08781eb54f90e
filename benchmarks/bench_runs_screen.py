"""Time the runs screen's first paint with thousands of runs, against a minimal Textual app's first paint.

Usage: python benchmarks/bench_runs_screen.py [--runs 5000] [--repeat 3] [--keep DIR]

Makes `runs` run directories with the run directory's own writer (config.toml, a few metrics lines,
a finished status.json), then, in this one process, alternately: a minimal Textual app (a header, a
five-row DataTable and a footer) and the workbench with only its runs screen, each from start to the
first frame that shows its table's rows (Pilot, headless, 100x30). Prints the medians in ms and their
ratio (target: the runs screen under a second on this machine, whatever the number of runs).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

CONFIG = '[model]\nname = "lenet"\n\n[data]\nname = "shapes"\nbatch_size = 64\n\n[train]\nepochs = 2\n'


def make_runs(root: Path, count: int) -> None:
    """`count` finished runs in the engine's format, written through RunDir (ids as `train` makes them)."""
    from d2ltui.rundir.store import RunDir

    for i in range(count):
        run = RunDir.create(root, CONFIG, f"20240101-{i // 3600:02d}{i // 60 % 60:02d}{i % 60:02d}-lenet-{i:04x}")
        for step in range(1, 6):
            run.append_metrics({"step": step, "epoch": 0, "split": "train", "loss": 2.3 / step, "time": float(step)})
        run.append_metrics({"step": 5, "epoch": 0, "split": "val", "loss": 1.0, "acc": 0.5 + i % 40 / 100, "time": 5.0})
        run.write_status("finished", "done", started=1_700_000_000.0 + i, epoch=0, total_epochs=1, step=5,
                         total_steps=5)


async def first_paint(app, ready) -> float:
    """Seconds from starting `app` to the first frame after `ready(app)` holds."""
    start = time.perf_counter()
    async with app.run_test(size=(100, 30)):
        while not ready(app):
            await asyncio.sleep(0.002)
        painted = asyncio.Event()
        app.screen.call_after_refresh(painted.set)
        app.screen.refresh()  # the rows' frame (a frame already written would leave nothing to wait for)
        await asyncio.wait_for(painted.wait(), 30)
        return time.perf_counter() - start


def minimal_app():
    from textual.app import App
    from textual.widgets import DataTable, Footer, Header

    class Minimal(App):
        def compose(self):
            yield Header()
            yield DataTable()
            yield Footer()

        def on_mount(self):
            table = self.query_one(DataTable)
            table.add_columns("run", "state")
            table.add_rows([(f"run-{i}", "finished") for i in range(5)])

    return Minimal()


def runs_app(root: Path):
    import d2ltui.tui.app as workbench
    from d2ltui.tui.screens.runs import RunsScreen

    class RunsOnly(workbench.WorkbenchApp):
        CSS_PATH = Path(workbench.__file__).with_name(workbench.WorkbenchApp.CSS_PATH)

        def on_mount(self, event):
            event.prevent_default()  # not the home screen: the runs screen alone
            self.push_screen(RunsScreen())

    return RunsOnly(runs_dir=root)


def runs_painted(app) -> bool:
    screen = app.screen
    return getattr(screen, "loaded", False) and screen.query_one("#runs-table").row_count > 0 \
        and bool(screen.runs[0].state)


def minimal_painted(app) -> bool:
    from textual.widgets import DataTable

    return bool(app.screen.query(DataTable)) and app.screen.query_one(DataTable).row_count > 0


async def main(count: int, repeat: int, keep: str | None) -> None:
    root = Path(keep or tempfile.mkdtemp(prefix="bench-runs-")) / "runs"
    if not root.is_dir() or len(list(root.iterdir())) != count:
        start = time.perf_counter()
        make_runs(root, count)
        print(f"made {count} runs in {time.perf_counter() - start:.1f} s under {root}")
    minimal, runs = [], []
    await first_paint(minimal_app(), minimal_painted)  # warm the imports of both
    await first_paint(runs_app(root), runs_painted)
    for _ in range(repeat):
        minimal.append(await first_paint(minimal_app(), minimal_painted))
        runs.append(await first_paint(runs_app(root), runs_painted))
    m, r = statistics.median(minimal) * 1000, statistics.median(runs) * 1000
    print(f"minimal app first paint: {m:.0f} ms (median of {repeat})")
    print(f"runs screen first paint with {count} runs: {r:.0f} ms (median of {repeat})")
    print(f"ratio: {r / m:.2f}  target: runs screen < 1000 ms: {'ok' if r < 1000 else 'MISSED'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", help="a folder to keep the runs in (made once, reused by later calls)")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.repeat, args.keep))
