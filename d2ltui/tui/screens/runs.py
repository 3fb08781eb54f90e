"""Every run (live and finished), sweeps with their members: open, select several to compare, resume, delete."""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from d2ltui.errors import UserError
from d2ltui.rundir.states import LIVE_STATES, RunState
from d2ltui.rundir.index import RunSummary
from d2ltui.rundir.runs import list_runs
from d2ltui.tui.runlog import best_text, duration_text
from d2ltui.tui.screens.dialogs import ChoiceScreen

COLUMNS = ("", "run", "state", "model", "data", "best", "duration")


def run_label(run: RunSummary) -> str:
    """A sweep's row says so; its members follow it, indented under it."""
    if run.kind == "sweep":
        return f"▸ {run.id} ({run.message.removeprefix('sweep: ')})"
    return f"  └ {run.id.split('/', 1)[1]}" if run.sweep else run.id


class RunsScreen(Screen):
    BINDINGS = [
        Binding("space", "toggle_mark", "Mark", tooltip="mark a run"),
        Binding("enter", "open", "Open", tooltip="open the dashboard of a run"),
        Binding("o", "overlay", "Overlay", tooltip="overlay the marked runs and diff their settings"),
        Binding("u", "resume", "Resume", tooltip="resume a stopped or crashed run"),
        Binding("d", "delete", "Delete", tooltip="delete a run (asks first)"),
        Binding("escape", "app.pop_screen", "Back", tooltip="back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[RunSummary] = []
        self.marked: set[str] = set()
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="runs-hint")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "runs"
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.reload()
        self.set_interval(1.0, self.reload)

    def reload(self) -> None:
        """Re-read the runs folder in a worker thread (long runs have long metrics files)."""
        self.run_worker(self._gather, thread=True, exclusive=True, group="runs")

    def _gather(self) -> None:
        try:
            runs = list_runs(self.app.runs_dir)
        except (UserError, OSError) as err:  # a runs folder that is a file or cannot be read: one line, no crash
            self.app.call_from_thread(self._refused, str(err))
            return
        self.app.call_from_thread(self._show, runs)

    def _refused(self, message: str) -> None:
        self.loaded = True
        self.query_one("#runs-hint", Static).update(Text(message, style="bold red"))

    def _show(self, runs: list[RunSummary]) -> None:
        table = self.query_one(DataTable)
        self.runs = runs
        self.loaded = True
        cursor = table.cursor_row
        table.clear()
        for run in self.runs:
            mark = "●" if run.id in self.marked else " "
            table.add_row(mark, run_label(run), run.state, run.model, run.data, best_text(run), duration_text(run),
                          key=run.id)
        if self.runs:
            table.move_cursor(row=min(cursor, len(self.runs) - 1))
        hint = "no runs yet: start one from the Train tab" if not self.runs else \
            f"{len(self.runs)} runs, {len(self.marked)} marked (space marks, o overlays)"
        self.query_one("#runs-hint", Static).update(hint)

    def current(self) -> RunSummary | None:
        table = self.query_one(DataTable)
        return self.runs[table.cursor_row] if self.runs and 0 <= table.cursor_row < len(self.runs) else None

    def action_toggle_mark(self) -> None:
        if run := self.current():
            self.marked ^= {run.id}
            self._show(self.runs)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        run = self.current()
        if run and run.kind == "sweep":
            self.open_sweep(run)
        elif run and run.state == RunState.PENDING:
            self.notify(f"{run.id} has not started yet", severity="warning")
        elif run:
            self.app.open_run(Path(run.path))

    def open_sweep(self, run: RunSummary) -> None:
        from d2ltui.rundir.sweeps import read_sweep
        from d2ltui.tui.screens.rung_sweep import RungSweepScreen
        from d2ltui.tui.screens.sweep import SweepScreen

        scheduled = read_sweep(Path(run.path)).get("scheduler")  # successive halving, ASHA: the rung view
        self.app.push_screen((RungSweepScreen if scheduled else SweepScreen)(Path(run.path)))

    def action_overlay(self) -> None:
        from d2ltui.tui.screens.compare import CompareScreen

        if not self.marked and (run := self.current()) and run.kind == "sweep":
            self.open_sweep(run)
            return
        chosen = [Path(r.path) for r in self.runs if r.id in self.marked and r.kind == "run" and r.state != RunState.PENDING] \
            or ([Path(self.current().path)] if self.current() and self.current().kind == "run" else [])
        if chosen:
            self.app.push_screen(CompareScreen(chosen))

    def action_resume(self) -> None:
        run = self.current()
        if run is None:
            return
        if run.kind == "sweep" or run.sweep:
            name = run.sweep or run.id
            self.notify(f"a sweep resumes as a whole: `d2l-tui sweep --resume {name}`", severity="warning")
            return
        if run.state not in ("stopped", "crashed", "failed"):
            self.notify(f"{run.id} is {run.state}: only a stopped or crashed run resumes", severity="warning")
            return
        self.app.start_run(resume=run.id)

    def action_delete(self) -> None:
        run = self.current()
        if run is None:
            return
        if run.state in LIVE_STATES:
            self.notify(f"{run.id} is {run.state}: stop it first", severity="warning")
            return

        def decided(choice: str | None) -> None:
            if choice == "delete":
                failures: list[str] = []
                shutil.rmtree(run.path, onerror=lambda _f, _p, exc: failures.append(str(exc[1])))
                if failures:  # a read-only folder: say so, never "deleted"
                    self.notify(f"{run.id} not deleted: {failures[0]}", title="delete", severity="error")
                else:
                    self.marked.discard(run.id)
                    self.notify(f"deleted {run.id}")
                self.reload()

        self.app.push_screen(ChoiceScreen(f"Delete run {run.id} and its checkpoint?",
                                          [("delete", "Delete"), ("cancel", "Cancel")]), decided)
