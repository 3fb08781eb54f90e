"""A lab's output: a Figure of a few plain, JSON-able panel kinds (heatmap, curves, grid, boxes, table)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Union

Matrix = list[list[float]]


def _finite(value: Any) -> Any:
    """NaN and infinities become None, so that every figure is valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


@dataclass
class Heatmap:
    """A matrix of weights: rows (e.g. queries) by columns (e.g. keys); masked cells are listed as [row, col]."""

    title: str
    matrix: Matrix
    rows: list[str]
    cols: list[str]
    masked: list[list[int]] = field(default_factory=list)
    xlabel: str = ""
    ylabel: str = ""
    kind: str = "heatmap"


@dataclass
class Curves:
    """Named y series over one x axis, plus optional named scatter points and paths ({"x": [...], "y": [...]};
    a path's points are joined in their order, e.g. an optimizer's trajectory over the plane)."""

    title: str
    x: list[float]
    series: dict[str, list[float | None]]
    points: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    xlabel: str = ""
    ylabel: str = ""
    kind: str = "curves"
    paths: dict[str, dict[str, list[float]]] = field(default_factory=dict)


@dataclass
class Grid:
    """A few small labelled matrices of numbers (e.g. pooled outputs, attention outputs)."""

    title: str
    matrices: dict[str, Matrix]
    kind: str = "grid"


@dataclass
class Boxes:
    """A grey image (rows of 0..1 values) and boxes [x0, y0, x1, y1] in pixels, each with a label and score."""

    title: str
    image: Matrix
    boxes: list[dict[str, Any]]  # {"xyxy": [x0, y0, x1, y1], "label": str, "score": float | None}
    kind: str = "boxes"


@dataclass
class Table:
    """Columns and rows of plain values."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    kind: str = "table"


Panel = Union[Heatmap, Curves, Grid, Boxes, Table]
PANEL_KINDS: dict[str, type] = {cls.kind: cls for cls in (Heatmap, Curves, Grid, Boxes, Table)}  # type: ignore[attr-defined]


@dataclass
class Figure:
    """What a lab computes: a title, its panels in reading order, and notes (one line each)."""

    lab: str
    knobs: dict[str, Any]
    panels: list[Panel]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return _finite({"lab": self.lab, "knobs": _plain(self.knobs), "panels": [asdict(p) for p in self.panels],
                        "notes": list(self.notes)})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Figure:
        panels = [PANEL_KINDS[p["kind"]](**p) for p in data["panels"]]
        return cls(data["lab"], dict(data["knobs"]), panels, list(data.get("notes", [])))

    def panel(self, title: str) -> Panel:
        """The panel called `title` (KeyError when there is none)."""
        for p in self.panels:
            if p.title == title:
                return p
        raise KeyError(title)


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def rounded(matrix: Any, digits: int = 6) -> Matrix:
    """A nested sequence of numbers (a tensor's .tolist()) as plain floats rounded to `digits`."""
    if isinstance(matrix, (list, tuple)):
        return [rounded(v, digits) for v in matrix]  # type: ignore[return-value]
    return round(float(matrix), digits)  # type: ignore[return-value]
