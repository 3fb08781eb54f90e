"""Sample images as real pixels (textual-image widgets) under the samples panel, where the terminal can."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.containers import Container, Vertical
from textual.widgets import Static

from d2ltui.tui import pixels

CELLS = {"images": 14, "gan-images": 12}  # each image's width in cells, as the half-block grids draw them


def label(item: dict[str, Any], cell: int) -> Text:
    """A prediction's 'predicted/true' under its image: green when right, red when wrong."""
    ok = item.get("predicted") == item.get("true")
    return Text(f"{item.get('predicted')}/{item.get('true')}"[:cell].ljust(cell), "green" if ok else "bold red")


class PixelGrid(Container):
    """Prediction grids and generated images drawn with textual-image; hidden for every other kind."""

    DEFAULT_CSS = """
    PixelGrid { layout: grid; grid-size: 4; grid-gutter: 0 1; height: auto; display: none; }
    PixelGrid > Vertical { height: auto; width: auto; }
    PixelGrid Static { width: auto; }
    """

    _shown: tuple[int, int] | None = None

    def show(self, samples: dict[str, Any] | None, width: int) -> bool:
        """Draw `samples` if they are images (True), else hide (False)."""
        kind = (samples or {}).get("kind")
        if pixels.mode() != pixels.PIXELS or kind not in CELLS:
            self.display = False
            return False
        cell, items = CELLS[kind], samples.get("items", [])
        per_row = max(1, width // (cell + 1))
        if kind == "gan-images":
            per_row = min(per_row, samples.get("columns", 7))
        key = (id(samples), per_row)
        if key != self._shown:
            self._shown = key
            self.styles.grid_size_columns = per_row
            self.remove_children()
            self.mount_all([self.cell(item, kind, cell) for item in items])
        self.display = True
        return True

    @staticmethod
    def cell(item: dict[str, Any], kind: str, cell: int) -> Vertical:
        """One image (and its prediction label for a prediction grid)."""
        if kind == "gan-images":
            return Vertical(pixels.image_widget(item.get("rgb") or [[[0, 0, 0]]], cell))
        return Vertical(pixels.image_widget(item.get("image") or [[0.0]], cell), Static(label(item, cell)))
