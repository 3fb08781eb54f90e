"""Modal dialogs: help (generated from the screens' key bindings), and a row-of-buttons choice."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

HELP_INTRO = "# d2l-tui\n\nA workbench for the models of *Dive into Deep Learning*.\n\n"
HELP_OUTRO = ("\n`ctrl+p` anywhere opens the command palette: type a fragment of a model, preset, lab, run or "
              "action and press enter. Every field takes the mouse too. "
              "Invalid values are marked on their field; Start is refused until fixed.\n")


def screens_with_keys() -> list[tuple[str, type]]:
    """(where, class) of the app and every screen whose keys the help lists."""
    from d2ltui.tui.app import WorkbenchApp
    from d2ltui.tui.screens.browse import BrowseScreen
    from d2ltui.tui.screens.compare import CompareScreen
    from d2ltui.tui.screens.dashboard import DashboardScreen
    from d2ltui.tui.screens.lab import LabScreen
    from d2ltui.tui.screens.lr_find import LrFindScreen
    from d2ltui.tui.screens.rung_sweep import RungSweepScreen
    from d2ltui.tui.screens.runs import RunsScreen

    return [("anywhere", WorkbenchApp), ("home", BrowseScreen), ("dashboard", DashboardScreen),
            ("runs", RunsScreen), ("compare", CompareScreen), ("sweep trials", RungSweepScreen),
            ("lab", LabScreen), ("lr range test", LrFindScreen)]


def help_rows() -> list[tuple[str, str, str]]:
    """(keys, where, what) for every binding of every screen, read from their BINDINGS."""
    rows = []
    for where, owner in screens_with_keys():
        for binding in owner.BINDINGS:
            keys = binding.key_display or " / ".join(binding.key.split(","))
            rows.append((keys, where, binding.tooltip or binding.description))
    return rows


def help_markdown() -> str:
    table = ["| key | where | does |", "|---|---|---|"]
    table += [f"| `{keys}` | {where} | {what} |" for keys, where, what in help_rows()]
    return HELP_INTRO + "\n".join(table) + "\n" + HELP_OUTRO


class HelpScreen(ModalScreen[None]):
    """The keys, scrolled with the arrows, PageUp/PageDown and Home/End; the keys that close it are on screen."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", key_display="esc / q / ?")]

    def compose(self) -> ComposeResult:
        from textual.containers import VerticalScroll
        from textual.widgets import Markdown  # markdown-it is only loaded when help is asked for

        close = self.BINDINGS[0]
        with Vertical(id="help", classes="dialog"):
            with VerticalScroll(id="help-body"):
                yield Markdown(help_markdown())
            yield Static(f"↑ ↓ PgUp PgDn Home End scroll · [b]{close.key_display}[/b] {close.description.lower()}",
                         id="help-keys")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def on_click(self, event) -> None:
        if event.widget is self:  # a click beside the dialog closes it
            self.dismiss()


class ChoiceScreen(ModalScreen[str]):
    """A question and a row of buttons; dismisses with the pressed button's id ('cancel' on escape)."""

    BINDINGS = [Binding("escape", "dismiss('cancel')", "Cancel")]

    def __init__(self, question: str, choices: list[tuple[str, str]]) -> None:
        super().__init__()
        self.question, self.choices = question, choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, id="question")
            with Horizontal(id="choices"):
                for choice_id, label in self.choices:
                    yield Button(label, id=choice_id, variant="error" if choice_id in ("stop", "delete") else "default")

    def on_mount(self) -> None:
        self.query_one(Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "cancel")
