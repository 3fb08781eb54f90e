"""A lab's knobs as fields built from its knob specs (a Select for choices, an Input otherwise)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Select

from d2ltui.errors import UserError
from d2ltui.labs.registry import LabSpec, allowed
from d2ltui.tui.widgets.knob_bar import set_title
from d2ltui.zoo.registry import Knob


class KnobValidator(Validator):
    """Accepts what the knob's own parse accepts; the failure says why and what is allowed."""

    def __init__(self, knob: Knob) -> None:
        super().__init__()
        self.knob = knob

    def validate(self, value: str) -> ValidationResult:
        try:
            self.knob.parse(value)
        except UserError as err:
            return self.failure(f"{err} (allowed: {allowed(self.knob)})")
        return self.success()


class LabKnobs(Horizontal):
    """One field per knob; posts LabKnobs.Changed with the parsed values, or the problems."""

    class Changed(Message):
        def __init__(self, knobs: dict[str, Any], problems: list[str]) -> None:
            self.knobs, self.problems = knobs, problems
            super().__init__()

    def __init__(self, spec: LabSpec, **kwargs) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def compose(self) -> ComposeResult:
        for knob in self.spec.knobs.values():
            if knob.choices is not None:
                yield Select([(str(c), c) for c in knob.choices], value=knob.default, allow_blank=False,
                             id=f"lab-{knob.name}")
            else:
                yield Input(str(knob.default), id=f"lab-{knob.name}", validators=[KnobValidator(knob)])

    def on_mount(self) -> None:
        for knob in self.spec.knobs.values():
            set_title(self.query_one(f"#lab-{knob.name}"), knob.name)

    def values(self) -> tuple[dict[str, Any], list[str]]:
        """The parsed knob values and 'knob: reason' for each field that does not parse."""
        knobs, problems = {}, []
        for knob in self.spec.knobs.values():
            field = self.query_one(f"#lab-{knob.name}")
            try:
                knobs[knob.name] = knob.parse(field.value)
            except UserError as err:
                problems.append(f"{err} (allowed: {allowed(knob)})")
        return knobs, problems

    def set_knob(self, name: str, value: Any) -> None:
        field = self.query_one(f"#lab-{name}")
        field.value = value if isinstance(field, Select) else str(value)

    def reset(self) -> None:
        for knob in self.spec.knobs.values():
            self.set_knob(knob.name, knob.default)

    def _announce(self) -> None:
        knobs, problems = self.values()
        self.post_message(self.Changed(knobs, problems))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._announce()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._announce()
