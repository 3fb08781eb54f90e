"""Every run (live and finished), sweeps with their members: open, select several to compare, resume, delete."""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Static

from d2ltui.errors import UserError
from d2ltui.rundir.index import RunSummary
from d2ltui.rundir.states import LIVE_STATES, RunState
from d2ltui.tui.runlog import best_text, duration_text
from d2ltui.tui.runrows import RunEntry, Summaries, run_entries
from d2ltui.tui.screens.dialogs import ChoiceScreen

COLUMNS = ("mark", "run", "state", "model", "best", "data", "duration")  # the order on screen
LABELS = {"mark": "", "run": "run", "state": "state", "model": "model", "best": "best", "data": "data",
          "duration": "duration"}
DROP_ORDER = ("duration", "data", "model", "best", "state")  # dropped first when the screen is narrow
CHUNK = 200  # rows added to the table a frame (thousands at once would freeze the screen)
MARGIN = 10  # rows beyond the visible ones summarised ahead of scrolling


def run_label(run: RunSummary) -> str:
    """A sweep's row says so; its members follow it, indented under it."""
    if run.kind == "sweep":
        return f"▸ {run.id} ({run.message.removeprefix('sweep: ')})" if run.message else f"▸ {run.id}"
    return f"  └ {run.id.split('/', 1)[1]}" if run.sweep else run.id


def cells(run: RunSummary, marked: bool) -> dict[str, str]:
    """A row's text per column; a run not read yet shows only its id."""
    known = bool(run.state)
    return {"mark": "●" if marked else " ", "run": run_label(run), "state": run.state, "model": run.model,
            "data": run.data, "best": best_text(run) if known else "", "duration": duration_text(run) if known else ""}


def fit_columns(widths: dict[str, int], room: int, padding: int = 2) -> list[str]:
    """The columns that fit in `room` cells, whole: the least needed dropped first, the run id never."""
    keep = list(COLUMNS)
    for column in DROP_ORDER:
        if sum(widths[c] + padding for c in keep) <= room:
            break
        keep.remove(column)
    return keep


class RunTable(DataTable):
    """The runs as rows: Home and End go to the first and last run (a row cursor has no columns to visit)."""

    BINDINGS = [Binding("home", "scroll_top", "First", show=False), Binding("end", "scroll_bottom", "Last", show=False)]


