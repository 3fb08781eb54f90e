"""The one reader of `KEY=VALUE` and of text into a value (CLI --set, TUI fields, labs, augment, sweeps)."""

from __future__ import annotations

import ast
from typing import Any

from d2ltui.errors import UserError

TRUE, FALSE = ("true", "yes", "on"), ("false", "no", "off")


def parse_text(text: str) -> Any:
    """Text into a value: true/false, a Python literal (number, tuple, list, string), else the text itself."""
    stripped = text.strip()
    low = stripped.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return stripped


def parse_as(text: str, kind: type, name: str) -> Any:
    """Text into a value of `kind` (booleans also as yes/no/on/off); a UserError naming `name` when unreadable."""
    value = parse_text(text)
    if kind is bool and isinstance(value, str) and value.lower() in TRUE + FALSE:
        return value.lower() in TRUE
    if isinstance(value, str) and kind is not str:
        raise UserError(f"{name}: cannot read {text!r} as {kind.__name__}")
    return value


def split_override(item: str, example: str = "optim.lr=0.05", what: str = "KEY=VALUE",
                   flag: str = "--set") -> tuple[str, str]:
    """`KEY=VALUE` -> (key, value text), both stripped; a UserError naming `flag` when there is no '=' or no key."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise UserError(f"{flag} {item!r}: expected {what}, e.g. {example}")
    return key.strip(), value.strip()


def override_key(item: str) -> str:
    """The key of a `KEY=VALUE` item ('' when it has none)."""
    return item.partition("=")[0].strip()


def override_value(items: list[str], key: str) -> str | None:
    """The value text `KEY=VALUE` items give `key` (the last one wins), None when none does; an item without
    '=' is left for the reader that applies the items to say so."""
    return dict(split_override(i) for i in items if "=" in i and override_key(i)).get(key)


def qualify_overrides(items: list[str], sections: dict[str, set[str]], default: str = "model") -> list[str]:
    """Give bare keys their section: the one of `sections` (section -> its field names) that has the field (lr,
    epochs, batch_size), else `default` (a model knob: dropout). `name` and a field of several sections are
    ambiguous: a UserError saying which keys to write."""
    out = []
    for item in items:
        key = override_key(item)
        if "=" in item and key and "." not in key:
            owners = [s for s, names in sections.items() if key in names]
            if key == "name" or len(owners) > 1:
                choices = " or ".join(f"{s}.{key}" for s in ([default] if key == "name" else []) + owners)
                raise UserError(f"--set {key}: ambiguous, write {choices}")
            item = f"{owners[0] if owners else default}.{key}={split_override(item)[1]}"
        out.append(item)
    return out


def parse_overrides(items: list[str], example: str = "optim.lr=0.05", what: str = "KEY=VALUE") -> dict[str, Any]:
    """`KEY=VALUE` items -> {key: value}, values read by `parse_text` (the last of a repeated key wins)."""
    return {key: parse_text(value) for key, value in (split_override(i, example, what) for i in items)}


def knob_overrides(items: list[str]) -> dict[str, str]:
    """["dropout=0.3", "model.norm=batch"] -> {"dropout": "0.3", "norm": "batch"}: texts a knob reads itself."""
    pairs = [split_override(item, "--set dropout=0.3", "KNOB=VALUE") for item in items]
    for item, (_, value) in zip(items, pairs):
        if not value:
            raise UserError(f"--set {item!r}: expected KNOB=VALUE, e.g. --set dropout=0.3")
    return {key.removeprefix("model."): value for key, value in pairs}


def coerce(key: str, value: Any, default: Any) -> Any:
    """Check `value` against the type of the field's default (`key` names it in the error); ints widen to floats."""
    kind = type(default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is list and isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if kind is list and isinstance(value, tuple):
        return list(value)
    if kind is list and isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if kind is str and not isinstance(value, str):
        return str(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UserError(f"{key}: expected {kind.__name__}, got {value!r}")
    return value


def parse_field(text: str, default: Any) -> Any:
    """A form field's text as a value of its default's type; ValueError when unreadable (an empty field: the default).

    Numbers are read as numbers only (a field for an int takes "1e3" but not "1.5"); lists are comma-separated.
    """
    text = text.strip()
    if isinstance(default, list):
        return [a.strip() for a in text.split(",") if a.strip()]
    if not text:
        return default
    if isinstance(default, bool):
        if text.lower() not in TRUE + FALSE:
            raise ValueError(f"{text!r} is not true or false")
        return text.lower() in TRUE
    if isinstance(default, int):
        number = float(text)
        if not number.is_integer():
            raise ValueError(f"{text!r} is not a whole number")
        return int(number)
    return type(default)(float(text)) if isinstance(default, float) else type(default)(text)


def split_values(text: str) -> list[str]:
    """Split on the commas outside brackets: "(64,),(128, 64)" -> ["(64,)", "(128, 64)"]."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch in "([{") - (ch in ")]}")
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]
