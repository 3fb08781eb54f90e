"""`d2l-tui list`: the catalog grouped by book chapter, as a table or JSON (imports no torch)."""

from __future__ import annotations

import json
import shutil
from typing import Any

from d2ltui.format import format_shapes
from d2ltui.labs.registry import LabSpec, all_labs
from d2ltui.zoo.registry import Knob, ModelSpec, all_specs, chapter_order



def table_width() -> int:
    """The terminal's width (100 when not a terminal), kept between 80 and 160 columns."""
    return max(80, min(shutil.get_terminal_size((100, 24)).columns, 160))


def knob_dict(knob: Knob) -> dict[str, Any]:
    out: dict[str, Any] = {"type": knob.kind.__name__, "default": _plain(knob.default), "help": knob.help}
    if knob.choices is not None:
        out["choices"] = list(knob.choices)
    if knob.min is not None:
        out["min"] = knob.min
    if knob.max is not None:
        out["max"] = knob.max
    return out


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def spec_dict(spec: ModelSpec) -> dict[str, Any]:
    """One catalog entry as JSON-ready data."""
    return {
        "kind": "model", "name": spec.name, "chapter": spec.chapter, "task": spec.task, "input_kind": spec.input_kind,
        "default_input": [list(s) for s in spec.default_input], "knobs": {k: knob_dict(v) for k, v in spec.knobs.items()},
        "doc": spec.doc,
    }


def by_chapter(specs: list[Any]) -> dict[str, list[Any]]:
    """Chapters in the book's order, each with its models (then its labs) in catalog order."""
    groups: dict[str, list[Any]] = {}
    for spec in specs:
        groups.setdefault(spec.chapter, []).append(spec)
    return dict(sorted(groups.items(), key=lambda item: chapter_order(item[0])))


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _about(spec: ModelSpec) -> str:
    """The doc line without its leading "Name:" (the name is already in the first column)."""
    head, sep, rest = spec.doc.partition(": ")
    return rest[:1].upper() + rest[1:] if sep and len(head) < 30 else spec.doc


def catalog_lines(specs: list[ModelSpec], width: int = 100, labs: list[LabSpec] | None = None) -> list[str]:
    """The readable table: a heading per chapter, then name, task, default input and what it is.

    Labs (the book's interactive figures) follow the models of their chapter, with task "lab".
    """
    labs = labs or []
    name_w = max(len(s.name) for s in [*specs, *labs])
    task_w = max(len(s.task) for s in specs)
    input_w = max(len(format_shapes(s.default_input)) for s in specs)
    doc_w = width - (2 + name_w + 2 + task_w + 2 + input_w + 2)
    lines = [f"  {'name':<{name_w}}  {'task':<{task_w}}  {'input':<{input_w}}  about"]
    for chapter, group in by_chapter([*specs, *labs]).items():
        lines.append("")
        lines.append(chapter)
        for s in group:
            if isinstance(s, LabSpec):
                lines.append(f"  {s.name:<{name_w}}  {'lab':<{task_w}}  {'-':<{input_w}}  {_clip(s.title, doc_w)}")
                continue
            lines.append(f"  {s.name:<{name_w}}  {s.task:<{task_w}}  {format_shapes(s.default_input):<{input_w}}  "
                         f"{_clip(_about(s), doc_w)}".rstrip())
    lines.append("")
    lines.append(f"{len(specs)} models. Layers: d2l-tui inspect NAME [--input SHAPE] [--set KNOB=VALUE]")
    if labs:
        lines.append(f"{len(labs)} labs. Figures: d2l-tui lab NAME [--set KNOB=VALUE] [--json]")
    return lines


def lab_dict(spec: LabSpec) -> dict:
    """One lab as JSON-ready data (the same knob fields as `list --json` gives models)."""
    return {"kind": "lab", "name": spec.name, "chapter": spec.chapter, "title": spec.title, "section": spec.section,
            "doc": spec.doc, "knobs": {k: knob_dict(v) for k, v in spec.knobs.items()}}


def run_list(json_out: bool = False) -> None:
    specs, labs = all_specs(), all_labs()
    if json_out:
        print(json.dumps([spec_dict(s) for s in specs] + [lab_dict(s) for s in labs], indent=2))
    else:
        print("\n".join(catalog_lines(specs, table_width(), labs)))
