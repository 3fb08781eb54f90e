"""Attention heatmaps from samples.json or a predict answer: queries x keys with token labels, one map at a time.

Maps step with `[` and `]` (sample, layer, head, in the order the engine wrote them). A ViT's
class-token maps are drawn over the image (each patch tinted by its weight); every other map
is a grid of coloured cells, with the numbers in them when they fit.
"""

from __future__ import annotations

import textwrap
from typing import Any

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

LOW, HIGH = (24, 24, 36), (250, 110, 40)  # dark to orange: the book's 'Reds' on a dark terminal
MASKED_BG = Color.from_rgb(55, 62, 80)


def shade(value: float, top: float) -> Color:
    t = 0.0 if top <= 0 else max(0.0, min(1.0, value / top))
    return Color.from_rgb(*(round(lo + (hi - lo) * t) for lo, hi in zip(LOW, HIGH)))


def pick(count: int, room: int) -> list[int]:
    """Indices of `count` items shown in `room` places (all when they fit, else evenly spread)."""
    if count <= room:
        return list(range(count))
    return [min(count - 1, int((i + 0.5) * count / room)) for i in range(max(room, 1))]


def grid_text(heat: dict[str, Any], width: int, height: int) -> Text:
    """A queries x keys map in width x height cells: labelled rows, a key header, masked cells on slate."""
    matrix, rows, cols = heat["matrix"], heat["rows"], heat["cols"]
    masked = {tuple(rc) for rc in heat.get("masked", [])}
    top = max((v for row in matrix for v in row), default=0.0)
    label_w = min(max([len(r) for r in rows] + [1]), 8)
    room = max(width - label_w - 1, 1)
    cell_w = max(1, min(6, room // max(len(cols), 1)))
    shown_cols = pick(len(cols), room // cell_w)
    numbers = cell_w >= 5
    half = len(rows) > height - 1
    shown_rows = pick(len(rows), 2 * (height - 1) if half else len(rows))
    out = Text(no_wrap=True, overflow="crop")
    out.append(" " * (label_w + 1) + "".join(cols[c][:cell_w - (cell_w > 1)].ljust(cell_w) for c in shown_cols) + "\n",
               style="dim")
    step = 2 if half else 1
    for i in range(0, len(shown_rows), step):
        r = shown_rows[i]
        out.append(f"{rows[r][:label_w]:>{label_w}} ", style="dim")
        for c in shown_cols:
            if half:
                lower = shown_rows[i + 1] if i + 1 < len(shown_rows) else r
                out.append("▀" * cell_w, Style(color=shade(matrix[r][c], top), bgcolor=shade(matrix[lower][c], top)))
            elif (r, c) in masked:
                out.append(("0" if numbers else "·").center(cell_w), Style(color="grey70", bgcolor=MASKED_BG))
            else:
                value = matrix[r][c]
                fg = "black" if top and value / top > 0.6 else "white"
                text = f"{value:.2f}".rjust(cell_w - 1) + " " if numbers else " " * cell_w
                out.append(text, Style(color=fg, bgcolor=shade(value, top)))
        out.append("\n")
    return out


def overlay_text(heat: dict[str, Any], grid: list[int], image: list[list[float]] | None, width: int) -> Text:
    """The class token's attention to each patch, tinted over the image (grey where it looks little)."""
    gh, gw = grid
    patches = heat["matrix"][0][1:]  # the first key is the class token itself
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
    for r in range(0, rows, 2):
        for c in range(cols):
            out.append("▀", Style(color=colour(r, c), bgcolor=colour(r + 1, c)))
        out.append("\n")
    out.append(f"cls→cls {heat['matrix'][0][0]:.2f}; brightest patch {max(patches, default=0):.2f}\n", style="dim")
    return out


class AttentionView(Widget):
    """Shows one of a list of heatmaps; `[`/`]` (the screen's keys) step through them."""

    DEFAULT_CSS = "AttentionView { height: auto; min-height: 3; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.maps: list[dict[str, Any]] = []
        self.grid: list[int] | None = None
        self.images: list[Any] = []
        self.index = 0
        self.heading = ""

    def show(self, attention: dict[str, Any] | list | None, images: list[Any] | None = None, heading: str = "") -> None:
        """`attention`: samples.json's {"maps": [...], "grid": [rows, cols]} (grid for a ViT), or a list of maps."""
        if isinstance(attention, list):
            attention = {"maps": attention}
        attention = attention or {}
        maps = attention.get("maps") or []
        if len(maps) != len(self.maps):
            self.index = 0
        self.maps, self.grid, self.images, self.heading = maps, attention.get("grid"), images or [], heading
        self.display = bool(maps)
        self.refresh(layout=True)

    def step(self, delta: int) -> None:
        if self.maps:
            self.index = (self.index + delta) % len(self.maps)
            self.refresh(layout=True)

    @property
    def current(self) -> dict[str, Any] | None:
        return self.maps[self.index] if self.maps else None

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self.render().plain.splitlines()) if self.maps else 1

    def render(self) -> Text:
        heat = self.current
        if heat is None:
            return Text("")
        width = max(self.size.width or 40, 16)
        title = f"{self.heading}{heat['title']}  [{self.index + 1}/{len(self.maps)}, [ ] step]"
        head = Text("".join(line + "\n" for line in textwrap.wrap(title, width)), style="bold",
                    no_wrap=True, overflow="crop")
        if self.grid and len(heat["rows"]) == 1:
            sample = heat.get("sample", 0)
            image = self.images[sample] if sample < len(self.images) else None
            return head + overlay_text(heat, self.grid, image, min(width, 40))
        return head + grid_text(heat, width, min(len(heat["rows"]) + 1, 24))
