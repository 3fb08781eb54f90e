"""The inspector: a layer table with totals and the failure explanation, computed off the event loop."""

from __future__ import annotations

import threading
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from d2ltui.tui import prefetch
from d2ltui.tui.inspection import Inspection, inspect_model

_ONE_AT_A_TIME = threading.Lock()  # summaries trace torch globally: never two at once
COLUMNS = ("layer", "type", "output", "params", "FLOPs", "RF")
ATTENTION = "attn BxHxQxK"  # a column after the type when any row is an attention layer


def columns_for(result: Inspection) -> tuple[str, ...]:
    if any(row.attention for row in result.rows):
        return COLUMNS[:2] + (ATTENTION,) + COLUMNS[2:]
    return COLUMNS


class LayerTable(Vertical):
    """Asks for a summary in a thread worker (latest request wins) and shows it."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.inspection: Inspection | None = None
        self._pending: tuple[str, dict[str, Any], str] | None = None
        self._last: tuple[str, dict[str, Any], str] | None = None
        self._wait: Timer | None = None

    def compose(self) -> ComposeResult:
        yield DataTable(id="layer-rows", cursor_type="row", zebra_stripes=True)
        yield Static("", id="totals")
        yield Static("", id="failure")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.query_one("#totals", Static).update("computing...")

    def request(self, model: str, knobs: dict[str, Any], input_text: str) -> None:
        """Summarise soon; rapid edits coalesce into one computation."""
        request = (model, dict(knobs), input_text)
        if request == self._last:
            return
        self._pending = self._last = request
        if self._wait is not None:
            self._wait.stop()  # another edit: start once they pause
        self._wait = self.set_timer(0.15, self._start)

    def _start(self) -> None:
        if self._pending is not None:
            args, self._pending = self._pending, None
            self.run_worker(lambda: self._compute(*args), thread=True, exclusive=True, group="summary")

    def _compute(self, model: str, knobs: dict[str, Any], input_text: str) -> None:
        try:
            with _ONE_AT_A_TIME:
                if get_current_worker().is_cancelled:
                    return
                # the first table may come from the helper process started with the app
                result = prefetch.take(model, knobs, input_text) or inspect_model(model, knobs, input_text)
        except Exception as err:  # a bug in a builder must not take the app down
            result = Inspection(model, input_text, error=f"{type(err).__name__}: {err}")
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show, result)

    def show(self, result: Inspection) -> None:
        self.inspection = result
        table = self.query_one(DataTable)
        columns = columns_for(result)
        table.clear(columns=columns != tuple(str(c.label) for c in table.columns.values()))
        if not table.columns:
            table.add_columns(*columns)
        for row in result.rows:
            cells = (row.name, row.type, row.output, row.params, row.flops, row.rf)
            table.add_row(*(cells[:2] + (row.attention,) + cells[2:] if ATTENTION in columns else cells))
        totals = Text(f"{result.model} @ {result.input}")
        for key, value in result.totals.items():
            if value != "-":
                totals.append(f"  {key} ").append(value, "bold")
        self.query_one("#totals", Static).update(totals)
        failure = self.query_one("#failure", Static)
        failure.update(Text.assemble(("failed: ", "bold"), result.error or ""))
        failure.display = bool(result.error)

    def show_problems(self, problems: list[str]) -> None:
        """Say why the table is not recomputed; the next valid request recomputes even if unchanged."""
        self._last = self._pending = None
        if self._wait is not None:
            self._wait.stop()
        self.workers.cancel_group(self, "summary")
        failure = self.query_one("#failure", Static)
        failure.update(Text.assemble(("not updated: ", "bold"), "; ".join(problems)))
        failure.display = True
