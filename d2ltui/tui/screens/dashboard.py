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
from d2ltui.engine.analysis import profile
from d2ltui.engine.launching.processes import Launch, signal_run
from d2ltui.rundir.store import read_config
from d2ltui.tasks.spec import TaskSpec
from d2ltui.tui.runlog import LayersTail, MetricsTail, run_task, samples
from d2ltui.tui.widgets.layer_stats import LayerStatsView
from d2ltui.tui.widgets.ask_box import AskBox
from d2ltui.tui.widgets.attention_view import AttentionView
from d2ltui.tui.widgets.metric_plot import MetricPlot
from d2ltui.tui.widgets.progress_line import ProgressLine
from d2ltui.tui.widgets.samples_view import SamplesView
from d2ltui.tui.widgets.pixel_grid import PixelGrid
from d2ltui.tui import pixels

POLL_S, REDRAW_S = 0.25, 0.5
CURVES = ("loss", "metric", "gan-losses", "return")  # the task's panels (TaskSpec.panels) that are plots
TITLES = {"loss": "loss", "metric": "metric", "gan-losses": "loss (D, G)", "return": "return",
          "speed": "samples/s", "lr": "learning rate"}


def plot_panels(spec: TaskSpec | None) -> tuple[str, ...]:
    """The plots of a run's dashboard: its task's curves, then throughput and learning rate."""
    panels = spec.panels if spec is not None else ("loss", "metric")
    return (*(p for p in panels if p in CURVES), "speed", "lr")


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
        Binding("t", "threshold", "Threshold", show=False,  # the detections panel names it: 80 columns hold no more
                tooltip="least score of the boxes drawn (detection runs only)"),
        Binding("p", "profile", "Profile", show=False,
                tooltip="profile the running run's next steps (torch.profiler; table and trace in its profile/ folder)"),
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
        self._profile_asked: float | None = None  # when `p` asked for a profile not yet shown
        self.spec = run_task(self.path)  # None until a just-started engine writes config.toml
        self.panels = plot_panels(self.spec)

    def plots(self) -> list[MetricPlot]:
        """One MetricPlot per panel; with three, the task's curve spans the grid's width."""
        plots = [MetricPlot(TITLES[p] if p != "metric" else self.spec.metric if self.spec and self.spec.metric
                            else "metric", id=f"plot-{p}") for p in self.panels]
        if len(plots) == 3:
            plots[0].styles.column_span = 2
        return plots

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self.path.name, id="run-head")
        yield ProgressLine(id="progress")
        yield Static("", id="run-hint")  # the model's first-minute hint, after a slow first validation
        with Horizontal(id="dash-body"):
            with Grid(id="plots"):
                yield from self.plots()
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
        self._hinted = False  # the first validation has been checked against the model's hint
        self.query_one("#run-hint").display = False
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
        if not self._hinted:
            self.show_hint()
        if self._profile_asked is not None:
            self.show_profile()
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
        if self._head_known and self.spec is None and (spec := run_task(self.path)) is not None:
            self.spec = spec  # the task is known now: lay out its panels
            if plot_panels(spec) != self.panels:
                self.panels, self._shown, self._dirty = plot_panels(spec), {}, True
                grid = self.query_one("#plots", Grid)
                grid.remove_children()
                grid.mount_all(self.plots())
        model, data = cfg.get("model", {}).get("name", "?"), cfg.get("data", {}).get("name", "?")
        head = Text(f"{model} on {data}", "bold").append(f"  {self.path.name}", "dim")
        self.query_one("#run-head", Static).update(head)

    def show_hint(self) -> None:
        """Once the first validation is in: the model's hint (tasks/defaults.py) when it fell short of the mark."""
        metric = self.spec.metric if self.spec is not None else None
        first = next((r for r in self.tail.records if r.get("split") == "val"), None)
        if first is None or metric is None:
            return
        from d2ltui.tasks.defaults import first_minute_hint

        self._hinted = True
        device = str(read_status(self.path).get("device", ""))
        if first.get(metric) is not None and (text := first_minute_hint(read_config(self.path), metric, first[metric],
                                                                         device)):
            hint = self.query_one("#run-hint", Static)
            hint.update(Text(text, "bold yellow"))
            hint.display = True

    def read_state(self) -> dict:
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
        """A plot's title (None: keep its own) and series: the columns its task's spec names for that panel."""
        tail, panel = self.tail, plot_id.removeprefix("plot-")
        side = self.spec.side_metrics if self.spec is not None else ()
        if panel == "gan-losses":  # both networks' losses (loss_d, loss_g: D and G)
            return TITLES[panel], {f"{split} {key.removeprefix('loss_').upper()}": tail.series(split, key)
                                   for split in ("train", "val") for key in side}
        if panel == "return":  # the return of each episode, and of the greedy policy
            return TITLES[panel], {"train": tail.series("train", "return"), "val (greedy)": tail.series("val", "return")}
        if panel == "loss":  # and the side metrics a run reports (a Kaggle regression's log RMSE)
            shown = {f"{split} {key}": found for split in ("train", "val") for key in side
                     if (found := tail.series(split, key))[0]}
            return TITLES[panel], {"train": tail.series("train", "loss"), "val": tail.series("val", "loss"), **shown}
        if panel == "metric":
            metric = self.spec.metric if self.spec is not None else None
            return metric or TITLES[panel], {f"train {metric}": tail.series("train", metric or ""),
                                             f"val {metric}": tail.series("val", metric or "")}
        if panel == "speed":
            return None, {"samples/s": tail.series("train", "samples_per_s")}
        return None, {"lr": tail.series("train", "lr")}

    def redraw_plots(self) -> None:
        """Queue the plots whose data or smoothing changed; they rebuild one per frame."""
        self._stale = [f"plot-{p}" for p in self.panels]  # a chain under way picks up the new list
        self._dirty, self._last_draw = False, time.monotonic()
        if not self._drawing:
            self._drawing = True
            self._draw_next()

    def _draw_next(self) -> None:
        """Rebuild the next queued plot that changed; the rest follow after this frame is painted."""
        while self._stale:
            plot_id = self._stale.pop(0)
            found = self.query(f"#{plot_id}").results(MetricPlot)
            plot = next(found, None)
            if plot is None:  # laid out again since it was queued
                continue
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

    def action_profile(self) -> None:
        """Ask the running engine to profile its next steps (it picks the request up at a log step)."""
        if self.status.get("state") != RunState.RUNNING:
            self.notify("only a running run can be profiled (or: d2l-tui profile TARGET)")
            return
        profile.request_profile(self.path, profile.DEFAULT_STEPS)
        self._profile_asked = time.time()
        self.notify(f"profiling the next {profile.DEFAULT_STEPS} steps from the next log step")

    def show_profile(self) -> None:
        """The top operators once the profile asked for is written."""
        table_path = self.path / profile.FOLDER / profile.TABLE
        if not table_path.exists() or table_path.stat().st_mtime < self._profile_asked:
            return
        self._profile_asked = None
        table = profile.read_table(self.path)
        if table:
            key = "self_device_ms" if table.get("device_time") else "self_cpu_ms"
            top = ", ".join(f"{op['name']} {op[key]:.2f}ms" for op in table["ops"][:3])
            self.notify(f"profile: {top} per step; trace in {table['trace']}", timeout=10)

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
