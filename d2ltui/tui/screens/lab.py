"""A lab: its knobs on top, its figure below, recomputed off the event loop as the knobs change."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Static
from textual.worker import get_current_worker

from d2ltui.labs.figure import Figure
from d2ltui.labs.registry import get_lab
from d2ltui.tui.widgets.figure_view import FigureView
from d2ltui.tui.widgets.lab_knobs import LabKnobs

DEBOUNCE_S = 0.15


class LabScreen(Screen):
    """One of the book's interactive figures; every knob change redraws it (edits in a burst coalesce)."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", tooltip="back to the catalog"),
        Binding("ctrl+r", "defaults", "Defaults", tooltip="put every knob back to its default"),
        Binding("f", "focus_knobs", "Knobs", tooltip="focus the knobs (the figure redraws as they change)"),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.spec = get_lab(name)
        self.figure: Figure | None = None
        self.computed = 0  # figures shown so far (tests wait on it)
        self._wanted: dict[str, Any] | None = None
        self._wait: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield LabKnobs(self.spec, id="lab-knobs")
        yield FigureView(id="lab-figure")
        yield Static("", id="lab-notes")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = f"lab: {self.spec.name}"
        self.sub_title = f"{self.spec.title} (section {self.spec.section})"
        self.request(self.spec.defaults())

    def on_lab_knobs_changed(self, event: LabKnobs.Changed) -> None:
        if event.problems:
            self.query_one("#lab-notes", Static).update("[b red]" + "; ".join(event.problems).replace("[", r"\[") + "[/]")
            return
        self.request(event.knobs)

    def request(self, knobs: dict[str, Any]) -> None:
        """Compute soon: a burst of edits becomes one computation of the last values."""
        if knobs == (self.figure.knobs if self.figure else None) and self._wanted is None:
            return
        self._wanted = dict(knobs)
        if self._wait is not None:
            self._wait.stop()
        self._wait = self.set_timer(DEBOUNCE_S, self._start)

    def _start(self) -> None:
        knobs, self._wanted = self._wanted, None
        if knobs is not None:
            self.run_worker(lambda: self._compute(knobs), thread=True, exclusive=True, group="lab")

    def _compute(self, knobs: dict[str, Any]) -> None:
        try:
            figure = self.spec.compute_fn()(**knobs)
        except Exception as err:  # a lab that fails says so under the knobs; the app goes on
            self.app.call_from_thread(self.query_one("#lab-notes", Static).update,
                                      f"cannot compute: {type(err).__name__}: {err}".replace("[", r"\["))
            return
        if not get_current_worker().is_cancelled:  # a later edit's figure wins over a slow earlier one
            self.app.call_from_thread(self.show, figure)

    async def show(self, figure: Figure) -> None:
        self.figure = figure
        await self.query_one(FigureView).show(figure)
        self.query_one("#lab-notes", Static).update("\n".join(figure.notes))
        self.computed += 1

    def action_defaults(self) -> None:
        self.query_one(LabKnobs).reset()

    def action_focus_knobs(self) -> None:
        self.query_one(LabKnobs).query("Input, Select").first().focus()
