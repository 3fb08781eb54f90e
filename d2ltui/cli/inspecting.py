"""`d2l-tui inspect`: one model's layers as an aligned table or one JSON object; bad input exits 2."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from d2ltui.cli.listing import table_width
from d2ltui.config.overrides import knob_overrides
from d2ltui.errors import UserError
from d2ltui.format import (format_field, format_number, format_shape, format_shapes, human_bytes, human_count,
                           parse_shapes)
from d2ltui.zoo.registry import get_spec

if TYPE_CHECKING:
    from d2ltui.inspector.params import ParamTable
    from d2ltui.inspector.summary import Summary

COLUMNS = ("name", "type", "output shape", "params", "FLOPs", "RF")
RIGHT = {"params", "FLOPs", "RF"}


def table_lines(summary: Summary, width: int = 100) -> list[str]:
    """The aligned table with a heading and totals, no line longer than `width` (names are clipped)."""

    cells = [(("  " * max(r.depth - 1, 0)) + r.name, r.type + (f" w {format_shape(r.attention_shape)}" if r.attention_shape else ""),
              format_shape(r.output_shape) if r.calls else "-",
              f"{r.params:,}", human_count(r.flops) if r.flops else "-", format_field(r.receptive_field))
             for r in summary.layers]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(COLUMNS)]
    spare = width - (sum(widths) + 2 * (len(COLUMNS) - 1))
    for i in (0, 1, 2):  # shrink name, then type, then shape, down to a floor, until the row fits
        if spare < 0:
            cut = min(-spare, max(widths[i] - 12, 0))
            widths[i] -= cut
            spare += cut

    def line(values) -> str:
        parts = [(_clip(v, w).rjust(w) if h in RIGHT else _clip(v, w).ljust(w)) for v, w, h in zip(values, widths, COLUMNS)]
        return "  ".join(parts).rstrip()

    defaults = get_spec(summary.model).defaults()
    set_knobs = {k: v for k, v in summary.knobs.items() if defaults.get(k) != v}
    knob_text = ", ".join(f"{k}={v}" for k, v in set_knobs.items()) or "defaults"
    lines = [_clip(f"{summary.model}  input {format_shapes(summary.input)}  depth {summary.depth}  knobs: {knob_text}",
                   width), "", line(COLUMNS), line(["-" * w for w in widths])]
    lines += [line(c) for c in cells]
    lines += [line(["-" * w for w in widths]),
              f"params {summary.total_params:,} (trainable {summary.trainable_params:,}, "
              f"frozen {summary.total_params - summary.trainable_params:,}), {human_bytes(summary.param_bytes)}",
              f"FLOPs {human_count(summary.flops)} ({summary.flops:,}), "
              f"activations {human_bytes(summary.activation_bytes)}"]
    lines += feature_map_lines(summary)
    if summary.failure is not None:
        lines.append(f"stopped at layer {summary.failure.layer}: see the error below")
    return lines


def feature_map_lines(summary: Summary) -> list[str]:
    """A detector's scales: feature map, anchors per position, anchors; then the total."""
    if not summary.feature_maps:
        return []
    lines = ["", f"{'feature map':<12}  {'shape':<12}  {'per position':>12}  {'anchors':>8}"]
    for row in summary.feature_maps:
        lines.append(f"{row.scale:<12}  {format_shape(row.shape) if row.shape else '-':<12}  "
                     f"{row.anchors_per_position:>12}  {row.anchors:>8,}")
    lines.append(f"anchors {summary.anchors:,} an image")
    return lines


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def param_lines(table: ParamTable, width: int = 100) -> list[str]:
    """The parameter tensors as an aligned table, then the unique count (tied tensors counted once)."""

    heads = ("parameter", "shape", "count", "trainable", "mean", "std", "note")
    cells = [(r.name, format_shape(tuple(r.shape)) if r.shape else "?", f"{r.count:,}", "yes" if r.trainable else "no",
              format_number(r.mean), format_number(r.std),
              "; ".join(n for n in (f"tied to {r.tied_to}" if r.tied_to else "",
                                    "lazy, materialised" if r.lazy else "") if n)) for r in table.rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(heads)]
    right = {"count", "mean", "std"}

    def line(values) -> str:
        return _clip("  ".join(v.rjust(w) if h in right else v.ljust(w) for v, w, h in zip(values, widths, heads))
                     .rstrip(), width)

    tied = f"; {table.tied_tensors} tied tensor(s) counted once" if table.tied_tensors else ""
    return [line(heads), line(["-" * w for w in widths]), *[line(c) for c in cells], line(["-" * w for w in widths]),
            f"unique params {table.unique_params:,} (trainable {table.trainable_params:,}){tied}"]


def run_inspect(name: str, input_spec: str | None = None, overrides: list[str] | None = None, depth: int = 1,
                json_out: bool = False, params: bool = False) -> None:
    """Print the summary; a layer that cannot take the input prints the rows so far, then raises UserError."""
    knobs = knob_overrides(overrides or [])
    task = knobs.pop("task", "")
    if task:
        from d2ltui.config.schema import problem

        if why := problem("model.task", task):
            raise UserError(f"model.task: {why}")
    spec = get_spec(name, task or None)
    shapes = parse_shapes(input_spec) if input_spec is not None else spec.default_input
    if depth < 0:
        raise UserError(f"--depth {depth}: must be 0 or more")

    from d2ltui.inspector.summary import summarize  # imports torch

    summary = summarize(spec, knobs, shapes, depth)
    table = None
    if params and summary.failure is None:
        from d2ltui.inspector.params import model_parameters

        table = model_parameters(spec, summary.knobs, shapes)
    if json_out:
        print(json.dumps({**summary.to_dict(), **(table.to_dict() if table else {})}, indent=2))
    elif table is not None:
        print("\n".join([f"{spec.name}  input {format_shapes(shapes)}", "", *param_lines(table, table_width())]))
    else:
        print("\n".join(table_lines(summary, table_width())))
    if summary.failure is not None:
        raise UserError(f"{spec.name} with input {format_shapes(shapes)}: {summary.error}")
