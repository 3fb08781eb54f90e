"""Detections drawn in the terminal: colour half-block images with the true box and scored predicted boxes."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from d2ltui.render.pictures import paint

THRESHOLDS = (0.9, 0.7, 0.5, 0.3, 0.1)  # what the dashboard's key cycles through
TRUTH = (60, 220, 60)  # the true box, green
BOXES = ((255, 255, 255), (255, 80, 80), (80, 160, 255), (255, 170, 0), (220, 90, 255))  # by rank
Pixel = tuple[int, int, int]


def next_threshold(current: float) -> float:
    """The next score threshold of THRESHOLDS (wrapping), from whichever is nearest `current`."""
    nearest = min(range(len(THRESHOLDS)), key=lambda i: abs(THRESHOLDS[i] - current))
    return THRESHOLDS[(nearest + 1) % len(THRESHOLDS)]


def pixels(image: list[list[list[float]]], cols: int, rows: int) -> list[list[Pixel]]:
    """A (C, H, W) image of values in [0, 1] sampled to rows x cols RGB pixels (grey repeats)."""
    channels = image if len(image) == 3 else [image[0]] * 3
    h, w = len(channels[0]), len(channels[0][0])
    return [[tuple(max(0, min(255, int(channels[k][r * h // rows][c * w // cols] * 255))) for k in range(3))
             for c in range(cols)] for r in range(rows)]


def outline(grid: list[list[Pixel]], box: list[float], colour: Pixel) -> None:
    """Draw a box (corners as fractions of the image) as a one-pixel outline, clipped to the grid."""
    rows, cols = len(grid), len(grid[0])
    x0, x1 = (max(0, min(cols - 1, int(v * cols))) for v in (box[0], box[2] - 1e-6))
    y0, y1 = (max(0, min(rows - 1, int(v * rows))) for v in (box[1], box[3] - 1e-6))
    for c in range(x0, x1 + 1):
        grid[y0][c] = grid[y1][c] = colour
    for r in range(y0, y1 + 1):
        grid[r][x0] = grid[r][x1] = colour


def half_block_lines(grid: list[list[Pixel]]) -> list[Text]:
    """Two pixel rows a line: '▀' in the top pixel's colour over the bottom pixel's (an odd last row left out)."""
    return paint(len(grid) // 2 * 2, len(grid[0]) if grid else 0, lambda r, c: "#%02x%02x%02x" % grid[r][c])


def draw(item: dict[str, Any], cell: int, threshold: float) -> tuple[list[Text], list[tuple[str, Pixel]]]:
    """One image's lines and its captions (text, colour): boxes scoring at least `threshold`."""
    image = item.get("image") or [[[0.0]]]
    h, w = len(image[0]), len(image[0][0])
    rows = max(2, cell * h // max(w, 1))
    rows += rows % 2
    grid = pixels(image, cell, rows)
    for truth in item.get("truth", []):
        outline(grid, truth[1:5], TRUTH)
    shown = [d for d in item.get("detections", []) if d.get("score", 0) >= threshold]
    captions = []
    for rank, det in enumerate(shown):
        colour = BOXES[rank % len(BOXES)]
        outline(grid, det["box"], colour)
        captions.append((f"{det.get('label', '?')} {det['score']:.2f}", colour))
    return half_block_lines(grid), captions or [("no box", (150, 150, 150))]


def render_detections(samples: dict[str, Any], width: int, threshold: float, cell: int = 20) -> Text:
    """Images side by side as the panel's width allows, each with its boxes and their scores below."""
    items = samples.get("items", [])
    cell = max(8, min(cell, width))
    per_row = max(1, width // (cell + 1))
    out = Text()
    out.append(f"detections scoring ≥ {threshold:.2f} (t: change), true box in green\n", style="dim")
    for start in range(0, len(items), per_row):
        drawn = [draw(item, cell, threshold) for item in items[start:start + per_row]]
        for line in range(max(len(lines) for lines, _ in drawn)):
            for lines, _ in drawn:
                out.append_text(lines[line] if line < len(lines) else Text(" " * cell))
                out.append(" ")
            out.append("\n")
        for line in range(max(len(captions) for _, captions in drawn)):
            for _, captions in drawn:
                text, colour = captions[line] if line < len(captions) else ("", (0, 0, 0))
                out.append(text[:cell].ljust(cell) + " ", style="#%02x%02x%02x" % colour)
            out.append("\n")
    return out
