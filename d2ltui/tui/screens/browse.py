"""The home screen: catalog on the left; knobs, layer table and training panel on the right."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane

from d2ltui.errors import UserError
from d2ltui.tui.choices import list_presets, load_preset, save_preset
from d2ltui.tui.widgets.catalog import Catalog
from d2ltui.tui.widgets.config_panel import ConfigPanel
from d2ltui.tui.widgets.knob_bar import KnobBar
from d2ltui.tui.widgets.layer_table import LayerTable
from d2ltui.zoo.registry import get_spec

NORMS = ("none", "batch", "layer")


class BrowseScreen(Screen):
    """Pick a model, see its layers change with its knobs, configure and start a run."""

    BINDINGS = [
        Binding("c", "focus_catalog", "Catalog"),
        Binding("i", "focus_input", "Input"),
        Binding("b", "cycle_norm", "Norm"),
        Binding("l", "show_tab('layers')", "Layers"),
        Binding("t", "show_tab('train')", "Train"),
        Binding("s", "start", "Start"),
    ]

    def __init__(self, model: str = "lenet") -> None:
        super().__init__()
        self.model = model
        self.extra_knobs: dict[str, Any] = {}  # model knobs a preset sets beyond the knob bar's
        self._loaded = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield Catalog(id="catalog")
            with Vertical(id="right"):
                yield KnobBar(id="knobs")
                with TabbedContent(id="tabs", initial="layers"):
                    with TabPane("Layers", id="layers"):
                        yield LayerTable(id="inspector")
                    with TabPane("Train", id="train"):
                        yield ConfigPanel(id="config")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Catalog).focus()
        self.call_after_refresh(self.query_one(Catalog).select_model, self.model)

    def on_catalog_model_chosen(self, event: Catalog.ModelChosen) -> None:
        if event.name != self._loaded:
            self.load_model(event.name)

    def load_model(self, name: str) -> None:
        spec = get_spec(name)
        self.model, self._loaded, self.extra_knobs = spec.name, spec.name, {}
        self.sub_title = f"{spec.name}: {spec.doc}"
        self.query_one(KnobBar).load(spec)
        self.query_one(ConfigPanel).set_task(spec.task, "init" in spec.knobs)

    def on_knob_bar_changed(self, event: KnobBar.Changed) -> None:
        if event.valid:
            self.query_one(LayerTable).request(self.model, {**self.extra_knobs, **event.knobs}, event.input_text)

    # actions
    def action_focus_catalog(self) -> None:
        self.query_one(Catalog).focus()

    def action_focus_input(self) -> None:
        self.query_one("#input-shape").focus()

    def action_cycle_norm(self) -> None:
        norm = self.query_one("#knob-norm")
        if not norm.disabled:
            norm.value = NORMS[(NORMS.index(norm.value) + 1) % len(NORMS)]

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_start(self) -> None:
        panel, bar = self.query_one(ConfigPanel), self.query_one(KnobBar)
        errors = panel.errors() + ([] if bar.valid() else ["a knob above is invalid"])
        if errors:
            panel.check()
            self.action_show_tab("train")
            self.notify("; ".join(errors), title="cannot start", severity="error")
            return
        values = {**{f"model.{k}": v for k, v in {**self.extra_knobs, **bar.knobs()}.items()}, **panel.values()}
        overrides = [f"{key}={value}" for key, value in values.items()]
        device, nproc = panel.device()
        self.app.start_run(self.model, overrides, device, nproc)

    # presets
    def on_config_panel_start_requested(self, _: ConfigPanel.StartRequested) -> None:
        self.action_start()

    def on_config_panel_preset_chosen(self, event: ConfigPanel.PresetChosen) -> None:
        try:
            raw = load_preset(list_presets()[event.name])
        except (UserError, KeyError) as err:
            self.notify(str(err), title="preset", severity="error")
            return
        self.apply_config(raw)
        self.notify(f"loaded preset {event.name}")

    def apply_config(self, raw: dict[str, Any]) -> None:
        """Fill the catalog selection, knob bar and panel from a TOML-shaped config."""
        model = dict(raw.get("model", {}))
        name = model.pop("name", self.model)
        if name != self.model:
            self.load_model(name)
            self.query_one(Catalog).select_model(name)
        bar, panel = self.query_one(KnobBar), self.query_one(ConfigPanel)
        for knob in ("dropout", "norm", "num_classes"):
            if knob in model:
                bar.set_knob(knob, model.pop(knob))
        if "init" in model:
            panel.set_field("model.init", model.pop("init"))
        self.extra_knobs = model
        for section in ("data", "optim", "train"):
            for key, value in raw.get(section, {}).items():
                if panel.query(f"#cfg-{section}-{key}"):
                    panel.set_field(f"{section}.{key}", value)

    def on_config_panel_save_requested(self, event: ConfigPanel.SaveRequested) -> None:
        panel, bar = self.query_one(ConfigPanel), self.query_one(KnobBar)
        raw: dict[str, Any] = {"model": {"name": self.model, **self.extra_knobs, **bar.knobs()}}
        for key, value in panel.values().items():
            section, _, name = key.partition(".")
            raw.setdefault(section, {})[name] = value
        try:
            path = save_preset(event.name, raw)
        except (UserError, ValueError) as err:
            self.notify(str(err), title="preset", severity="error")
            return
        self.notify(f"saved preset {path.stem}")
