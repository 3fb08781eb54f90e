"""Modal dialogs: help, a yes/no confirmation, and the quit-while-running choice."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

HELP = """\
# d2l-tui

A workbench for the models of *Dive into Deep Learning*.

| key | where | does |
|---|---|---|
| `c` / `i` | home | focus the model catalog / the input shape |
| `b` | home | cycle normalisation none → batch → layer |
| `l` / `t` | home | layer table tab / train tab |
| `s` | home | start training with the panel's settings |
| `enter` | catalog | open a lab (in italics): change its knobs, its figure redraws; `ctrl+r` defaults |
| `r` | anywhere | the runs screen |
| `space` | dashboard | pause / resume the run |
| `x` | dashboard | stop the run (it checkpoints) |
| `m` | dashboard | smoothing on / off |
| `space` / `o` | runs | mark a run / overlay the marked runs and diff their settings |
| `enter` | runs | open the dashboard of a run |
| `u` / `d` | runs | resume a stopped or crashed run / delete a run (asks first) |
| `ctrl+p` | anywhere | command palette (every action) |
| `escape` | anywhere | back |
| `q` | anywhere | quit (asks first when a run goes on) |

Every field takes the mouse too. Invalid values are marked on their field; Start is refused until fixed.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        from textual.widgets import Markdown  # markdown-it is only loaded when help is asked for

        with Vertical(id="help", classes="dialog"):
            yield Markdown(HELP)
            yield Button("Close", id="close")

    def on_button_pressed(self, _: Button.Pressed) -> None:
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
