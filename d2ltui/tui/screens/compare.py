"""Several runs overlaid: validation loss and metric curves, and the settings in which they differ."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header

from d2ltui.tui.runlog import MetricsTail, config_diff, metric_name
from d2ltui.tui.widgets.metric_plot import MetricPlot


class CompareScreen(Screen):
    BINDINGS = [Binding("m", "toggle_smoothing", "Smooth", tooltip="smoothing on / off"),
                Binding("escape", "app.pop_screen", "Back", tooltip="back")]

    def __init__(self, paths: list[Path]) -> None:
        super().__init__()
        self.paths = paths
        self.tails = [MetricsTail(p) for p in paths]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="compare-plots"):
            yield MetricPlot("val loss", id="cmp-loss")
            yield MetricPlot("val metric", id="cmp-metric")
        yield DataTable(id="diff-table", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = f"{len(self.paths)} runs"
        table = self.query_one(DataTable)
        table.add_columns("setting", *(p.name for p in self.paths))
        diff = config_diff(self.paths)
        for key, values in diff:
            table.add_row(key, *values)
        if not diff:
            table.add_row("(identical settings)", *("" for _ in self.paths))
        self.refresh_curves()
        self.set_interval(1.0, self.refresh_curves)

    def refresh_curves(self) -> None:
        if not any([t.poll() for t in self.tails]) and self.query_one("#cmp-loss", MetricPlot).series:
            return
        metric = next((m for t in self.tails if (m := metric_name(t.records))), None)
        losses, metrics = {}, {}
        for path, tail in zip(self.paths, self.tails):
            split = "val" if tail.series("val", "loss")[0] else "train"
            losses[path.name[-24:]] = tail.series(split, "loss")
            if metric:
                metrics[path.name[-24:]] = tail.series(split, metric)
        for plot_id, title, data in (("cmp-loss", "loss", losses), ("cmp-metric", metric or "metric", metrics)):
            plot = self.query_one(f"#{plot_id}", MetricPlot)
            plot.title = title
            plot.set_series(data)
            plot.redraw()

    def action_toggle_smoothing(self) -> None:
        for plot in self.query(MetricPlot):
            plot.smoothing = not plot.smoothing
            plot.redraw()
