"""The dashboard's layers view: a table of each layer's latest statistics and a heatmap of one, layer vs time."""

from __future__ import annotations

import math

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from d2ltui.format import format_stat
from d2ltui.rundir.store import LAYER_STATS
from d2ltui.tui.runlog import LayersTail

HEADS = {"act_mean": "act mean", "act_std": "act std", "saturated": "saturated", "dead": "dead",
         "grad_norm": "grad norm", "weight_norm": "weight norm", "update_ratio": "update/weight"}
LOG_SCALED = ("grad_norm", "weight_norm", "update_ratio")  # spread over decades: coloured by log10
RAMP = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))  # viridis stops


def ramp(t: float) -> Color:
    """A colour of the viridis ramp for t in [0, 1]."""
    t = min(max(t, 0.0), 1.0) * (len(RAMP) - 1)
    i = min(int(t), len(RAMP) - 2)
    f = t - i
    return Color.from_rgb(*(a + (b - a) * f for a, b in zip(RAMP[i], RAMP[i + 1])))


def heatmap_text(tail: LayersTail, stat: str, width: int) -> Text:
    """Rows of coloured cells, one per layer; columns spread over the whole history to fit `width`."""
    if not tail.steps:
        return Text("no layer statistics yet (train.layer_stats_every = 0 turns them off)", "dim")
    label_w = min(max(len(name) for name in tail.layers), 14)
    cols = max(1, width - label_w - 1)
    steps = tail.steps
    picks = list(range(len(steps))) if len(steps) <= cols else [round(i * (len(steps) - 1) / (cols - 1))
                                                                 for i in range(cols)]
    grid = tail.grid(stat)
    scale = (lambda v: math.log10(v) if v > 0 else None) if stat in LOG_SCALED else (lambda v: v)
    seen = [s for row in grid for v in row if v is not None and (s := scale(v)) is not None]
    lo, hi = (min(seen), max(seen)) if seen else (0.0, 1.0)
    out = Text()
    for name, row in zip(tail.layers, grid):
        out.append(name[:label_w].ljust(label_w) + " ")
        for i in picks:
            v = row[i]
            s = scale(v) if v is not None else None
            if s is None:
                out.append(" ")
            else:
                out.append("█", Style(color=ramp((s - lo) / (hi - lo) if hi > lo else 0.5)))
        out.append("\n")
    unit = "log10 " if stat in LOG_SCALED else ""
    out.append(f"{HEADS[stat]}: steps {steps[picks[0]]}..{steps[picks[-1]]}, {unit}range ", "dim")
    out.append(f"{lo:.3g}", Style(color=ramp(0.0))).append(" .. ", "dim").append(f"{hi:.3g}", Style(color=ramp(1.0)))
    return out


class LayerStatsView(Vertical):
    """Shows a LayersTail; `cycle` picks the heatmap's statistic."""

    def __init__(self, tail: LayersTail, **kwargs) -> None:
        super().__init__(**kwargs)
        self.tail = tail
        self.stat = "grad_norm"
        self._shown: tuple = ()

    def compose(self) -> ComposeResult:
        yield DataTable(id="layer-stats-table", zebra_stripes=True, cursor_type="row")
        yield Static("", id="layer-heatmap-title")
        yield Static("", id="layer-heatmap")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("layer", "type", "activation", *(HEADS[s] for s in LAYER_STATS))

    def cycle(self, step: int = 1) -> None:
        self.stat = LAYER_STATS[(LAYER_STATS.index(self.stat) + step) % len(LAYER_STATS)]
        self.show(force=True)

    def show(self, force: bool = False) -> None:
        """Redraw when the tail has new steps (or the statistic or size changed)."""
        key = (len(self.tail.steps), self.stat, self.size.width)
        if key == self._shown and not force:
            return
        self._shown = key
        table = self.query_one(DataTable)
        table.clear()
        for layer, rec in self.tail.latest.items():
            table.add_row(layer, rec.get("type", "?"), rec.get("act", "?"), *(format_stat(rec.get(s)) for s in LAYER_STATS))
        step = self.tail.steps[-1] if self.tail.steps else "-"
        title = Text.assemble(("heatmap ", "bold"), (HEADS[self.stat], "bold"),
                              f"  layer x time, latest step {step}  (h: next statistic)")
        self.query_one("#layer-heatmap-title", Static).update(title)
        self.query_one("#layer-heatmap", Static).update(heatmap_text(self.tail, self.stat, self.size.width or 80))
