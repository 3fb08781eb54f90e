"""Images as half-block text ('▀' cells, two pixel rows a line), alone, side by side, or as augmentation grids."""

from __future__ import annotations

from typing import Any, Callable

from rich.color import Color
from rich.style import Style
from rich.text import Text


def hex_colour(cell: Any) -> str:
    """A samples cell (grey in [0, 1], '#rrggbb' or [r, g, b] in 0..255) as '#rrggbb'."""
    return "#{:02x}{:02x}{:02x}".format(*rgb(cell))


def rgb(cell: Any) -> tuple[int, int, int]:
    if isinstance(cell, str):  # '#rrggbb'
        return int(cell[1:3], 16), int(cell[3:5], 16), int(cell[5:7], 16)
    if isinstance(cell, (list, tuple)):  # [r, g, b] in 0..255
        r, g, b = (max(0, min(255, int(v))) for v in cell)
        return r, g, b
    level = max(0, min(255, int(cell * 255)))  # grey in [0, 1]
    return level, level, level


BLACK = Color.from_rgb(0, 0, 0)


def paint(rows: int, cols: int, colour: Callable[[int, int], Any]) -> list[Text]:
    """Lines of '▀' cells, two pixel rows a line: cell c of line i is pixel (2i, c) over pixel (2i + 1, c), each
    coloured by `colour(r, c)` (a '#rrggbb' or a rich Color); black below an odd last row."""
    lines = []
    for r in range(0, rows, 2):
        line = Text()
        for c in range(cols):
            line.append("▀", Style(color=colour(r, c), bgcolor=colour(r + 1, c) if r + 1 < rows else BLACK))
        lines.append(line)
    return lines


def half_blocks(image: list[list[float]] | list[list[str]], width: int) -> list[Text]:
    """An image (rows of grey values in [0, 1] or of '#rrggbb' colours) as lines of '▀' cells, two pixel
    rows per line."""
    h, w = len(image), len(image[0]) if image else 0
    if not h or not w:
        return []
    cols, rows = min(width, w), max(1, min(width, w) * h // w)
    rows += rows % 2
    return paint(rows, cols, lambda r, c: hex_colour(image[min(h - 1, r * h // rows)][c * w // cols]))


def side_by_side(images: list, cell: int) -> Text:
    """Images as half-block pictures `cell` columns wide, in one row, a space between them."""
    blocks = [half_blocks(image, cell) for image in images]
    out = Text()
    for line in range(max((len(b) for b in blocks), default=0)):
        for block in blocks:
            out.append_text(block[line] if line < len(block) else Text(" " * cell))
            out.append(" ")
        out.append("\n")
    return out


def render_preview(preview, width: int = 100, cell: int = 16) -> Text:
    """The preview as half-block text: the original, then per transform its name and a 2x4 grid."""
    from d2ltui.data.preview import PREVIEW_COLS

    out = Text(f"{preview.dataset}: {preview.label}\n", style="bold")
    out.append("original\n")
    out.append_text(side_by_side([preview.original], cell))
    for name, images in preview.grids.items():
        out.append(f"{name}\n", style="bold")
        for start in range(0, len(images), PREVIEW_COLS):
            out.append_text(side_by_side(images[start:start + PREVIEW_COLS], cell))
    return out
