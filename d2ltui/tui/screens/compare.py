"""Several runs overlaid: validation loss and metric curves, and the settings in which they differ; `l` swaps
them for one layer statistic across the runs."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header

from d2ltui.rundir.index import headline
from d2ltui.tui.runlog import LayersTail, MetricsTail, config_diff
from d2ltui.tui.widgets.layer_compare import LayerCompareView
from d2ltui.tui.widgets.metric_plot import MetricPlot


class CompareScreen(Screen):
    BINDINGS = [Binding("m", "toggle_smoothing", "Smooth", tooltip="smoothing on / off"),
                Binding("l", "toggle_layers", "Layers", tooltip="one layer statistic across the runs"),
                Binding("h", "next_stat", "Next stat", show=False, tooltip="the layers view's next statistic"),
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
        yield LayerCompareView([p.name for p in self.paths], [LayersTail(p) for p in self.paths], id="cmp-layers")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = self.subtitle()
        self.fill_table(self.query_one("#diff-table", DataTable))
        self.refresh_curves()
        self.set_interval(1.0, self.refresh_curves)
        self.set_interval(1.0, self.refresh_layers)

    def subtitle(self) -> str:
        return f"{len(self.paths)} runs"

    def fill_table(self, table: DataTable) -> None:
        """The settings in which the runs differ, one column per run."""
        table.add_columns("setting", *(p.name for p in self.paths))
        diff = config_diff(self.paths)
        for key, values in diff:
            table.add_row(key, *values)
        if not diff:
            table.add_row("(identical settings)", *("" for _ in self.paths))

    def refresh_curves(self) -> None:
        if not any([t.poll() for t in self.tails]) and self.query_one("#cmp-loss", MetricPlot).series:
            return
        metric = self.metric()
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

    def metric(self) -> str | None:
        """The headline metric besides the loss that the runs' task reports (the first run that names one)."""
        return next((m for p, t in zip(self.paths, self.tails) if (m := headline(p, t.records)[0]) not in (None, "loss")),
                    None)

    def action_toggle_smoothing(self) -> None:
        for plot in self.query(MetricPlot):
            plot.smoothing = not plot.smoothing
            plot.redraw()

    def refresh_layers(self) -> None:
        view = self.query_one(LayerCompareView)
        if view.display:
            view.show()

    def action_toggle_layers(self) -> None:
        """Swap the curves and the settings table for the layers view, and back."""
        view = self.query_one(LayerCompareView)
        view.display = not view.display
        for widget in (self.query_one("#compare-plots"), self.query_one("#diff-table")):
            widget.display = not view.display
        if view.display:
            view.show(force=True)
            view.query_one(DataTable).focus()

    def action_next_stat(self) -> None:
        view = self.query_one(LayerCompareView)
        if not view.display:
            self.action_toggle_layers()
        view.cycle()
