"""The model's input shape and main knobs (dropout, norm, num_classes); posts KnobBar.Changed."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Select
from textual.widgets._select import SelectCurrent

from d2ltui.errors import UserError
from d2ltui.format import format_shapes, parse_shapes
from d2ltui.tui.widgets.config_fields import Checked
from d2ltui.zoo.catalog import NORMS
from d2ltui.zoo.registry import ModelSpec


def _shape_problem(text: str) -> str | None:
    try:
        parse_shapes(text, "input")
    except UserError as err:
        return str(err)
    return None


def set_title(widget: Widget, title: str) -> None:
    """Label a field on its border (a Select's border is on its inner current-value box)."""
    if not isinstance(widget, Select):
        widget.border_title = title
    elif current := widget.query(SelectCurrent):
        current.first().border_title = title
    else:  # not composed yet (its screen is not the active one): label it once it is
        widget.call_after_refresh(set_title, widget, title)


class KnobBar(Horizontal):
    """Editable input shape and knobs of the selected model; unhonoured knobs are disabled."""

    class Changed(Message):
        def __init__(self, knobs: dict[str, Any], input_text: str, valid: bool, problems: list[str]) -> None:
            self.knobs, self.input_text, self.valid, self.problems = knobs, input_text, valid, problems
            super().__init__()

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.spec: ModelSpec | None = None
        self._loading = False

    def compose(self) -> ComposeResult:
        yield Input(id="input-shape", validators=[Checked(_shape_problem)])
        yield Input(id="knob-dropout", validators=[Checked(lambda text: self.knob_problem("dropout", text))])
        yield Select([(n, n) for n in NORMS], id="knob-norm", allow_blank=False)
        yield Input(id="knob-num_classes", type="integer",
                    validators=[Checked(lambda text: self.knob_problem("num_classes", text))])

    def on_mount(self) -> None:
        for wid, title in (("input-shape", "input"), ("knob-dropout", "dropout"),
                           ("knob-norm", "norm"), ("knob-num_classes", "classes")):
            set_title(self.query_one(f"#{wid}"), title)

    def load(self, spec: ModelSpec) -> None:
        """Show `spec`'s default input and knob defaults."""
        self.spec = spec
        self._loading = True
        self.query_one("#input-shape", Input).value = format_shapes(spec.default_input)
        for name in ("dropout", "num_classes"):
            field = self.query_one(f"#knob-{name}", Input)
            field.disabled = name not in spec.knobs
            field.value = str(spec.knobs[name].default) if name in spec.knobs else ""
        norm = self.query_one("#knob-norm", Select)
        norm.disabled = "norm" not in spec.knobs
        norm.value = spec.knobs["norm"].default if "norm" in spec.knobs else "none"
        self._loading = False
        self.call_after_refresh(self._announce)

    def knob_problem(self, name: str, text: str) -> str | None:
        """Why the model's knob `name` refuses `text` (the zoo registry's rule), or None."""
        if self.spec is None or name not in self.spec.knobs:
            return None
        try:
            self.spec.knobs[name].parse(text)
        except UserError as err:
            return str(err).removeprefix(f"knob {name}: ")
        return None

    def knobs(self, every: bool = False) -> dict[str, Any]:
        """The knob values that differ from the spec's defaults (`every`: all honoured ones)."""
        if self.spec is None:
            return {}
        out: dict[str, Any] = {}
        for name in ("dropout", "num_classes"):
            field = self.query_one(f"#knob-{name}", Input)
            if name in self.spec.knobs and field.value.strip() and field.is_valid:
                value = self.spec.knobs[name].parse(field.value)
                if every or value != self.spec.knobs[name].default:
                    out[name] = value
        norm = self.query_one("#knob-norm", Select).value
        if "norm" in self.spec.knobs and (every or norm != self.spec.knobs["norm"].default):
            out["norm"] = norm
        return out

    def set_knob(self, name: str, value: Any) -> None:
        """Set a knob from outside (a preset, the command palette)."""
        widget = self.query_one(f"#knob-{name}")
        if isinstance(widget, Select):
            widget.value = value
        else:
            widget.value = str(value)

    def input_text(self) -> str:
        return self.query_one("#input-shape", Input).value

    def valid(self) -> bool:
        return all(f.disabled or f.is_valid for f in self.query(Input))

    def problems(self) -> list[str]:
        """'field: reason' for every enabled field whose value its validators refuse."""
        out = []
        for field in self.query(Input):
            if field.disabled or field.is_valid:
                continue
            result = field.validate(field.value)
            reasons = "; ".join(result.failure_descriptions) if result else "invalid value"
            title = field.border_title or field.id
            out.append(reasons if reasons.startswith(str(title)) else f"{title}: {reasons}")  # said once
        return out

    def _announce(self) -> None:
        problems = self.problems()
        self.post_message(self.Changed(self.knobs(), self.input_text(), not problems, problems))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if not self._loading:
            self._announce()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if not self._loading:
            self._announce()
