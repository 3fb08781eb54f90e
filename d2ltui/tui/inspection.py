"""The inspector's view of a layer summary: an adapter over d2ltui.inspector.summary into display strings.

Runs in a worker thread: torch is imported here only when a summary is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from d2ltui.format import format_field, format_shape, human_bytes, human_count, parse_shapes


@dataclass
class Row:
    """One table row, already formatted for display."""

    name: str
    type: str
    output: str
    params: str
    flops: str
    rf: str
    attention: str = ""  # an attention layer's weights: batch x heads x queries x keys


@dataclass
class Inspection:
    """What the inspector shows: rows (up to a failure), totals, and an error explanation."""

    model: str
    input: str
    rows: list[Row] = field(default_factory=list)
    totals: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def inspect_model(name: str, knobs: dict[str, Any], input_text: str, depth: int = 1) -> Inspection:
    """Summarise model `name` with `knobs` at `input_text`; never raises for a user mistake."""
    from d2ltui.errors import UserError
    from d2ltui.zoo.registry import get_spec, resolve_knobs

    result = Inspection(model=name, input=input_text)
    try:
        spec = get_spec(name)
        shapes = parse_shapes(input_text, "input") if input_text.strip() else spec.default_input
        resolved = resolve_knobs(spec, knobs)
    except (UserError, ValueError) as err:
        result.error = str(err)
        return result
    from d2ltui.inspector import summary as summary_mod  # imports torch

    try:
        summary = summary_mod.summarize(spec, resolved, shapes, depth=depth,  # a Summary, even on failure
                                        attention_rows=True)
    except UserError as err:
        result.error = str(err)
        return result
    return adapt(summary, result)


def adapt(summary: Any, result: Inspection) -> Inspection:
    """Copy a Summary's rows, totals and failure into display strings (an attention layer below the
    summary's depth is indented one step below the rows shown)."""
    for row in summary.layers:
        result.rows.append(Row(
            name="  " * max(0, min(row.depth, summary.depth + 1) - 1) + row.name,
            type=row.type,
            output=format_shape(tuple(row.output_shape)) if row.output_shape else "-",
            params=f"{row.params:,}",
            flops=human_count(row.flops) if row.flops else "-",
            rf=format_field(row.receptive_field),
            attention=format_shape(tuple(row.attention_shape)) if row.attention_shape else "",
        ))
    result.totals = {
        "params": f"{summary.total_params:,}",
        "trainable": f"{summary.trainable_params:,}",
        "FLOPs": human_count(summary.flops),
        "weights": human_bytes(summary.param_bytes),
        "activations": human_bytes(summary.activation_bytes),
    }
    for fmap in summary.feature_maps:  # a detector's scales, as rows after the layers
        result.rows.append(Row(name=f"anchors @ {fmap.scale}", type=f"{fmap.anchors_per_position} a position",
                               output=format_shape(fmap.shape) if fmap.shape else "-", params=f"{fmap.anchors:,}",
                               flops="-", rf="-"))
    if summary.anchors is not None:
        result.totals["anchors"] = f"{summary.anchors:,}"
    result.error = summary.failure.message() if summary.failure else None
    return result
