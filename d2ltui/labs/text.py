"""A Figure as terminal text: heatmaps as numbers or shaded cells, curves via plotext, grids and tables."""

from __future__ import annotations

from typing import Any

from d2ltui.labs.figure import Boxes, Curves, Figure, Grid, Heatmap, Table

SHADES = " ░▒▓█"
MASKED = "·0"  # how a masked cell is printed: its weight is exactly zero


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "0" if value == 0 else f"{value:.{digits}f}"
    return str(value)


def _aligned(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    fmt = lambda cells: "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [fmt(header)] + [fmt(r) for r in rows]


def heatmap_lines(panel: Heatmap, width: int = 100) -> list[str]:
    """Numbers when every column fits (masked cells as ·0), else one shaded character a cell."""
    masked = {tuple(rc) for rc in panel.masked}
    label_w = max(len(r) for r in panel.rows)
    if label_w + 2 + 8 * len(panel.cols) <= width:
        rows = [[label] + [MASKED if (i, j) in masked else _num(v) for j, v in enumerate(row)]
                for i, (label, row) in enumerate(zip(panel.rows, panel.matrix))]
        lines = _aligned([panel.ylabel if len(panel.ylabel) <= label_w else ""] + panel.cols, rows)
        return lines + ([f"{MASKED} masked (weight exactly 0)"] if masked else [])
    top = max((v for row in panel.matrix for v in row if v is not None), default=0.0) or 1.0
    lines = [f"{'':>{label_w}}  {panel.xlabel} ({len(panel.cols)} columns, {panel.cols[0]} .. {panel.cols[-1]})"]
    for i, (label, row) in enumerate(zip(panel.rows, panel.matrix)):
        cells = "".join("×" if (i, j) in masked else SHADES[min(4, round(4 * (v or 0.0) / top))]
                        for j, v in enumerate(row))
        lines.append(f"{label:>{label_w}}  {cells}")
    lines.append(f"shades '{SHADES}' from 0 to {top:.3g}" + ("; × masked" if masked else ""))
    return lines


def curves_lines(panel: Curves, width: int = 100, color: bool = False) -> list[str]:
    """A plotext line chart of the series with the scatter points."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, 22)
    if not color:
        plt.theme("clear")
    for name, ys in panel.series.items():
        xs = [x for x, y in zip(panel.x, ys) if y is not None]
        plt.plot(xs, [y for y in ys if y is not None], label=name, marker="braille")
    for name, pts in panel.points.items():
        plt.scatter(pts["x"], pts["y"], label=name, marker="dot")
    for name, path in panel.paths.items():
        plt.plot(path["x"], path["y"], label=name, marker="braille")
    plt.xlabel(panel.xlabel)
    plt.ylabel(panel.ylabel)
    text = plt.build() if color else plt.uncolorize(plt.build())
    plt.clear_figure()
    return text.splitlines()


def grid_lines(panel: Grid) -> list[str]:
    lines: list[str] = []
    for label, matrix in panel.matrices.items():
        lines.append(f"{label}:")
        lines += ["  " + line for line in _aligned([""] * len(matrix[0]), [[_num(v) for v in row] for row in matrix])[1:]]
    return lines


def table_lines(panel: Table) -> list[str]:
    return _aligned(panel.columns, [[_num(v) for v in row] for row in panel.rows])


def boxes_lines(panel: Boxes) -> list[str]:
    height, width = len(panel.image), len(panel.image[0]) if panel.image else 0
    rows = [[b.get("label", ""), *(_num(float(v), 1) for v in b["xyxy"]), _num(b.get("score"), 3)] for b in panel.boxes]
    return [f"image {width}x{height}"] + _aligned(["label", "x0", "y0", "x1", "y1", "score"], rows)


def figure_lines(figure: Figure, width: int = 100, color: bool = False) -> list[str]:
    """Every panel under its title, then the notes."""
    lines: list[str] = []
    for panel in figure.panels:
        lines += [f"== {panel.title} =="]
        if isinstance(panel, Heatmap):
            lines += heatmap_lines(panel, width)
        elif isinstance(panel, Curves):
            lines += curves_lines(panel, width, color)
        elif isinstance(panel, Grid):
            lines += grid_lines(panel)
        elif isinstance(panel, Table):
            lines += table_lines(panel)
        elif isinstance(panel, Boxes):
            lines += boxes_lines(panel)
        lines.append("")
    return lines + figure.notes
