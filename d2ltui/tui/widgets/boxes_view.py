"""An image with boxes drawn in half-block pixels: the grey image scaled to fit, each box outlined in its colour."""

from __future__ import annotations

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from d2ltui.labs.figure import Boxes
from d2ltui.render.pictures import paint
from d2ltui.tui.widgets.heatmap import resample

BOX_COLOURS = ((250, 110, 40), (80, 200, 120), (90, 160, 250), (240, 220, 80), (220, 90, 220), (80, 220, 230))


def box_pixels(panel: Boxes, rows: list[int], cols: list[int]) -> dict[tuple[int, int], tuple[int, int, int]]:
    """The shown pixels (row, col) on each box's outline, with the box's colour (later boxes on top)."""
    out: dict[tuple[int, int], tuple[int, int, int]] = {}
    for i, box in enumerate(panel.boxes):
        x0, y0, x1, y1 = box["xyxy"]
        r_in = [r for r, src in enumerate(rows) if y0 <= src + 0.5 <= y1] or [min(range(len(rows)), key=lambda r: abs(rows[r] - y0))]
        c_in = [c for c, src in enumerate(cols) if x0 <= src + 0.5 <= x1] or [min(range(len(cols)), key=lambda c: abs(cols[c] - x0))]
        colour = BOX_COLOURS[i % len(BOX_COLOURS)]
        for r in (r_in[0], r_in[-1]):
            for c in range(c_in[0], c_in[-1] + 1):
                out[(r, c)] = colour
        for c in (c_in[0], c_in[-1]):
            for r in range(r_in[0], r_in[-1] + 1):
                out[(r, c)] = colour
    return out


class BoxesView(Widget):
    """Shows one Boxes panel: the image, the outlines, and a legend line of labels and scores."""

    DEFAULT_CSS = "BoxesView { height: 1fr; }"

    def __init__(self, panel: Boxes | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.panel = panel

    def show(self, panel: Boxes) -> None:
        self.panel = panel
        self.refresh()

    def render(self) -> Text:
        panel = self.panel
        if panel is None or not panel.image:
            return Text("computing...", style="dim")
        height, width = len(panel.image), len(panel.image[0])
        lines = max(self.size.height - 2, 1)
        # keep the aspect ratio: a character is one pixel wide and two pixels tall
        scale = min(self.size.width / width, 2 * lines / height, 1.0 if max(height, width) > 64 else 4.0)
        rows = resample(height, max(2, int(height * scale))) if scale < 1 else [int(r / scale) for r in range(int(height * scale))]
        cols = resample(width, max(1, int(width * scale))) if scale < 1 else [int(c / scale) for c in range(int(width * scale))]
        outline = box_pixels(panel, rows, cols)

        def colour(r: int, c: int) -> Color:
            if (r, c) in outline:
                return Color.from_rgb(*outline[(r, c)])
            grey = round(255 * max(0.0, min(1.0, panel.image[rows[r]][cols[c]])))
            return Color.from_rgb(grey, grey, grey)

        out = Text(no_wrap=True, overflow="crop")
        out.append(f"{panel.title}  ({width}x{height})\n"[: self.size.width + 1], style="bold")
        for line in paint(len(rows), len(cols), colour):
            out.append_text(line)
            out.append("\n")
        for i, box in enumerate(panel.boxes):
            score = box.get("score")
            out.append("■ ", style=Style(color=Color.from_rgb(*BOX_COLOURS[i % len(BOX_COLOURS)])))
            out.append(f"{box.get('label', '')}{'' if score is None else f' {score:.2f}'}  ")
        return out
