"""The overlay's layers view: one layer statistic across runs, a table of the latest values and one layer's curves."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from d2ltui.format import format_stat
from d2ltui.rundir.layers import layer_table
from d2ltui.rundir.store import LAYER_STATS
from d2ltui.tui.runlog import LayersTail
from d2ltui.tui.widgets.layer_stats import HEADS
from d2ltui.tui.widgets.metric_plot import MetricPlot


class LayerCompareView(Vertical):
    """Runs' LayersTails side by side; `cycle` picks the statistic, the table's cursor row the layer of the plot."""

    def __init__(self, names: list[str], tails: list[LayersTail], **kwargs) -> None:
        super().__init__(**kwargs)
        self.names, self.tails = names, tails
        self.stat = "grad_norm"
        self.layer_names: list[str] = []
        self._shown: tuple = ()

    def compose(self) -> ComposeResult:
        yield Static("", id="cmp-layer-title")
        yield DataTable(id="cmp-layer-table", zebra_stripes=True, cursor_type="row")
        yield MetricPlot("layer", id="cmp-layer-plot")

    @property
    def chosen_layer(self) -> str | None:
        """The layer under the table's cursor (the first one before any move)."""
        row = self.query_one(DataTable).cursor_row
        return self.layer_names[row] if 0 <= row < len(self.layer_names) else None

    def cycle(self, step: int = 1) -> None:
        self.stat = LAYER_STATS[(LAYER_STATS.index(self.stat) + step) % len(LAYER_STATS)]
        self.show(force=True)

    def show(self, force: bool = False) -> None:
        """Redraw the table when a run recorded a new step or the statistic changed, then the plot."""
        for tail in self.tails:
            tail.poll()
        key = (tuple(len(t.steps) for t in self.tails), self.stat)
        if key == self._shown and not force:
            return
        self._shown = key
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        lt = layer_table(self.stat, [(name, tail.latest) for name, tail in zip(self.names, self.tails)])
        table.clear(columns=True)
        table.add_columns("layer", "type", *(f"{name} @{step}" if step is not None else name
                                              for name, step in zip(self.names, lt.steps)))
        self.layer_names = [name for name, _, _ in lt.rows]
        for name, kind, values in lt.rows:
            table.add_row(name, kind, *(format_stat(v) for v in values))
        if self.layer_names:
            table.move_cursor(row=min(max(cursor, 0), len(self.layer_names) - 1))
        title = Text.assemble(("layers ", "bold"), (HEADS[self.stat], "bold"),
                              "  latest value per layer and run (h: next statistic, up/down: the plotted layer)")
        if not any(t.steps for t in self.tails):
            title = Text("no layer statistics in these runs (train.layer_stats_every = 0 turns them off)", "dim")
        self.query_one("#cmp-layer-title", Static).update(title)
        self.plot()

    def plot(self) -> None:
        """The chosen statistic of the cursor's layer over steps, one curve per run."""
        layer, plot = self.chosen_layer, self.query_one(MetricPlot)
        series = {}
        for name, tail in zip(self.names, self.tails):
            points = sorted(tail.values.get((layer, self.stat), {}).items()) if layer is not None else []
            series[name[-24:]] = ([float(s) for s, _ in points], [v for _, v in points])
        plot.title = f"{HEADS[self.stat]} of {layer}" if layer is not None else HEADS[self.stat]
        plot.set_series(series)
        plot.redraw()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.plot()
