"""Input shapes as text: parse "1x1x28x28" or "1x9,1x9" into tuples and format them back (no torch)."""

from __future__ import annotations

import re

from d2ltui.errors import UserError

Shape = tuple[int, ...]
MAX_DIM = 10_000_000  # a single dimension larger than this is surely a typo
_DIM = re.compile(r"\d+")


def parse_shape(text: str, label: str = "--input") -> Shape:
    """One shape such as "1x1x28x28": positive integers joined by 'x' (batch first)."""
    raw = text.strip().lower().replace("×", "x").replace("*", "x")
    if not raw:
        raise UserError(f"{label}: empty shape; expected dimensions joined by 'x', e.g. 1x1x28x28")
    dims = [d.strip() for d in raw.split("x")]
    bad = [d for d in dims if not _DIM.fullmatch(d)]
    if bad:
        shown = repr(bad[0]) if bad[0] else "an empty dimension"
        raise UserError(f"{label}: {text.strip()!r} has {shown}; expected positive integers joined by 'x', "
                        f"e.g. 1x1x28x28")
    values = tuple(int(d) for d in dims)
    if any(v < 1 for v in values):
        raise UserError(f"{label}: {text.strip()!r} has a zero dimension; every dimension must be at least 1")
    if any(v > MAX_DIM for v in values):
        raise UserError(f"{label}: {text.strip()!r} has a dimension above {MAX_DIM:,}")
    return values


def parse_shapes(text: str, label: str = "--input") -> tuple[Shape, ...]:
    """One shape per model input, separated by commas: "1x9,1x9" -> ((1, 9), (1, 9))."""
    if text is None or not text.strip():
        raise UserError(f"{label}: empty; expected a shape such as 1x1x28x28 (two inputs: 1x9,1x9)")
    parts = text.split(",")
    if len(parts) > 1:
        return tuple(parse_shape(p, f"{label} (input {i + 1})") for i, p in enumerate(parts))
    return (parse_shape(parts[0], label),)


def format_shape(shape: Shape | None) -> str:
    """(1, 1, 28, 28) -> "1x1x28x28"; None -> "-"."""
    if shape is None:
        return "-"
    return "x".join(str(d) for d in shape) if len(shape) else "scalar"


def format_shapes(shapes: tuple[Shape, ...]) -> str:
    """((1, 9), (1, 9)) -> "1x9,1x9"."""
    return ",".join(format_shape(s) for s in shapes)
