"""A heatmap drawn with coloured cells: numbers when they fit, blocks or half-block pixels when not."""

from __future__ import annotations

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from d2ltui.labs.figure import Heatmap

LOW, HIGH = (24, 24, 36), (250, 110, 40)  # from dark to orange, as the book's 'Reds' reads on a dark terminal
MASKED_BG = Color.from_rgb(55, 62, 80)


def shade(value: float | None, top: float) -> Color:
    t = 0.0 if not value or top <= 0 else max(0.0, min(1.0, value / top))
    return Color.from_rgb(*(round(lo + (hi - lo) * t) for lo, hi in zip(LOW, HIGH)))


def resample(count: int, room: int) -> list[int]:
    """Indices of `count` items shown in `room` places (all of them when they fit, else nearest ones)."""
    if count <= room:
        return list(range(count))
    return [min(count - 1, int((i + 0.5) * count / room)) for i in range(room)]


class HeatmapView(Widget):
    """Shows one Heatmap panel; masked cells are drawn as 0 on slate (their weight is exactly 0)."""

    DEFAULT_CSS = "HeatmapView { height: 1fr; }"

    def __init__(self, panel: Heatmap | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.panel = panel

    def show(self, panel: Heatmap) -> None:
        self.panel = panel
        self.refresh()

    def render(self) -> Text:
        panel = self.panel
        if panel is None or not panel.matrix:
            return Text("computing...", style="dim")
        width, height = self.size.width, max(self.size.height - 2, 1)  # a title line and an axis line
        label_w = min(max(len(r) for r in panel.rows), 10)
        room = max(width - label_w - 1, 1)
        n_rows, n_cols = len(panel.matrix), len(panel.cols)
        cell_w = max(1, min(7, room // n_cols))
        cols = resample(n_cols, room // cell_w if n_cols * cell_w > room else n_cols)
        half = n_rows > height
        rows = resample(n_rows, 2 * height if half else n_rows)
        masked = {tuple(rc) for rc in panel.masked}
        top = max((v for row in panel.matrix for v in row if v is not None), default=0.0)
        out = Text(no_wrap=True, overflow="crop")
        out.append(f"{panel.title}  (max {top:.3g})"[:width] + "\n", style="bold")
        numbers = cell_w >= 6 and not half
        pairs = [(rows[i], rows[i + 1] if i + 1 < len(rows) else None) for i in range(0, len(rows), 2)] if half \
            else [(r, None) for r in rows]
        for upper, lower in pairs:
            out.append(f"{panel.rows[upper][:label_w]:>{label_w}} ", style="dim")
            for c in cols:
                out.append_text(self._cell(panel, upper, lower, c, cell_w, numbers, masked, top))
            out.append("\n")
        axis = f"{panel.xlabel}: {panel.cols[0]} .. {panel.cols[-1]}"
        if masked and len(axis) + 20 <= room:
            axis += "  0 on slate: masked"
        out.append(f"{'':>{label_w}} {axis[:room]}", style="dim")
        return out

    @staticmethod
    def _cell(panel: Heatmap, upper: int, lower: int | None, col: int, cell_w: int, numbers: bool,
              masked: set, top: float) -> Text:
        value = panel.matrix[upper][col]
        if lower is not None:  # two matrix rows in one line: the upper half is the foreground
            style = Style(color=shade(value, top), bgcolor=shade(panel.matrix[lower][col], top))
            return Text("▀" * cell_w, style=style)
        if (upper, col) in masked:
            return Text(("·0" if numbers else "0").center(cell_w), style=Style(color="grey70", bgcolor=MASKED_BG))
        bg = shade(value, top)
        fg = "black" if value and top and value / top > 0.6 else "white"
        text = f"{value:.3f}".rjust(cell_w - 1) + " " if numbers else " " * cell_w
        return Text(text, style=Style(color=fg, bgcolor=bg))
