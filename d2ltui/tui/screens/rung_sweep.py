"""A rung sweep (successive halving, ASHA): the book's rung plot, every trial's state, and the best one to train again."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from d2ltui.format import format_number
from d2ltui.tui.widgets.metric_plot import MetricPlot


class RungSweepScreen(Screen):
    """Metric against epochs, one line per trial (the stopped ones end at their rung); the trials' table below."""

    BINDINGS = [Binding("t", "train_best", "Train best", tooltip="train the best trial's setting again, to r_max"),
                Binding("escape", "app.pop_screen", "Back", tooltip="back")]
    REFRESH_S = 2.0

    def __init__(self, sweep: Path) -> None:
        super().__init__()
        self.sweep = sweep
        self.best = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield MetricPlot("rungs", id="rung-plot")
        yield Static("", id="rung-best")
        yield DataTable(id="rung-table", zebra_stripes=True, cursor_type="row")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        from d2ltui.rundir.sweeps import read_sweep

        record = read_sweep(self.sweep)
        spec = record["scheduler"]
        self.keys = list(record.get("space") or record.get("grid") or {})
        self.sub_title = (f"sweep {self.sweep.name}: {spec['name']}, rungs {', '.join(map(str, spec['rungs']))} "
                          f"epochs, eta {spec['eta']}")
        self.refresh_view()
        self.set_interval(self.REFRESH_S, self.refresh_view)

    def refresh_view(self) -> None:
        from d2ltui.engine.orchestration.rungs import best_trial, trials

        rows = trials(self.sweep)
        self.best = best_trial(rows)
        metric = next((t.metric for t in rows if t.metric), None) or "metric"
        plot = self.query_one("#rung-plot", MetricPlot)
        plot.title = f"val {metric} against epochs"
        plot.set_series({t.id[:20]: ([float(e) for e in sorted(t.curve)], [t.curve[e] for e in sorted(t.curve)])
                         for t in rows})
        plot.redraw()
        table = self.query_one("#rung-table", DataTable)
        if not table.columns:
            table.add_columns("trial", *(k.rpartition(".")[2] for k in self.keys), "state", "epochs", metric)
        table.clear()
        for t in rows:
            table.add_row(t.id, *(str(t.setting.get(k)) for k in self.keys), t.state, str(t.rung or "-"),
                          format_number(t.value) if t.value is not None else "-")
        best = self.best
        self.query_one("#rung-best", Static).update(
            f"best: {best.id}  {', '.join(f'{k}={v}' for k, v in best.setting.items())}  "
            f"{metric} {format_number(best.value)} at {best.rung} epochs  (t: train it again)"
            if best else "best: none yet")

    def action_train_best(self) -> None:
        """Start a fresh run of the best trial's setting from the sweep's base config (r_max epochs)."""
        from d2ltui.engine.orchestration.sweep import setting_overrides
        from d2ltui.rundir.sweeps import BASE, read_sweep

        if self.best is None:
            self.notify("no trial has a result yet", severity="warning")
            return
        record = read_sweep(self.sweep)
        self.app.start_run(record["model"], setting_overrides(self.best.setting),
                           base_toml=(self.sweep / BASE).read_text())
