"""`d2l-tui lab`: list the labs, or compute one and print its figure (or its JSON); bad knobs exit 2."""

from __future__ import annotations

import json
import sys

from d2ltui.config.overrides import knob_overrides
from d2ltui.cli.listing import lab_dict, table_width
from d2ltui.errors import UserError
from d2ltui.labs.registry import LabSpec, all_labs, allowed, get_lab


def list_lines(labs: list[LabSpec]) -> list[str]:
    name_w = max(len(s.name) for s in labs)
    lines: list[str] = []
    for spec in labs:
        lines.append(f"{spec.name:<{name_w}}  {spec.chapter}, section {spec.section}: {spec.title}")
        lines.append(f"{'':<{name_w}}  {spec.doc}")
        for knob in spec.knobs.values():
            lines.append(f"{'':<{name_w}}    {knob.name}={knob.default!s}  ({allowed(knob)})")
    lines.append("")
    lines.append("Compute one: d2l-tui lab NAME [--set KNOB=VALUE ...] [--json]")
    return lines


def run_lab(name: str | None, overrides: list[str], json_out: bool = False) -> None:
    if name is None:
        if overrides:
            raise UserError("--set needs a lab: d2l-tui lab NAME --set KNOB=VALUE (see `d2l-tui lab`)")
        labs = all_labs()
        print(json.dumps([lab_dict(s) for s in labs], indent=2) if json_out else "\n".join(list_lines(labs)))
        return
    from d2ltui.labs.registry import compute

    spec = get_lab(name)
    figure = compute(spec.name, knob_overrides(overrides))
    if json_out:
        print(json.dumps(figure.to_dict()))
        return
    from d2ltui.labs.text import figure_lines

    knobs = ", ".join(f"{k}={v}" for k, v in figure.knobs.items())
    print(f"{spec.title} (section {spec.section}); {knobs}\n")
    print("\n".join(figure_lines(figure, table_width(), color=sys.stdout.isatty())))
