"""The one heatmap renderer: coloured cells (numbers when they fit, blocks or half-blocks when not), or over an image."""

from __future__ import annotations

import textwrap
from dataclasses import fields
from typing import Any

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from d2ltui.labs.figure import Heatmap
from d2ltui.labs.text import MASKED
from d2ltui.render.pictures import paint

LOW, HIGH = (24, 24, 36), (250, 110, 40)  # from dark to orange, as the book's 'Reds' reads on a dark terminal
MASKED_BG = Color.from_rgb(55, 62, 80)
MASKED_STYLE = Style(color="grey70", bgcolor=MASKED_BG)
MAX_CELL = 7  # widest cell: "0.123" and a space, with room to spare
LABEL_W = 10  # row labels are cut to this
_FIELDS = {f.name for f in fields(Heatmap)}


def shade(value: float | None, top: float) -> Color:
    t = 0.0 if not value or top <= 0 else max(0.0, min(1.0, value / top))
    return Color.from_rgb(*(round(lo + (hi - lo) * t) for lo, hi in zip(LOW, HIGH)))


def resample(count: int, room: int) -> list[int]:
    """Indices of `count` items shown in `room` places (all of them when they fit, else nearest ones)."""
    if count <= room:
        return list(range(count))
    return [min(count - 1, int((i + 0.5) * count / room)) for i in range(max(room, 1))]


def as_panel(heat: Heatmap | dict[str, Any]) -> Heatmap:
    """A lab's Heatmap, or samples.json's map (a dict with its fields, plus where it comes from)."""
    return heat if isinstance(heat, Heatmap) else Heatmap(**{k: v for k, v in heat.items() if k in _FIELDS})


def top_of(panel: Heatmap) -> float:
    return max((v for row in panel.matrix for v in row if v is not None), default=0.0)


def grid_text(panel: Heatmap, width: int, height: int) -> Text:
    """The map in `width` x `height` cells: a key header when the labels fit, one line a query
    (two a line as half-blocks when there are more queries than lines), and an axis line.
    Masked cells are 0 on slate; numbers are shown when every cell is wide enough."""
    n_rows, n_cols = len(panel.matrix), len(panel.cols)
    label_w = min(max([len(r) for r in panel.rows] + [1]), LABEL_W)
    room = max(width - label_w - 1, 1)
    cell_w = max(1, min(MAX_CELL, room // max(n_cols, 1)))
    cols = resample(n_cols, room // cell_w)
    header = cell_w >= 3
    lines = max(height - 1 - header, 1)  # the axis line, the header
    half = n_rows > lines
    rows = resample(n_rows, 2 * lines if half else n_rows)
    numbers = cell_w >= 5 and not half
    digits = min(3, cell_w - 3)
    masked = {tuple(rc) for rc in panel.masked}
    top = top_of(panel)

    def colour(r: int, c: int) -> Color:
        return MASKED_BG if (r, c) in masked else shade(panel.matrix[r][c], top)

    out = Text(no_wrap=True, overflow="crop")
    if header:
        out.append(" " * (label_w + 1) + "".join(panel.cols[c][:cell_w - 1].rjust(cell_w - 1) + " " for c in cols) + "\n",
                   style="dim")
    pairs = [(rows[i], rows[i + 1] if i + 1 < len(rows) else rows[i]) for i in range(0, len(rows), 2)] if half \
        else [(r, None) for r in rows]
    for upper, lower in pairs:
        out.append(f"{panel.rows[upper][:label_w]:>{label_w}} ", style="dim")
        for c in cols:
            if lower is not None:  # two matrix rows in one line: the upper half is the foreground
                out.append("▀" * cell_w, Style(color=colour(upper, c), bgcolor=colour(lower, c)))
            elif (upper, c) in masked:
                out.append((MASKED if numbers else "0").center(cell_w) if cell_w > 1 else "0", MASKED_STYLE)
            else:
                value = panel.matrix[upper][c]
                fg = "black" if value and top and value / top > 0.6 else "white"
                text = ("-" if value is None else f"{value:.{digits}f}").rjust(cell_w - 1) + " " if numbers \
                    else " " * cell_w
                out.append(text, Style(color=fg, bgcolor=shade(value, top)))
        out.append("\n")
    axis = f"{panel.xlabel or 'columns'}: {panel.cols[0]} .. {panel.cols[-1]}, max {top:.3g}" if n_cols else ""
    if masked and len(axis) + 20 <= room:
        axis += f"  {MASKED} on slate: masked"
    out.append(f"{'':>{label_w}} {axis[:room]}", style="dim")
    return out


def overlay_text(panel: Heatmap, grid: list[int], image: list[list[float]] | None, width: int) -> Text:
    """A class token's attention to each patch (its first key is itself), tinted over the image."""
    gh, gw = grid
    patches = [v or 0.0 for v in panel.matrix[0][1:]]
    top = max(patches, default=0.0) or 1.0
    image = image or [[0.5] * gw for _ in range(gh)]
    h, w = len(image), len(image[0])
    cols = max(2, min(width, 2 * w))
    rows = max(2, cols * h // w)
    rows += rows % 2

    def colour(r: int, c: int) -> Color:
        y, x = min(h - 1, r * h // rows), min(w - 1, c * w // cols)
        weight = patches[min(gh - 1, y * gh // h) * gw + min(gw - 1, x * gw // w)] / top
        grey = image[y][x] * 0.6
        tint = [grey + (hi / 255 - grey) * weight for hi in HIGH]
        return Color.from_rgb(*(round(255 * max(0.0, min(1.0, t))) for t in tint))

    out = Text(no_wrap=True, overflow="crop")
    for line in paint(rows, cols, colour):
        out.append_text(line)
        out.append("\n")
    out.append(f"cls→cls {panel.matrix[0][0] or 0:.2f}; brightest patch {max(patches, default=0):.2f}", style="dim")
    return out


class HeatmapView(Widget):
    """Shows one Heatmap under its title: a grid of cells, or, given a patch grid, tinted over an image."""

    DEFAULT_CSS = "HeatmapView { height: 1fr; }"

    def __init__(self, panel: Heatmap | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.panel = panel
        self.grid: list[int] | None = None  # a ViT's patch rows and columns
        self.image: list[list[float]] | None = None

    def show(self, panel: Heatmap) -> None:
        self.panel = panel
        self.refresh()

    def title(self) -> str:
        return self.panel.title if self.panel else ""

    def body_height(self) -> int:
        """Lines for the map below the title."""
        return max(self.size.height - 1, 2)

    def render(self) -> Text:
        panel = self.panel
        if panel is None or not panel.matrix:
            return Text("computing...", style="dim")
        width = max(self.size.width or 40, 16)
        head = Text("".join(line + "\n" for line in textwrap.wrap(self.title(), width)), style="bold",
                    no_wrap=True, overflow="crop")
        if self.grid and len(panel.rows) == 1:
            return head + overlay_text(panel, self.grid, self.image, min(width, 40))
        return head + grid_text(panel, width, self.body_height())
