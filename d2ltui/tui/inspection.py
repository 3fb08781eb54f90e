"""The inspector's view of a layer summary: input parsing and an adapter over d2ltui.inspector.summary.

Runs in a worker thread: torch is imported here only when a summary is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Shape = tuple[int, ...]


@dataclass
class Row:
    """One table row, already formatted for display."""

    name: str
    type: str
    output: str
    params: str
    flops: str
    rf: str


@dataclass
class Inspection:
    """What the inspector shows: rows (up to a failure), totals, and an error explanation."""

    model: str
    input: str
    rows: list[Row] = field(default_factory=list)
    totals: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def parse_input(text: str) -> tuple[Shape, ...]:
    """'1x1x28x28' or '1x9,1x9' -> ((1, 1, 28, 28),) / ((1, 9), (1, 9)); ValueError with a reason."""
    shapes = []
    for part in text.replace(" ", "").split(","):
        dims = part.lower().split("x")
        if not part or not all(d.isdigit() and int(d) > 0 for d in dims):
            raise ValueError(f"input {text!r}: expected positive sizes like 1x1x28x28 (two inputs: 1x9,1x9)")
        shapes.append(tuple(int(d) for d in dims))
    return tuple(shapes)


def format_shape(shapes: tuple[Shape, ...] | Shape) -> str:
    if shapes and isinstance(shapes[0], tuple):
        return ",".join(format_shape(s) for s in shapes)
    return "x".join(str(d) for d in shapes)


def human(n: Any, unit: str = "") -> str:
    """1234567 -> '1.23M'; None -> '-'."""
    if n is None or n == "":
        return "-"
    if not isinstance(n, (int, float)):
        return str(n)
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.2f}{suffix}{unit}"
    return f"{n:,.0f}{unit}" if float(n).is_integer() else f"{n:.2f}{unit}"


def inspect_model(name: str, knobs: dict[str, Any], input_text: str, depth: int = 1) -> Inspection:
    """Summarise model `name` with `knobs` at `input_text`; never raises for a user mistake."""
    from d2ltui.errors import UserError
    from d2ltui.zoo.registry import get_spec, resolve_knobs

    result = Inspection(model=name, input=input_text)
    try:
        spec = get_spec(name)
        shapes = parse_input(input_text) if input_text.strip() else spec.default_input
        resolved = resolve_knobs(spec, knobs)
    except (UserError, ValueError) as err:
        result.error = str(err)
        return result
    from d2ltui.inspector import summary as summary_mod  # imports torch

    try:
        summary = summary_mod.summarize(spec, resolved, shapes, depth=depth)  # a Summary, even on failure
    except UserError as err:
        result.error = str(err)
        return result
    return adapt(summary, result)


def adapt(summary: Any, result: Inspection) -> Inspection:
    """Copy a Summary's rows, totals and failure into display strings."""
    for row in summary.layers:
        rf = row.receptive_field
        result.rows.append(Row(
            name="  " * max(0, row.depth - 1) + row.name,
            type=row.type,
            output=format_shape(tuple(row.output_shape)) if row.output_shape else "-",
            params=f"{row.params:,}",
            flops=human(row.flops),
            rf="x".join(map(str, rf)) if rf else "-",
        ))
    result.totals = {
        "params": f"{summary.total_params:,}",
        "trainable": f"{summary.trainable_params:,}",
        "FLOPs": human(summary.flops),
        "weights": human(summary.param_bytes, "B"),
        "activations": human(summary.activation_bytes, "B"),
    }
    for fmap in summary.feature_maps:  # a detector's scales, as rows after the layers
        result.rows.append(Row(name=f"anchors @ {fmap.scale}", type=f"{fmap.anchors_per_position} a position",
                               output=format_shape(fmap.shape) if fmap.shape else "-", params=f"{fmap.anchors:,}",
                               flops="-", rf="-"))
    if summary.anchors is not None:
        result.totals["anchors"] = f"{summary.anchors:,}"
    result.error = summary.failure.message() if summary.failure else None
    return result
