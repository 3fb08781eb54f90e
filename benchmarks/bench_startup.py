"""Time the way to the first layer table: `inspect` against torchinfo, the TUI's table, and first paint in tmux.

Usage: python benchmarks/bench_startup.py [--repeat 7]

Every figure is a fresh process timed from spawn, against a reference timed in the same run,
the two alternating `repeat` times; the medians are compared. On a busy machine the wall
times mostly measure waiting for a core: the CPU time each process used (user + system,
for the figures that end with the process) is printed beside them.

- CLI: `d2l-tui inspect lenet` (table printed, process exited) against a process that imports
  torch and torchinfo and prints torchinfo's summary of the same LeNet (target: ratio <= 1.1).
- TUI: launch (headless, 120x40) until LeNet's layer table has rows on screen, against
  `python -c "import torch"` (target: ratio <= 1.25). Like a bare `d2l-tui`, it first starts the
  helper process that summarises LeNet (d2ltui.tui.prefetch); the CPU time includes the helper's.
- First paint: the workbench and a minimal Textual app (a Static and a Footer), each run in a
  tmux session of 120x40; `capture-pane` is polled until the catalog's text (the minimal app's
  text) is on screen (target: ratio <= 1.5).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TORCHINFO = """
import torch, torchinfo
from d2ltui.zoo.lenet import lenet
print(torchinfo.summary(lenet(), input_size=(1, 1, 28, 28), verbose=0))
"""

TUI_TABLE = """
import sys
from d2ltui.tui import prefetch

prefetch.start()  # as d2ltui.cli.main does for a bare `d2l-tui`, before Textual is imported
from d2ltui.tui.app import create_app
from d2ltui.tui.widgets.layer_table import LayerTable

show = LayerTable.show

def shown(self, result):
    show(self, result)
    if result.rows:
        torch = "torch" in sys.modules
        self.call_after_refresh(lambda: (print("table", result.model, len(result.rows), "torch", torch, flush=True),
                                         self.app.exit()))

LayerTable.show = shown
create_app(runs_dir=sys.argv[1]).run(headless=True, size=(120, 40))
"""

MINIMAL = """
from textual.app import App
from textual.widgets import Footer, Static

class Minimal(App):
    def compose(self):
        yield Static("Ch 7 CNN")
        yield Footer()

Minimal().run()
"""


def timed(argv: list[str], expect: str, measure=lambda usage: usage.ru_utime + usage.ru_stime) -> tuple[float, float]:
    """Seconds from spawning `argv` until it exits, having printed `expect`; and `measure` of its resource
    usage (by default the CPU seconds it used)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0 or expect not in stdout:
        raise SystemExit(f"{argv[:4]} failed ({proc.returncode}): {stdout[-300:]} {stderr[-300:]}")
    return elapsed, measure(usage)


def timed_in_tmux(command: str, text: str, name: str) -> tuple[float, None]:
    """Seconds from starting a 120x40 tmux session running `command` until `text` is on its screen."""
    start = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "40", command], check=True)
    try:
        while time.perf_counter() - start < 120:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True).stdout
            if text in screen:
                return time.perf_counter() - start, None
            time.sleep(0.005)
        raise SystemExit(f"{command!r} never showed {text!r}")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def compare(label: str, ours, reference, ref_label: str, target: float, repeat: int) -> None:
    """Alternate the two, `repeat` times each; print the medians and their ratio (wall, and CPU if known)."""
    a, b = [], []
    for _ in range(repeat):
        a.append(ours())
        b.append(reference())
    ma, mb = statistics.median(x[0] for x in a), statistics.median(x[0] for x in b)
    verdict = "ok" if ma / mb <= target else "OVER"
    cpu = ""
    if a[0][1] is not None:
        ca, cb = statistics.median(x[1] for x in a), statistics.median(x[1] for x in b)
        cpu = f"; CPU time {ca * 1000:.0f} ms vs {cb * 1000:.0f} ms, ratio {ca / cb:.2f}"
    print(f"{label}: {ma * 1000:.0f} ms; {ref_label}: {mb * 1000:.0f} ms (medians of {repeat}, alternated); "
          f"ratio {ma / mb:.2f} (target <= {target}) {verdict}{cpu}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs of each process; medians compared")
    args = parser.parse_args()
    py = sys.executable
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; cpus: {os.cpu_count()}")
    try:
        import torchinfo  # noqa: F401
    except ImportError:
        print("CLI figure skipped: torchinfo is not installed (pip install -e '.[dev]')")
    else:
        compare("d2l-tui inspect lenet", lambda: timed([py, "-m", "d2ltui", "inspect", "lenet"], "FLOPs"),
                lambda: timed([py, "-c", TORCHINFO], "Total params"), "torchinfo summary of LeNet", 1.1, args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        compare("TUI launch to LeNet's layer table", lambda: timed([py, "-c", TUI_TABLE, tmp], "torch False"),
                lambda: timed([py, "-c", "import torch"], ""), "python -c 'import torch'", 1.25, args.repeat)
        if shutil.which("tmux") is None:
            print("first-paint figure skipped: tmux is not installed")
        else:
            minimal = Path(tmp) / "minimal.py"
            minimal.write_text(MINIMAL)
            runs = Path(tmp) / "runs"
            count = iter(range(10**6))
            keep = f"bench-keep-{os.getpid()}"  # keeps the tmux server up between the timed sessions
            subprocess.run(["tmux", "new-session", "-d", "-s", keep, "sleep 3600"], check=True)
            try:
                compare("first paint in tmux 120x40, workbench",
                        lambda: timed_in_tmux(f"{py} -m d2ltui --runs-dir {runs}", "Ch 7 CNN",
                                              f"bench-wb-{os.getpid()}-{next(count)}"),
                        lambda: timed_in_tmux(f"{py} {minimal}", "Ch 7 CNN",
                                              f"bench-min-{os.getpid()}-{next(count)}"),
                        "minimal Textual app", 1.5, args.repeat)
            finally:
                subprocess.run(["tmux", "kill-session", "-t", keep], capture_output=True)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