class RunsScreen(Screen):
    BINDINGS = [
        Binding("enter", "open", "Open", tooltip="open the dashboard of a run"),
        Binding("space", "toggle_mark", "Mark", tooltip="mark a run"),
        Binding("o", "overlay", "Overlay", tooltip="overlay the marked runs and diff their settings"),
        Binding("u", "resume", "Resume", tooltip="resume a stopped or crashed run"),
        Binding("d", "delete", "Delete", tooltip="delete a run (asks first)"),
        Binding("escape", "app.pop_screen", "Back", tooltip="back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[RunEntry] = []
        self.runs: list[RunSummary] = []  # one per entry: its summary once read, a placeholder before
        self.summaries = Summaries()
        self.marked: set[str] = set()
        self.loaded = False
        self.widths = {c: len(LABELS[c]) for c in COLUMNS}
        self.shown: list[str] = []  # the columns on screen
        self.added = 0  # rows in the table so far (they are added a chunk a frame)
        self._build = 0  # bumped on every rebuild: a chunk of an older build stops
        self._scroll_wait: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield RunTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="runs-hint")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "runs"
        table = self.query_one(DataTable)
        self.watch(table, "scroll_y", self._scrolled, init=False)
        self.reload()
        self.set_interval(1.0, self.reload)

    def visible(self) -> range:
        """The rows on screen (and a few beyond): only these are read."""
        table = self.query_one(DataTable)
        first = max(0, int(table.scroll_y) - MARGIN)
        return range(first, int(table.scroll_y) + max(table.size.height, 24) + MARGIN)

    def reload(self) -> None:
        """List the runs folder again and read the shown rows, in a worker thread."""
        wanted = self.visible()
        self.run_worker(lambda: self._gather(wanted), thread=True, exclusive=True, group="runs")

    def _gather(self, wanted: range) -> None:
        try:
            entries = run_entries(self.app.runs_dir)
        except (UserError, OSError) as err:  # a runs folder that is a file or cannot be read: one line, no crash
            self.app.call_from_thread(self._refused, str(err))
            return
        read = {entry.id: self.summaries.read(entry) for entry in entries[wanted.start:wanted.stop]}
        self.app.call_from_thread(self._show, entries, read)

    def _scrolled(self) -> None:
        """Rows scrolled into view are read once the scrolling rests."""
        if self._scroll_wait is not None:
            self._scroll_wait.stop()
        self._scroll_wait = self.set_timer(0.05, self._read_visible)

    def _read_visible(self) -> None:
        wanted = [e for e in self.entries[self.visible().start:self.visible().stop] if self.summaries.get(e) is None]
        if wanted:
            self.run_worker(lambda: self.app.call_from_thread(
                self._show, self.entries, {e.id: self.summaries.read(e) for e in wanted}),
                thread=True, exclusive=True, group="rows")

    def _show(self, entries: list[RunEntry], read: dict[str, RunSummary]) -> None:
        """New rows: a new listing rebuilds the table; new summaries update their rows' cells."""
        if [e.id for e in entries] != [e.id for e in self.entries]:
            self.entries = entries
            self.runs = [self.summaries.row(e) for e in entries]
            self.marked &= {e.id for e in entries}
            self._note_widths(self.runs)
            self.rebuild()
        else:
            index = {e.id: i for i, e in enumerate(self.entries)}
            changed = [(index[k], run) for k, run in read.items() if k in index and run != self.runs[index[k]]]
            for i, run in changed:
                self.runs[i] = run
            if self._note_widths([run for _, run in changed]):
                self.rebuild()
            else:
                for i, run in changed:
                    self._update_row(i)
        self.loaded = True
        self._hint()

    def _note_widths(self, runs: list[RunSummary]) -> bool:
        """Widen the columns for these rows; whether the table must be rebuilt (a shown column widened, or the
        columns that fit have changed)."""
        before = [self.widths[c] for c in self.shown]
        for run in runs:
            for column, text in cells(run, True).items():
                self.widths[column] = max(self.widths[column], len(text))
        return self.fitted() != self.shown or before != [self.widths[c] for c in self.shown]

    def fitted(self) -> list[str]:
        room = (self.size.width or self.app.size.width) - self.query_one(DataTable).styles.scrollbar_size_vertical
        return fit_columns(self.widths, room)  # the table spans the screen's width

    def on_resize(self) -> None:
        if self.entries and self.fitted() != self.shown:
            self.rebuild()

    def rebuild(self) -> None:
        """The table again from self.runs: the columns that fit, then the rows a chunk a frame."""
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        self._build += 1
        self.shown, self.added = self.fitted(), 0
        table.clear(columns=True)
        for column in self.shown:
            table.add_column(LABELS[column], key=column, width=self.widths[column])  # whole words, never cut
        self._add_rows(self._build, cursor)

    def _add_rows(self, build: int, cursor: int) -> None:
        if build != self._build or not self.is_attached:
            return
        table = self.query_one(DataTable)
        start, self.added = self.added, min(len(self.runs), self.added + CHUNK)
        table.add_rows([self._row(i) for i in range(start, self.added)])
        if start <= cursor < self.added:
            table.move_cursor(row=cursor)
        if self.added < len(self.runs):
            self.call_after_refresh(self._add_rows, build, cursor)

    def _row(self, i: int) -> list[str]:
        texts = cells(self.runs[i], self.runs[i].id in self.marked)
        return [texts[c] for c in self.shown]

    def _update_row(self, i: int) -> None:
        if i >= self.added:
            return  # its row is not in the table yet: it is added with its summary
        table = self.query_one(DataTable)
        for column, text in zip(self.shown, self._row(i)):
            table.update_cell_at(Coordinate(i, self.shown.index(column)), text)

    def _refused(self, message: str) -> None:
        self.loaded = True
        self.query_one("#runs-hint", Static).update(Text(message, style="bold red"))

    def _hint(self) -> None:
        hint = "no runs yet: start one from the Train tab" if not self.runs else \
            f"{len(self.runs)} runs, {len(self.marked)} marked (space marks, o overlays)"
        self.query_one("#runs-hint", Static).update(hint)

    def current(self) -> RunSummary | None:
        """The cursor's run, read now if it was not yet."""
        row = self.query_one(DataTable).cursor_row
        if not 0 <= row < len(self.runs):
            return None
        if not self.runs[row].state:
            self.runs[row] = self.summaries.read(self.entries[row])
            self._update_row(row)
        return self.runs[row]

    def action_toggle_mark(self) -> None:
        if run := self.current():
            self.marked ^= {run.id}
            self._update_row(self.query_one(DataTable).cursor_row)
            self._hint()

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

    def overlay_with(self, path: Path) -> None:
        """The palette's "overlay": this run over the marked ones."""
        from d2ltui.tui.screens.compare import CompareScreen

        marked = [Path(r.path) for r in self.runs if r.id in self.marked and r.kind == "run"]
        self.app.push_screen(CompareScreen([*marked, *([path] if path not in marked else [])]))
