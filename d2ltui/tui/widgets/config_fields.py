"""The configuration panel's fields: config keys, labels, and validators derived from the config schema's rules."""

from __future__ import annotations

from typing import Any, Callable

from textual.validation import ValidationResult, Validator

from d2ltui.config.overrides import parse_field as parse_text_field
from d2ltui.config.schema import DataConfig, OptimConfig, TrainConfig, field_rule, problem


class Checked(Validator):
    """A field validator around `check(text) -> reason or None`, so the field says exactly why."""

    def __init__(self, check: Callable[[str], str | None]) -> None:
        super().__init__()
        self.check = check

    def validate(self, value: str) -> ValidationResult:
        reason = self.check(value)
        return self.success() if reason is None else self.failure(reason)


DEFAULTS: dict[str, Any] = {f"data.{k}": v for k, v in vars(DataConfig()).items()}
DEFAULTS |= {f"optim.{k}": v for k, v in vars(OptimConfig()).items()}
DEFAULTS |= {f"train.{k}": v for k, v in vars(TrainConfig()).items()}


def parse_field(key: str, text: str) -> Any:
    """The typed value of a field's text (its type is the config default's); ValueError when unreadable."""
    return parse_text_field(text, DEFAULTS[key])


def field_problem(key: str, text: str) -> str | None:
    """Why the panel refuses `text` for config key `key` (the schema's rule), or None."""
    try:
        value = parse_field(key, text)
    except (ValueError, OverflowError):
        return f"{text.strip()!r} is not a {type(DEFAULTS[key]).__name__}"
    return problem(key, value) if field_rule(key) else None


def checked(key: str) -> list[Validator]:
    return [Checked(lambda text, key=key: field_problem(key, text))]


# (field id "section.key", label); validators and defaults come from the config schema
FIELDS = (
    ("data.batch_size", "batch size"),
    ("train.epochs", "epochs"),
    ("data.num_train", "num_train"),
    ("optim.lr", "lr"),
    ("optim.weight_decay", "decay"),
    ("data.resize", "resize"),
    ("train.seed", "seed"),
    ("data.augment", "augment"),
)


def field_id(key: str) -> str:
    """The widget id of a config key: 'optim.lr' -> 'cfg-optim-lr'."""
    return "cfg-" + key.replace(".", "-")
