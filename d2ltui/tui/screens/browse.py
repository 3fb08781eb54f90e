"""The home screen: catalog on the left; knobs, layer table and training panel on the right."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header

from d2ltui.errors import UserError
from d2ltui.tui import HOME_MODEL
from d2ltui.tui.widgets.catalog import Catalog
from d2ltui.zoo.catalog import NORMS
from d2ltui.zoo.registry import get_spec

if TYPE_CHECKING:  # the right-hand side, panel, presets and run plans load after the first paint
    from textual.widgets import TabbedContent

    from d2ltui.tui.runplan import RunPlan
    from d2ltui.tui.widgets.config_panel import ConfigPanel
    from d2ltui.tui.widgets.knob_bar import KnobBar

FRAME_GRACE = 0.1  # seconds the first frame gets to reach the terminal before the right side is built


class BrowseScreen(Screen):
    """Pick a model, see its layers change with its knobs, configure and start a run."""

    BINDINGS = [  # the footer shows the first ones (80 columns hold these); the rest are in help and the palette
        Binding("s", "start", "Start", tooltip="start training with the panel's settings"),
        Binding("t", "show_tab('train')", "Train", tooltip="the training panel tab"),
        Binding("l", "show_tab('layers')", "Table", tooltip="the layer table tab"),
        Binding("p", "show_tab('parameters')", "Params", tooltip="the parameters tab (tied and lazy tensors marked)"),
        Binding("b", "cycle_norm", "Norm", tooltip="cycle normalisation none → batch → layer"),
        Binding("f", "lr_find", "Find lr", show=False,  # 80 columns hold no more: in help and the palette
                tooltip="the learning-rate range test of the panel's settings "
                "(enter there puts its suggestion in the lr field)"),
        Binding("i", "focus_input", "Input", show=False, tooltip="focus the input shape"),
        Binding("c", "focus_catalog", "Models", show=False, tooltip="focus the model catalog"),
    ]

    def __init__(self, model: str = HOME_MODEL) -> None:
        super().__init__()
        self.model = model
        self.plan: RunPlan | None = None  # the base config: the model's defaults or a loaded preset
        self._loaded = self._wanted = ""
        self.device_kind = "cpu"  # the kind of device the panel's choice trains on: picks the model's defaults
        self._rest: Timer | None = None
        self._early_tab: str | None = None  # a tab asked for before the tabs were mounted
        self._early_preset: str | None = None  # a preset asked for (from the palette) before the panel could take it

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield Catalog(id="catalog")
            yield Vertical(id="right")  # filled just after the first paint (see on_mount)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        catalog = self.query_one(Catalog)
        catalog.focus()
        self.call_after_refresh(catalog.select_model, self.model)
        # Queued behind the first frame, then a short idle wait: Textual writes frames from its own
        # thread, which the right side's mount would otherwise keep from the CPU (on a busy machine
        # the catalog showed up to 0.5 s later in tmux).
        self.call_later(self.call_after_refresh, self.set_timer, FRAME_GRACE, self._fill_right)

    async def _fill_right(self) -> None:
        """The knobs and tabs (a good part of the screen's start-up cost) follow the first frame."""
        right = self.query_one("#right")
        if not right.is_attached:  # the app quit before its second frame
            return
        from d2ltui.tui import prefetch

        prefetch.painted()  # the helper summarising the first table (if any) need no longer yield to us
        from textual.widgets import TabbedContent, TabPane

        from d2ltui.tui.widgets.knob_bar import KnobBar
        from d2ltui.tui.widgets.layer_table import LayerTable
        from d2ltui.tui.widgets.param_table import ParamTable

        tabs = TabbedContent(id="tabs", initial="layers")
        tabs.compose_add_child(TabPane("Layers", LayerTable(id="inspector"), id="layers"))
        tabs.compose_add_child(TabPane("Parameters", ParamTable(id="params"), id="parameters"))
        tabs.compose_add_child(TabPane("Train", id="train"))  # its panel is built when first shown
        await right.mount(KnobBar(id="knobs"), tabs)
        self._load_wanted()  # the model the cursor rests on (it may have moved already)
        if self._early_tab:  # a tab key pressed before the tabs were there still counts
            await self.action_show_tab(self._early_tab)
        if self._early_preset:
            await self.open_preset(self._early_preset)

    @property
    def ready(self) -> bool:
        """Whether the knobs and tabs are mounted (keys that need them do nothing before)."""
        return bool(self.query("#knobs"))

    def on_catalog_model_chosen(self, event: Catalog.ModelChosen) -> None:
        """Coalesce a run of cursor moves: the knobs and table follow once the cursor rests."""
        self._wanted = event.name
        if self._rest is not None:
            self._rest.stop()  # the cursor moved again: wait for it to rest
        self._rest = self.set_timer(0.08, self._load_wanted)

    def on_catalog_lab_highlighted(self, event: Catalog.LabHighlighted) -> None:
        lab = self.query_one(Catalog).labs[event.name]
        self.sub_title = f"lab {lab.name}: {lab.title} (enter opens it)"

    def on_catalog_lab_chosen(self, event: Catalog.LabChosen) -> None:
        from d2ltui.tui.screens.lab import LabScreen

        self.app.push_screen(LabScreen(event.name))

    def on_catalog_open_requested(self, _: Catalog.OpenRequested) -> None:
        from d2ltui.tui.widgets.open_model import OpenModelScreen

        self.app.push_screen(OpenModelScreen(), self.open_model)

    def open_model(self, ref: str | None) -> None:
        """Load your own model by reference, remember it, and choose it in the catalog."""
        if not ref:
            return
        from d2ltui.tui.widgets.open_model import absolute, remember_model

        try:
            ref = absolute(ref)
            get_spec(ref)
        except UserError as err:
            self.notify(str(err), title="open a model", severity="error")
            return
        remember_model(ref)
        catalog = self.query_one(Catalog)
        catalog.add_own(ref)
        self.call_after_refresh(catalog.select_model, ref)  # the new leaf has a line once the tree is laid out

    def _load_wanted(self) -> None:
        if self.ready and self._wanted and self._wanted != self._loaded:
            self.load_model(self._wanted)

    def load_model(self, name: str) -> None:
        from d2ltui.tui.runplan import RunPlan

        try:
            spec = get_spec(name)  # your own model's file may have changed or gone since it was opened
        except UserError as err:
            self.notify(str(err), title=name, severity="error")
            return
        self.model, self._loaded, self.plan = spec.name, spec.name, RunPlan.for_model(spec.name, self.device_kind)
        self.sub_title = f"{spec.name}: {spec.doc}"
        self.query_one("#knobs").load(spec)
        if self.query("#config"):
            self.fill_panel(self.plan.base)
            self.query_one("#config").show_preset(None)  # the model's defaults now, no preset's

    def fill_panel(self, raw: dict[str, Any]) -> None:
        spec = get_spec(self.model)
        panel = self.query_one("#config")
        panel.set_task(spec.task, "init" in spec.knobs)
        panel.load(raw)

    async def panel(self) -> ConfigPanel:
        """The configuration panel, built on first use (the first paint does not pay for it)."""
        from d2ltui.tui.widgets.config_panel import ConfigPanel

        if not self.query(ConfigPanel):
            await self.query_one("#train").mount(ConfigPanel(id="config"))
            self.fill_panel(self.plan.base if self.plan else {})
        return self.query_one(ConfigPanel)

    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "train":
            await self.panel()
        elif event.pane.id == "parameters":
            self.query_one("#params").activate()

    def on_config_panel_device_kind_changed(self, event: ConfigPanel.DeviceKindChanged) -> None:
        """The model's defaults follow the device (the book's settings on a GPU); the user's edits stay."""
        from d2ltui.tui.runplan import RunPlan

        self.device_kind = event.kind
        if self.plan is None or not self.plan.kind or self.plan.kind == event.kind:
            return  # a loaded preset keeps its settings whatever the device
        old, self.plan = self.plan, RunPlan.for_model(self.model, event.kind)
        self.query_one("#config").follow(old.base, self.plan.base)

    def on_knob_bar_changed(self, event: KnobBar.Changed) -> None:
        if event.valid:
            knobs = {**self.base_knobs(), **event.knobs}
            self.query_one("#inspector").request(self.model, knobs, event.input_text)
            self.query_one("#params").request(self.model, knobs, event.input_text)
        else:
            self.query_one("#inspector").show_problems(event.problems)

    def base_knobs(self) -> dict[str, Any]:
        """Model knobs the base config sets beyond the knob bar's (e.g. a preset's activation)."""
        return self.plan.model_knobs() if self.plan else {}

    # actions
    def action_focus_catalog(self) -> None:
        self.query_one(Catalog).focus()

    def action_focus_input(self) -> None:
        if self.ready:
            self.query_one("#input-shape").focus()

    def action_cycle_norm(self) -> None:
        if not self.ready:
            return
        norm = self.query_one("#knob-norm")
        if not norm.disabled:
            norm.value = NORMS[(NORMS.index(norm.value) + 1) % len(NORMS)]

    async def action_show_tab(self, tab: str) -> None:
        if not self.ready:
            self._early_tab = tab
            return
        self._early_tab = None
        self.query_one("#tabs").active = tab
        if tab == "train":
            panel = await self.panel()
            panel.query_one("#cfg-data-name").focus()

    async def panel_config(self, what: str = "start") -> tuple[Any, int]:
        """The validated RunConfig of the knob bar and panel and its process count; (None, 0) after saying
        what is wrong (the panel shown, its bad fields marked)."""
        panel, bar = await self.panel(), self.query_one("#knobs")
        errors = panel.errors() + ([] if bar.valid() else ["a knob above is invalid"])
        cfg = None
        device, nproc = panel.device()
        if not errors and self.plan is not None:
            knobs = {f"model.{k}": v for k, v in bar.knobs(every=True).items()}
            try:
                cfg = self.plan.with_values({**knobs, **panel.values()}).config(device)
            except UserError as err:
                errors.append(str(err))
        if errors or cfg is None:
            panel.check()
            await self.action_show_tab("train")
            self.notify("; ".join(errors), title=f"cannot {what}", severity="error")
            return None, 0
        return cfg, nproc

    async def action_start(self) -> None:
        if not self.ready:
            return
        cfg, nproc = await self.panel_config()
        if cfg is not None:
            self.app.start_run(cfg, nproc)

    async def action_lr_find(self) -> None:
        """The range test of the panel's settings on its own screen; its suggestion comes back to the lr field."""
        if not self.ready:
            return
        cfg, _ = await self.panel_config("find a learning rate")
        if cfg is None:
            return
        from d2ltui.tui.screens.lr_find import LrFindScreen

        self.app.push_screen(LrFindScreen(cfg), self.use_lr)

    def use_lr(self, lr: float | None) -> None:
        if lr is not None:
            self.query_one("#config").set_field("optim.lr", f"{lr:g}")
            self.notify(f"lr {lr:g} from the range test")

    def show_model(self, name: str) -> None:
        """Put the catalog's cursor on `name` (its layers follow) and show the layer table."""
        catalog = self.query_one(Catalog)
        catalog.select_model(name)
        catalog.focus()
        if self.ready:
            self.query_one("#tabs").active = "layers"

    # presets
    async def open_preset(self, name: str) -> None:
        """Load preset `name` into the training panel and show it."""
        if not self.ready:
            self._early_preset = name
            return
        self._early_preset = None
        await self.load_preset(name)
        await self.action_show_tab("train")

    async def on_config_panel_start_requested(self, _: ConfigPanel.StartRequested) -> None:
        await self.action_start()

    async def on_config_panel_preset_chosen(self, event: ConfigPanel.PresetChosen) -> None:
        await self.load_preset(event.name)

    async def load_preset(self, name: str) -> None:
        from d2ltui.config.presets import load_preset

        try:
            raw = load_preset(name)
        except UserError as err:
            self.notify(str(err), title="preset", severity="error")
            return
        await self.apply_config(raw)
        (await self.panel()).show_preset(name)  # the model may have changed with it
        self.notify(f"loaded preset {name}")

    async def apply_config(self, raw: dict[str, Any]) -> None:
        """Make `raw` (TOML-shaped) the base config: select its model, fill the knob bar and panel."""
        name = raw.get("model", {}).get("name", self.model)
        if name != self.model:
            self.load_model(name)
            self.query_one(Catalog).select_model(name)
        from d2ltui.tui.runplan import BAR_KNOBS, RunPlan

        self.plan = RunPlan(raw)
        bar = self.query_one("#knobs")
        for knob in BAR_KNOBS:
            if knob in raw.get("model", {}):
                bar.set_knob(knob, raw["model"][knob])
        await self.panel()
        self.fill_panel(raw)

    async def on_config_panel_save_requested(self, event: ConfigPanel.SaveRequested) -> None:
        from d2ltui.config.presets import save_preset

        panel, bar = await self.panel(), self.query_one("#knobs")
        raw: dict[str, Any] = {"model": {"name": self.model, **self.base_knobs(), **bar.knobs()}}
        for key, value in panel.values().items():
            section, _, name = key.partition(".")
            raw.setdefault(section, {})[name] = value
        try:
            path = save_preset(event.name, raw)
        except (UserError, ValueError) as err:
            self.notify(str(err), title="preset", severity="error")
            return
        panel.refresh_presets()
        self.notify(f"saved preset {path.stem}")
