"""The augmentation preview: one image of the panel's dataset and a 2x4 grid per transform (book 14.1)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class AugmentScreen(ModalScreen[None]):
    """Computed in a worker (it loads the data and torch); `esc` or Close returns to the panel."""

    BINDINGS = [Binding("escape", "close", "back")]

    def __init__(self, data: dict[str, Any], augment: list[str], seed: int = 0) -> None:
        super().__init__()
        self.data, self.augment, self.seed = data, augment, seed

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="augment-preview", classes="dialog"):
            yield Static(Text("drawing the augmentations..."), id="augment-body")
            yield Button("Close", id="augment-close")

    def on_mount(self) -> None:
        self.run_worker(self.compute, thread=True, exclusive=True, name="augment-preview")

    def compute(self) -> None:
        from d2ltui.render.pictures import render_preview
        from d2ltui.config.schema import DataConfig
        from d2ltui.data.preview import make_preview, parse_augments
        from d2ltui.errors import UserError

        try:
            cfg = DataConfig(**{**self.data, "num_train": 8, "num_val": 8, "augment": []})
            names = parse_augments(self.augment or None)
            if self.augment:  # the panel's list: each alone and, with several, their composition
                names = names + (["+".join(names)] if len(names) > 1 else [])
            text = render_preview(make_preview(cfg, names, seed=self.seed), cell=14)
        except (UserError, TypeError) as err:
            text = Text(f"cannot preview: {err}", style="bold red")
        self.app.call_from_thread(self.query_one("#augment-body", Static).update, text)

    def on_button_pressed(self, _: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
