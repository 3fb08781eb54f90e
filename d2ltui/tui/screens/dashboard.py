"""The live dashboard of one run: curves, progress, samples; pause, resume, stop. Reads the run dir only."""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from d2ltui.engine.rundir import END_STATES, SAMPLES, read_status
from d2ltui.tui.launcher import Launch, signal_run
from d2ltui.tui.runlog import MetricsTail, metric_name, read_config, samples
from d2ltui.tui.widgets.metric_plot import MetricPlot
from d2ltui.tui.widgets.progress_line import ProgressLine
from d2ltui.tui.widgets.samples_view import SamplesView

POLL_S, REDRAW_S = 0.25, 0.5


class DashboardScreen(Screen):
    """Follows a run directory a few times a second; plots redraw at most every REDRAW_S."""

    BINDINGS = [
        Binding("space", "toggle_pause", "Pause/resume"),
        Binding("x", "stop", "Stop"),
        Binding("m", "toggle_smoothing", "Smooth"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, path: Path, launch: Launch | None = None) -> None:
        super().__init__()
        self.path, self.launch = Path(path), launch
        self.tail = MetricsTail(self.path)
        self.status: dict = {}
        self._dirty, self._last_draw, self._samples_mtime, self._note = True, 0.0, -1.0, ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self.path.name, id="run-head")
        yield ProgressLine(id="progress")
        with Horizontal(id="dash-body"):
            with Grid(id="plots"):
                yield MetricPlot("loss", id="plot-loss")
                yield MetricPlot("metric", id="plot-metric")
                yield MetricPlot("samples/s", id="plot-speed")
                yield MetricPlot("learning rate", id="plot-lr")
            with VerticalScroll(id="samples-box"):
                yield SamplesView(id="samples")
        yield Static("", id="run-message")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = self.path.name
        self._head_known = False
        self.run_worker(self._read_history, thread=True, group="history")

    def _read_history(self) -> None:
        """Parse what the run has written so far off the event loop (a long run has many lines)."""
        self.tail.poll()
        self.app.call_from_thread(self._follow)

    def _follow(self) -> None:
        self._dirty = True
        self.poll()
        self.set_interval(POLL_S, self.poll)

    def poll(self) -> None:
        """Read what is new (only appended metric lines), then redraw what changed, coalesced."""
        if self.tail.poll():
            self._dirty = True
        if not self._head_known:
            self.show_head()
        self.status = self.read_state()
        last = next((r for r in reversed(self.tail.records) if r.get("split") == "train"), None)
        self.query_one(ProgressLine).show(self.status, last)
        ended = self.status.get("state") in END_STATES
        note = f"{self.status['state']}: {self.status.get('message', '')}" if ended else ""
        if note != self._note:
            self._note = note
            message = self.query_one("#run-message", Static)
            message.update(Text(note, "bold green" if self.status.get("state") == "finished" else "bold red"))
            message.display = ended
        self.refresh_samples()
        if self._dirty and time.monotonic() - self._last_draw >= REDRAW_S:
            self.redraw_plots()

    def show_head(self) -> None:
        """Model and data from config.toml (which a just-started engine writes a moment later)."""
        cfg = read_config(self.path)
        self._head_known = bool(cfg)
        model, data = cfg.get("model", {}).get("name", "?"), cfg.get("data", {}).get("name", "?")
        head = Text(f"{model} on {data}", "bold").append(f"  {self.path.name}", "dim")
        self.query_one("#run-head", Static).update(head)

    def read_state(self) -> dict:
        if self.launch:
            self.launch.tidy()
        status = read_status(self.path)
        if self.launch and not self.launch.alive() and self.launch.proc.returncode and (
                status.get("state") not in END_STATES or status.get("state") == "crashed"):
            return {**status, "state": "failed", "message": self.launch.early_error()}
        if self.launch and self.launch.alive() and status.get("state") == "crashed":
            return {"state": "starting", "message": "the engine is starting"}
        return status

    def refresh_samples(self) -> None:
        try:
            mtime = (self.path / SAMPLES).stat().st_mtime
        except OSError:
            mtime = 0.0
        if mtime != self._samples_mtime:
            self._samples_mtime = mtime
            self.query_one(SamplesView).show(samples(self.path))

    def redraw_plots(self) -> None:
        tail = self.tail
        metric = metric_name(tail.records[-50:]) or metric_name(tail.records)
        plots = {
            "plot-loss": {"train": tail.series("train", "loss"), "val": tail.series("val", "loss")},
            "plot-metric": {f"train {metric}": tail.series("train", metric or ""),
                            f"val {metric}": tail.series("val", metric or "")},
            "plot-speed": {"samples/s": tail.series("train", "samples_per_s")},
            "plot-lr": {"lr": tail.series("train", "lr")},
        }
        for plot_id, data in plots.items():
            plot = self.query_one(f"#{plot_id}", MetricPlot)
            if plot_id == "plot-metric":
                plot.title = metric or "metric"
            plot.set_series(data)
            plot.redraw()
        self._dirty, self._last_draw = False, time.monotonic()

    def action_toggle_pause(self) -> None:
        intent = "resume" if self.status.get("state") == "paused" else "pause"
        self.notify(signal_run(self.path, intent))

    def action_stop(self) -> None:
        if self.launch and self.launch.alive() and self.status.get("state") in ("running", "paused", "starting"):
            self.launch.send("stop")  # our own session: a torchrun launcher passes it to every worker
            self.notify("sent stop")
        else:
            self.notify(signal_run(self.path, "stop"))

    def action_toggle_smoothing(self) -> None:
        for plot in self.query(MetricPlot):
            plot.smoothing = not plot.smoothing
        self.redraw_plots()
