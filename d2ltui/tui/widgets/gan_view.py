"""GAN samples drawn in the terminal: real against generated points (a plotext scatter) and a grid of
generated colour images (half-blocks, two pixels a cell)."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from d2ltui.render.pictures import side_by_side


def scatter(samples: dict[str, Any], width: int, height: int = 18) -> Text:
    """The book's figure: the real points and the generated ones, in two colours."""
    from textual_plotext.plot import Plot  # a figure of its own, as the plot widgets use (no global state)

    p = Plot()
    p.plot_size(max(20, width), height)
    p.theme("clear")
    for key, colour in (("real", "blue"), ("generated", "orange")):
        points = samples.get(key) or []
        if points:
            p.scatter([x for x, _ in points], [y for _, y in points], label=key, color=colour, marker="•")
    return Text.from_ansi(p.build())


def colour_grid(items: list[dict[str, Any]], width: int, columns: int = 7, side: int = 12) -> Text:
    """Generated images in rows of `columns` (fewer when the panel is narrow), one space between them."""
    per_row = max(1, min(columns, (width + 1) // (side + 1)))
    out = Text()
    for start in range(0, len(items), per_row):
        out.append_text(side_by_side([item.get("rgb") or [[[0, 0, 0]]] for item in items[start:start + per_row]], side))
    return out
