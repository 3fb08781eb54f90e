"""The lab registry: names, chapters, titles and knobs, importing no torch.

A lab is a `LabSpec` whose `compute` is a "module:function" path; the module (which may
import torch) is only imported when the lab is computed. Adding a lab is one module with
a `compute(**knobs) -> Figure` function plus one `register(LabSpec(...))` in catalog.py.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from d2ltui.errors import UserError
from d2ltui.zoo.registry import Knob, suggest


@dataclass(frozen=True)
class LabSpec:
    """A registered lab: what figure of the book it is, and the knobs it takes."""

    name: str
    chapter: str  # the zoo's chapter names, so that labs sit beside the models of their chapter
    title: str
    doc: str  # one line
    compute: str  # "d2ltui.labs.module:function", called as function(**knobs) -> Figure
    knobs: dict[str, Knob] = field(default_factory=dict)
    section: str = ""  # the book's section, e.g. "11.2"

    def defaults(self) -> dict[str, Any]:
        return {k.name: k.default for k in self.knobs.values()}

    def compute_fn(self) -> Callable[..., Any]:
        module, _, fn = self.compute.partition(":")
        return getattr(importlib.import_module(module), fn)


REGISTRY: dict[str, LabSpec] = {}


def register(spec: LabSpec) -> LabSpec:
    """Add a lab; a second lab under the same name is a programming error."""
    if spec.name in REGISTRY:
        raise ValueError(f"lab {spec.name!r} is registered twice")
    if ":" not in spec.compute:
        raise ValueError(f"lab {spec.name!r}: compute must be 'module:function', got {spec.compute!r}")
    REGISTRY[spec.name] = spec
    return spec


def allowed(knob: Knob) -> str:
    """What values a knob takes, in words: 'one of a, b', 'from 0.1 to 1.0', or its type."""
    if knob.choices is not None:
        return "one of " + ", ".join(map(str, knob.choices))
    if knob.min is not None and knob.max is not None:
        return f"{knob.kind.__name__} from {knob.min} to {knob.max}"
    return knob.help or knob.kind.__name__


def get_lab(name: str) -> LabSpec:
    _load_catalog()
    try:
        return REGISTRY[name]
    except KeyError:
        raise UserError(f"unknown lab {name!r}{suggest(name, list(REGISTRY))}; labs: {', '.join(REGISTRY)}") from None


def all_labs() -> list[LabSpec]:
    _load_catalog()
    return list(REGISTRY.values())


def resolve_knobs(spec: LabSpec, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The lab's defaults with `overrides` parsed and checked; errors name the knob and what it allows."""
    knobs = spec.defaults()
    for key, raw in (overrides or {}).items():
        if key not in spec.knobs:
            raise UserError(f"lab {spec.name} has no knob {key!r}{suggest(key, list(spec.knobs))}; "
                            f"its knobs: {', '.join(spec.knobs)}")
        knob = spec.knobs[key]
        try:
            knobs[key] = knob.parse(raw)
        except UserError as err:
            message = str(err) if knob.choices is not None else f"{err} (allowed: {allowed(knob)})"
            raise UserError(f"lab {spec.name}: {message}") from None
    return knobs


def compute(name: str, overrides: dict[str, Any] | None = None):
    """Resolve the knobs of lab `name` and compute its Figure."""
    spec = get_lab(name)
    knobs = resolve_knobs(spec, overrides)
    return spec.compute_fn()(**knobs)


def _load_catalog() -> None:
    if not REGISTRY:
        importlib.import_module("d2ltui.labs.catalog")
