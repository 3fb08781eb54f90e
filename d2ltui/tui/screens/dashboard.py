"""The live dashboard of one run: curves, progress, samples, per-layer statistics; pause, resume, stop. Reads only."""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from d2ltui.rundir.states import END_STATES, RunState
from d2ltui.rundir.store import SAMPLES, read_status
from d2ltui.engine.launch import Launch, signal_run
from d2ltui.tui.runlog import LayersTail, MetricsTail, metric_name, read_config, samples
from d2ltui.tui.widgets.layer_stats import LayerStatsView
from d2ltui.tui.widgets.ask_box import AskBox
from d2ltui.tui.widgets.attention_view import AttentionView
from d2ltui.tui.widgets.metric_plot import MetricPlot
from d2ltui.tui.widgets.progress_line import ProgressLine
from d2ltui.tui.widgets.samples_view import SamplesView
from d2ltui.tui.widgets.pixel_grid import PixelGrid
from d2ltui.tui import pixels

POLL_S, REDRAW_S = 0.25, 0.5
PLOTS = ("plot-loss", "plot-metric", "plot-speed", "plot-lr")


class DashboardScreen(Screen):
    """Follows a run directory a few times a second; plots redraw at most every REDRAW_S, one per frame."""

    BINDINGS = [
        Binding("space", "toggle_pause", "Pause", tooltip="pause / resume the run"),
        Binding("x", "stop", "Stop", tooltip="stop the run (it checkpoints)"),
        Binding("l", "toggle_layers", "Layers", tooltip="per-layer statistics: the latest values and a heatmap"),
        Binding("m", "toggle_smoothing", "Smooth", show=False, tooltip="smoothing on / off"),
        Binding("h", "next_stat", "Heatmap", show=False, tooltip="the heatmap's next statistic (layers view)"),
        Binding("left_square_bracket", "step(-1)", "Prev", show=False,
                tooltip="previous attention map, or an RL run's earlier iteration or episode"),
        Binding("right_square_bracket", "step(1)", "Next", show=False,
                tooltip="next attention map (sample, layer, head), or an RL run's later iteration or episode"),
        Binding("left_curly_bracket", "step(-1000000)", "First", show=False, tooltip="an RL run's first iteration"),
        Binding("right_curly_bracket", "step(1000000)", "Latest", show=False, tooltip="an RL run's latest iteration"),
        Binding("slash", "ask", "Ask", tooltip="type your own input, answered from the latest checkpoint"),
        Binding("t", "threshold", "Threshold", tooltip="least score of the boxes drawn (detection runs only)"),
        Binding("escape", "app.pop_screen", "Back", tooltip="back"),
    ]

    def __init__(self, path: Path, launch: Launch | None = None) -> None:
        super().__init__()
        self.path, self.launch = Path(path), launch
        self.tail = MetricsTail(self.path)
        self.layers_tail = LayersTail(self.path)
        self.status: dict = {}
        self._dirty, self._last_draw, self._samples_mtime, self._note = True, 0.0, -1.0, ""
        self._stale: list[str] = []  # plots still to rebuild, one per frame (a plotext build costs milliseconds)
        self._shown: dict[str, tuple] = {}  # what each plot last drew: (title, smoothing, series lengths)
        self._drawing = False

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
                if pixels.mode() == pixels.PIXELS:
                    yield PixelGrid(id="sample-pixels")
                yield AttentionView(id="attention")
        yield LayerStatsView(self.layers_tail, id="layers-view")
        yield AskBox(self.path, id="ask-box")
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
        self.query_one(ProgressLine).show(self.status, last, *self.tail.series("train", "time"))
        ended = self.status.get("state") in END_STATES
        note = f"{self.status['state']}: {self.status.get('message', '')}" if ended else ""
        if note != self._note:
            self._note = note
            message = self.query_one("#run-message", Static)
            message.update(Text(note, "bold green" if self.status.get("state") == RunState.FINISHED else "bold red"))
            message.display = ended
        self.refresh_samples()
        self.layers_tail.poll()
        view = self.query_one(LayerStatsView)
        if view.display:
            view.show()
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
            latest = samples(self.path)
            self.query_one(SamplesView).show(latest)
            if self.query_one(AskBox).answer is None:  # an answer to the user's input stays until the next one
                latest = latest or {}
                images = [item.get("image") for item in latest.get("items", [])]
                self.query_one(AttentionView).show(latest.get("attention"), images)
            self.refresh_bindings()

    def plot_data(self, plot_id: str) -> tuple[str | None, dict[str, tuple[list[float], list[float]]]]:
        """A plot's title (None: keep its own) and series, straight from the tail's columns."""
        tail = self.tail
        if plot_id == "plot-loss" and tail.series("train", "loss_d")[0]:  # a GAN: both networks' losses
            return "loss (D, G)", {f"{split} {key[-1].upper()}": tail.series(split, key)
                                   for split in ("train", "val") for key in ("loss_d", "loss_g")}
        if plot_id == "plot-loss" and tail.series("train", "return")[0]:  # RL: the return of each episode
            return "return", {"train": tail.series("train", "return"), "val (greedy)": tail.series("val", "return")}
        if plot_id == "plot-loss":
            return "loss", {"train": tail.series("train", "loss"), "val": tail.series("val", "loss")}
        if plot_id == "plot-metric":
            metric = metric_name(tail.records[-50:]) or metric_name(tail.records)
            return metric or "metric", {f"train {metric}": tail.series("train", metric or ""),
                                        f"val {metric}": tail.series("val", metric or "")}
        if plot_id == "plot-speed":
            return None, {"samples/s": tail.series("train", "samples_per_s")}
        return None, {"lr": tail.series("train", "lr")}

    def redraw_plots(self) -> None:
        """Queue the plots whose data or smoothing changed; they rebuild one per frame."""
        self._stale = list(PLOTS)  # a chain under way picks up the new list
        self._dirty, self._last_draw = False, time.monotonic()
        if not self._drawing:
            self._drawing = True
            self._draw_next()

    def _draw_next(self) -> None:
        """Rebuild the next queued plot that changed; the rest follow after this frame is painted."""
        while self._stale:
            plot_id = self._stale.pop(0)
            plot = self.query_one(f"#{plot_id}", MetricPlot)
            title, data = self.plot_data(plot_id)
            shown = (title, plot.smoothing, plot.size, tuple(len(xs) for xs, _ in data.values()))
            if shown == self._shown.get(plot_id):
                continue  # nothing new to draw (e.g. the validation curves between epochs)
            self._shown[plot_id] = shown
            if title is not None:
                plot.title = title
            plot.set_series(data)
            plot.redraw()
            break
        if self._stale:
            self.call_after_refresh(self._draw_next)
        else:
            self._drawing = False

    def action_toggle_pause(self) -> None:
        intent = "resume" if self.status.get("state") == "paused" else "pause"
        self.notify(signal_run(self.path, intent))

    def action_stop(self) -> None:
        if self.launch and self.launch.alive() and self.status.get("state") in ("running", "paused", "starting"):
            self.launch.send("stop")  # our own session: a torchrun launcher passes it to every worker
            self.notify("sent stop")
        else:
            self.notify(signal_run(self.path, "stop"))

    def action_toggle_layers(self) -> None:
        """Swap the curves for the layers view (latest statistics and a heatmap) and back."""
        view, body = self.query_one(LayerStatsView), self.query_one("#dash-body")
        view.display, body.display = not view.display, view.display
        if view.display:
            view.show(force=True)

    def action_next_stat(self) -> None:
        view = self.query_one(LayerStatsView)
        if not view.display:
            self.action_toggle_layers()
        view.cycle()

    def action_step(self, delta: int) -> None:
        """Step what the samples panel keeps a series of: an RL run's history, else the attention maps."""
        samples = self.query_one(SamplesView)
        if (getattr(samples, "samples", None) or {}).get("history"):
            samples.step(delta)
        elif abs(delta) == 1:
            self.query_one(AttentionView).step(delta)

    def action_ask(self) -> None:
        self.query_one("#ask").focus()

    def on_ask_box_answered(self, message: AskBox.Answered) -> None:
        answer = message.answer
        self.query_one(AttentionView).show(answer.get("attention"), [answer.get("image")], heading="your input: ")

    def action_toggle_smoothing(self) -> None:
        """Flip smoothing; the plots follow one per frame (the first with this key's repaint)."""
        for plot in self.query(MetricPlot):
            plot.smoothing = not plot.smoothing
        self.redraw_plots()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """The threshold key exists only while the samples are detections."""
        if action == "threshold":
            views = self.query(SamplesView)
            return bool(views) and views.first().kind == "detections"
        return True

    def action_threshold(self) -> None:
        """Cycle the least score of the boxes drawn on the validation images."""
        from d2ltui.tui.widgets.detections import next_threshold

        view = self.query_one(SamplesView)
        view.set_threshold(next_threshold(view.threshold))
        self.notify(f"showing detections scoring at least {view.threshold:.2f}")
