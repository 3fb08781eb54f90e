"""Your own input for a run: an Input field answered from the run's latest checkpoint in a worker thread.

The model is loaded read-only on the CPU in this process (never the run's process, which is not
signalled) and loaded again only when the checkpoint file changes. The answer's lines show
below the field; its attention maps go up to the screen in an `Answered` message. A run whose
dataset has suggested inputs (fra-eng: the book's four sentences) offers them from the start:
named in the placeholder and completed as you type (right arrow accepts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static

from d2ltui.data.suggested import suggested_inputs
from d2ltui.errors import UserError
from d2ltui.rundir.store import CHECKPOINT
from d2ltui.rundir.store import read_config

PLACEHOLDER = "your own input: answered from the latest checkpoint"


class AskBox(Vertical):
    """An Input and the answer's lines; `/` on the dashboard focuses the Input."""

    DEFAULT_CSS = """
    AskBox { height: auto; padding: 0 1; }
    AskBox #answer { height: auto; max-height: 6; }
    """

    class Answered(Message):
        """An answer arrived (its attention maps, if any, for the heatmap view)."""

        def __init__(self, answer: dict[str, Any]) -> None:
            super().__init__()
            self.answer = answer

    def __init__(self, path: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self.path = Path(path)
        self._predictor = None
        self.answer: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        tries = suggested_inputs(read_config(self.path).get("data", {}).get("name"))
        yield Input(placeholder=f"/ {PLACEHOLDER}{tried(tries)}", id="ask", compact=True,
                    suggester=SuggestFromList(tries, case_sensitive=False) if tries else None)
        answer = Static("", id="answer")
        answer.display = False
        yield answer

    def say(self, text: Text) -> None:
        answer = self.query_one("#answer", Static)
        answer.update(text)
        answer.display = True

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.say(Text("thinking... (loading the checkpoint on the CPU)", "dim"))
        self.run_worker(lambda: self._answer(event.value), thread=True, exclusive=True, group="predict")

    def _answer(self, text: str) -> None:
        try:
            answer = self.predictor().answer(text)
        except UserError as err:
            self.app.call_from_thread(self._show_error, str(err))
            return
        except Exception as err:  # noqa: BLE001 - a view never dies of a model's failure
            self.app.call_from_thread(self._show_error, f"{type(err).__name__}: {str(err).splitlines()[0][:200]}")
            return
        self.app.call_from_thread(self._show, answer)

    def predictor(self):
        """The run's model, reloaded when its checkpoint changed since the last question."""
        from d2ltui.engine.analysis.predict import load_predictor

        try:
            mtime = (self.path / CHECKPOINT).stat().st_mtime
        except OSError:
            mtime = None
        if self._predictor is None or self._predictor.checkpoint_mtime != mtime:
            self._predictor = load_predictor(self.path)
            self.app.call_from_thread(self._placeholder, self._predictor)
        return self._predictor

    def _placeholder(self, predictor) -> None:
        self.query_one(Input).placeholder = f"/ {predictor.hint()}, answered at step {predictor.step}" \
            f"{tried(predictor.suggestions())}"

    def _show(self, answer: dict[str, Any]) -> None:
        from d2ltui.engine.analysis.predict import answer_lines

        self.answer = answer
        self.say(Text("\n".join(answer_lines(answer)) or "(no answer)"))
        self.post_message(self.Answered(answer))

    def _show_error(self, message: str) -> None:
        self.say(Text(message, "bold red"))


def tried(tries: list[str]) -> str:
    return f" (try: {' | '.join(tries)})" if tries else ""
