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

FOLLOWED = [k for k, _ in FIELDS] + ["optim.name", "model.init"]  # the fields a config fills


def shown(raw: dict[str, Any], key: str) -> Any:
    """The value a field shows for a TOML-shaped config: its own, else the config default."""
    section, _, name = key.partition(".")
    return raw.get(section, {}).get(name, "default" if key == "model.init" else DEFAULTS[key])


def _as_field(widget: Any, value: Any) -> Any:
    """`value` as the widget holds it: a Select its value, an Input text (lists comma-joined)."""
    if isinstance(widget, Select):
        return value
    return ",".join(value) if isinstance(value, list) else str(value)


class ConfigPanel(VerticalScroll):
    """Everything a run needs besides the model knobs of the knob bar."""

    class StartRequested(Message):
        """The user asked to start training with the panel's settings."""

    class PresetChosen(Message):
        def __init__(self, name: str) -> None:
            self.name = name
            super().__init__()

    class DeviceKindChanged(Message):
        """The device the run would train on became a CPU ('cpu') or an accelerator ('gpu')."""

        def __init__(self, kind: str) -> None:
            self.kind = kind
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
            yield Button("Augment", id="preview-augment")

    def on_mount(self) -> None:
        titles = {"data.name": "dataset", "optim.name": "optimizer", "model.init": "init"}
        titles |= dict(FIELDS)
        for key, title in titles.items():
            set_title(self.query_one(f"#{_fid(key)}"), title)
        set_title(self.query_one("#cfg-device"), "device")
        self._devices_asked = self.devices_listed = False
        self.auto_kind = "cpu"  # what "auto" picks: the CPU until the device list shows an accelerator
        self.load({})

    def load(self, raw: dict[str, Any]) -> None:
        """Fill every field from a TOML-shaped config; missing keys take the config defaults."""
        for key in FOLLOWED:
            self.set_field(key, shown(raw, key))
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
        self.auto_kind = "gpu" if any(value != "cpu" for _, value in options) else "cpu"
        self.devices_listed = True
        self.post_message(self.DeviceKindChanged(self.device_kind()))

    def follow(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Fields still showing `old`'s value take `new`'s (the user's own edits stay)."""
        for key in FOLLOWED:
            widget = self.query_one(f"#{_fid(key)}")
            if widget.value == _as_field(widget, shown(old, key)):
                self.set_field(key, shown(new, key))

    def device_kind(self) -> str:
        """'cpu' or 'gpu': the kind of device the picker's choice trains on."""
        value = str(self.query_one("#cfg-device", Select).value)
        if value == "auto":
            return self.auto_kind
        return "cpu" if value == "cpu" else "gpu"

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
        widget.value = _as_field(widget, value)

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

    def preview_augmentation(self) -> None:
        """Open the augmentation preview for the panel's dataset, size and augmentation list."""
        from d2ltui.tui.screens.augment import AugmentScreen

        augment = [a.strip() for a in self.query_one(f"#{_fid('data.augment')}", Input).value.split(",") if a.strip()]
        name = self.query_one(f"#{_fid('data.name')}", Select).value
        resize = self.query_one(f"#{_fid('data.resize')}", Input).value.strip()
        data = {"name": str(name) if name != Select.NULL else "shapes",
                "resize": int(resize) if resize.isdigit() else 0}
        seed = self.query_one(f"#{_fid('train.seed')}", Input).value.strip()
        self.app.push_screen(AugmentScreen(data, augment, int(seed or 0)))

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
        elif event.select.id == "cfg-device":
            self.post_message(self.DeviceKindChanged(self.device_kind()))
        self.check()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "start":
            self.post_message(self.StartRequested())
        elif event.button.id == "preview-augment":
            self.preview_augmentation()
        elif event.button.id == "save-preset":
            self.post_message(self.SaveRequested(self.query_one("#preset-name", Input).value.strip()))
