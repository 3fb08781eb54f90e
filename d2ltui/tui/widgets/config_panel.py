"""The training configuration form: fields with validators, presets, device picker, Start."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Select, Static

from d2ltui.config.schema import choices
from d2ltui.tui.widgets.config_fields import DEFAULTS, FIELDS, checked, field_id as _fid, parse_field
from d2ltui.zoo.catalog import INIT
from d2ltui.tui.widgets.knob_bar import set_title
from d2ltui.config.presets import preset_names
from d2ltui.tui.choices import datasets_for, list_devices

class ConfigPanel(VerticalScroll):
    """Everything a run needs besides the model knobs of the knob bar."""

    class StartRequested(Message):
        """The user asked to start training with the panel's settings."""

    class PresetChosen(Message):
        def __init__(self, name: str) -> None:
            self.name = name
            super().__init__()

    class SaveRequested(Message):
        def __init__(self, name: str) -> None:
            self.name = name
            super().__init__()

    def compose(self) -> ComposeResult:
        with Grid(id="cfg-grid"):
            yield Select([], id=_fid("data.name"), prompt="dataset")
            yield Select([(o, o) for o in choices("optim.name")], id=_fid("optim.name"), allow_blank=False)
            yield Select([(o, o) for o in INIT.choices], id=_fid("model.init"), allow_blank=False)
            for key, _ in FIELDS:
                yield Input(id=_fid(key), validators=checked(key))
            yield Select([("auto", "auto"), ("CPU", "cpu")], id="cfg-device", allow_blank=False)
        yield Static("", id="cfg-errors")
        with Horizontal(id="cfg-actions"):
            yield Button("Start", id="start", variant="success")
            yield Select([(n, n) for n in preset_names()], id="preset", prompt="load preset")
            yield Input(id="preset-name", placeholder="save as...")
            yield Button("Save", id="save-preset")

    def on_mount(self) -> None:
        titles = {"data.name": "dataset", "optim.name": "optimizer", "model.init": "init"}
        titles |= dict(FIELDS)
        for key, title in titles.items():
            set_title(self.query_one(f"#{_fid(key)}"), title)
        set_title(self.query_one("#cfg-device"), "device")
        self._devices_asked = self.devices_listed = False
        self.load({})

    def load(self, raw: dict[str, Any]) -> None:
        """Fill every field from a TOML-shaped config; missing keys take the config defaults."""
        for key in [k for k, _ in FIELDS] + ["optim.name"]:
            section, _, name = key.partition(".")
            self.set_field(key, raw.get(section, {}).get(name, DEFAULTS[key]))
        init = raw.get("model", {}).get("init", "default")
        self.set_field("model.init", init)
        data = raw.get("data", {}).get("name")
        picker = self.query_one(f"#{_fid('data.name')}", Select)
        if data and data in picker._legal_values:
            picker.value = data

    def on_show(self) -> None:
        if not self._devices_asked:  # torch's device query waits until the panel is first seen
            self._devices_asked = True
            self.load_devices()

    @work(thread=True, exclusive=True, group="devices")
    def load_devices(self) -> None:
        try:
            options = list_devices()
        except Exception:  # noqa: BLE001 - no torch device layer: keep auto/cpu
            return
        self.app.call_from_thread(self._set_devices, options)

    def _set_devices(self, options: list[tuple[str, str]]) -> None:
        picker = self.query_one("#cfg-device", Select)
        picker.set_options([("auto", "auto"), *options])
        picker.value = "auto"
        self.devices_listed = True

    def set_task(self, task: str, honours_init: bool) -> None:
        names = datasets_for(task)
        picker = self.query_one(f"#{_fid('data.name')}", Select)
        current = picker.value
        picker.set_options([(n, n) for n in names])
        if names:
            picker.value = current if current in names else ("shapes" if "shapes" in names else names[0])
        self.query_one(f"#{_fid('model.init')}", Select).disabled = not honours_init
        self.check()

    def set_field(self, key: str, value: Any) -> None:
        widget = self.query_one(f"#{_fid(key)}")
        if isinstance(widget, Select):
            widget.value = value
        else:
            widget.value = ",".join(value) if isinstance(value, list) else str(value)

    def errors(self) -> list[str]:
        """'label: reason' for each invalid field (empty when the form can start)."""
        out = []
        for key, label in FIELDS:
            field = self.query_one(f"#{_fid(key)}", Input)
            result = field.validate(field.value)
            if result is not None and not result.is_valid:
                out.append(f"{label}: {'; '.join(result.failure_descriptions)}")
        if self.query_one(f"#{_fid('data.name')}", Select).value == Select.NULL:
            out.append("dataset: none fits this model's task")
        return out

    def check(self) -> bool:
        errors = self.errors()
        self.query_one("#cfg-errors", Static).update(Text("\n".join(errors), style="bold red"))
        self.query_one("#start", Button).disabled = bool(errors)
        return not errors

    def values(self) -> dict[str, Any]:
        """{'data.batch_size': 64, ...}: every field's value (call when `errors()` is empty)."""
        out: dict[str, Any] = {}
        for key, _ in FIELDS:
            out[key] = parse_field(key, self.query_one(f"#{_fid(key)}", Input).value)
        out["data.name"] = self.query_one(f"#{_fid('data.name')}", Select).value
        out["optim.name"] = self.query_one(f"#{_fid('optim.name')}", Select).value
        init = self.query_one(f"#{_fid('model.init')}", Select)
        if not init.disabled:
            out["model.init"] = init.value
        return out

    def refresh_presets(self) -> None:
        """List the presets again (after one was saved)."""
        self.query_one("#preset", Select).set_options([(n, n) for n in preset_names()])

    def device(self) -> tuple[str, int]:
        value = str(self.query_one("#cfg-device", Select).value)
        if value.startswith("all:"):
            return "cuda", int(value[4:])
        return ("" if value == "auto" else value), 0

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "preset-name":
            event.stop()
            self.check()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.select.id == "preset" and event.value != Select.NULL:
            self.post_message(self.PresetChosen(str(event.value)))
        self.check()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "start":
            self.post_message(self.StartRequested())
        elif event.button.id == "save-preset":
            self.post_message(self.SaveRequested(self.query_one("#preset-name", Input).value.strip()))
