"""Open a model of your own: a path field that completes folders and .py files, and the models opened last."""

from __future__ import annotations

import json
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Static

from d2ltui.paths import recent_models_file
from d2ltui.zoo.references import FORMS, is_file_target, split

RECENT = 8  # how many opened models the catalog remembers


class PathSuggester(Suggester):
    """Completes the last path component with a folder (ending in /) or a .py file, in name order."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if ":" in value:
            return None
        folder, _, stem = value.rpartition("/")
        folder = folder + "/" if "/" in value else ""
        try:
            entries = sorted(Path(folder or ".").expanduser().iterdir())
        except OSError:
            return None
        for entry in entries:
            if entry.name.startswith(stem) and (stem.startswith(".") or not entry.name.startswith(".")):
                if entry.is_dir():
                    return folder + entry.name + "/"
                if entry.suffix == ".py":
                    return folder + entry.name + ":"
        return None


def absolute(ref: str) -> str:
    """A file reference with its path made absolute (the catalog remembers it from any folder)."""
    target, name = split(ref)
    return f"{Path(target).expanduser().resolve()}:{name}" if is_file_target(target) else ref


def recent_models() -> list[str]:
    """The references opened last, newest first ([] when none or unreadable)."""
    try:
        items = json.loads(recent_models_file().read_text())
    except (OSError, ValueError):
        return []
    return [i for i in items if isinstance(i, str)][:RECENT] if isinstance(items, list) else []


def remember_model(ref: str) -> list[str]:
    """Put `ref` first among the recent models (kept to RECENT); returns the new list."""
    items = [ref, *(r for r in recent_models() if r != ref)][:RECENT]
    path = recent_models_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(items, indent=1) + "\n")
    except OSError:
        pass  # remembering is a convenience: a read-only home still opens the model
    return items


class OpenModelScreen(ModalScreen[str]):
    """Asks for path/to/file.py:Name (or package.module:Name, torchvision:NAME); dismisses with it, '' on escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="open-model", classes="dialog"):
            yield Static(f"Open a model: {FORMS} (tab completes; a model file runs as Python with your rights)")
            yield Input(placeholder="models/net.py:Net", suggester=PathSuggester(), id="model-ref")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if ":" not in value or value.endswith(":"):
            self.notify(f"expected {FORMS}", severity="error")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss("")
