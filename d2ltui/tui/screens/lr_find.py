"""The learning-rate range test of the training panel's settings: run in a worker thread, drawn, its suggestion one key away."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from d2ltui.tui.widgets.figure_view import CurvesPlot

if TYPE_CHECKING:  # the config and the curve come with the engine, imported by the worker
    from d2ltui.config.schema import RunConfig
    from d2ltui.engine.analysis.lr_find import LrCurve

PROGRESS_EVERY = 10  # steps between progress lines


class LrFindScreen(Screen[float]):
    """Runs the range test for `cfg` off the event loop; enter dismisses with the suggested lr, esc with none."""

    DEFAULT_CSS = """
    LrFindScreen #lr-plot { height: 1fr; }
    LrFindScreen #lr-status, LrFindScreen #lr-result { height: auto; padding: 0 1; }
    """
    BINDINGS = [
        Binding("enter", "use", "Use lr", tooltip="put the suggested learning rate in the panel's lr field"),
        Binding("escape", "back", "Back", tooltip="back to the panel (stops a test still running)"),
    ]

    def __init__(self, cfg: RunConfig, steps: int | None = None) -> None:
        super().__init__()
        self.cfg, self.steps = cfg, steps
        self.curve: LrCurve | None = None
        self._cancelled = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="lr-status")
        yield CurvesPlot("lr range test", id="lr-plot")
        yield Static("", id="lr-result")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        cfg = self.cfg
        self.title = "lr range test"
        self.sub_title = f"{cfg.model.name} on {cfg.data.name}, batch {cfg.data.batch_size}, {cfg.optim.name}"
        self._status("starting (building data and model)")
        self.run_test()

    def _status(self, line: str) -> None:
        self.query_one("#lr-status", Static).update(Text(line, style="dim"))

    def run_test(self) -> None:
        self.run_worker(self._test, thread=True, exclusive=True, group="lr-find")

    def _test(self) -> None:
        """In the worker thread: the test (torch is imported here), then the drawing on the event loop."""
        import torch

        from d2ltui.engine.analysis.lr_find import STEPS, find_lr
        from d2ltui.errors import UserError

        # one thread, as the runs the TUI starts: the other core stays with the screen (two threads of small
        # steps beside a busy event loop wait on each other)
        torch.set_num_threads(1)
        steps = self.steps or STEPS

        def progress(done: int, total: int) -> bool:
            if done % PROGRESS_EVERY == 0 and not self._cancelled:
                self._later(self._status, f"running: step {done} of at most {total}")
            return not self._cancelled

        try:
            curve = find_lr(self.cfg, steps, progress=progress)
        except UserError as err:
            self._later(self._failed, str(err))
            return
        except Exception as err:  # noqa: BLE001 - a model or data that fails: said on the screen, not a crash
            self._later(self._failed, f"{type(err).__name__}: {err}")
            return
        self._later(self._show, curve)

    def _later(self, fn, *args) -> None:
        """Call `fn(*args)` on the event loop if the screen is still up."""
        if not self._cancelled:
            try:
                self.app.call_from_thread(fn, *args)
            except RuntimeError:  # the app is closing
                pass

    def _failed(self, message: str) -> None:
        if self.is_attached:
            self._status("")
            self.query_one("#lr-result", Static).update(Text(f"the range test failed: {message}", style="bold red"))

    def _show(self, curve: LrCurve) -> None:
        if not self.is_attached:
            return
        self.curve = curve
        plot, figure = self.query_one("#lr-plot", CurvesPlot), curve.figure()
        plot.title = figure.title
        plot.show(figure)
        self._status(f"{curve.stopped}; {len(curve.lrs)} steps")
        text = Text()
        if curve.suggested_lr is None:
            text.append("no suggestion: the loss never fell (more steps or another optimizer may help)", "bold red")
        else:
            text.append(f"suggested lr {curve.suggested_lr:g}", "bold green")
            text.append(" (steepest descent)   enter: into the lr field   esc: back")
        self.query_one("#lr-result", Static).update(text)

    def action_use(self) -> None:
        if self.curve is not None and self.curve.suggested_lr is not None:
            self.dismiss(self.curve.suggested_lr)

    def action_back(self) -> None:
        self._cancelled = True
        self.dismiss(None)
