"""The zoo: every architecture of the book, behind one registry (see registry.py)."""

from d2ltui.zoo.registry import REGISTRY, Knob, ModelSpec, get_spec, resolve_knobs

__all__ = ["REGISTRY", "Knob", "ModelSpec", "get_spec", "resolve_knobs"]
