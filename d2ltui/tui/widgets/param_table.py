"""The inspector's Parameters tab: one row per parameter tensor, tied and lazy ones marked, built off the event loop."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from d2ltui.tui.widgets.layer_table import _ONE_AT_A_TIME

COLUMNS = ("parameter", "shape", "count", "trainable", "mean", "std", "note")


def compute_params(model: str, knobs: dict[str, Any], input_text: str) -> tuple[list[tuple[str, ...]], str, str]:
    """(rows as display strings, totals line, error) for `model`; never raises for a user mistake."""
    from d2ltui.errors import UserError
    from d2ltui.format import format_number, format_shape, parse_shapes
    from d2ltui.zoo.registry import get_spec

    try:
        spec = get_spec(model)
        shapes = parse_shapes(input_text, "input") if input_text.strip() else spec.default_input
        from d2ltui.inspector.params import model_parameters
        from d2ltui.inspector.summary import check_shapes, resolve_for_input

        check_shapes(spec, shapes)
        table = model_parameters(spec, resolve_for_input(spec, knobs, shapes), shapes)
    except (UserError, ValueError, RuntimeError) as err:
        return [], "", " ".join(str(err).split())[:300]
    rows = [(r.name, format_shape(tuple(r.shape)) if r.shape else "?", f"{r.count:,}", "yes" if r.trainable else "no",
             format_number(r.mean), format_number(r.std),
             "; ".join(n for n in (f"tied to {r.tied_to}" if r.tied_to else "", "lazy" if r.lazy else "") if n))
            for r in table.rows]
    tied = f", {table.tied_tensors} tied counted once" if table.tied_tensors else ""
    return rows, f"unique params {table.unique_params:,} (trainable {table.trainable_params:,}){tied}", ""


class ParamTable(Vertical):
    """Computes only while shown: a request made while hidden waits until `activate`."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._wanted: tuple[str, dict[str, Any], str] | None = None
        self._shown: tuple[str, dict[str, Any], str] | None = None
        self.active = False
        self.rows: list[tuple[str, ...]] = []

    def compose(self) -> ComposeResult:
        yield DataTable(id="param-rows", cursor_type="row", zebra_stripes=True)
        yield Static("", id="param-totals")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)

    def request(self, model: str, knobs: dict[str, Any], input_text: str) -> None:
        self._wanted = (model, dict(knobs), input_text)
        if self.active:
            self._start()

    def activate(self) -> None:
        self.active = True
        self._start()

    def _start(self) -> None:
        if self._wanted is None or self._wanted == self._shown:
            return
        self._shown = args = self._wanted
        self.query_one("#param-totals", Static).update("computing...")
        self.run_worker(lambda: self._compute(*args), thread=True, exclusive=True, group="params")

    def _compute(self, model: str, knobs: dict[str, Any], input_text: str) -> None:
        with _ONE_AT_A_TIME:
            if get_current_worker().is_cancelled:
                return
            try:
                result = compute_params(model, knobs, input_text)
            except Exception as err:  # a bug in a builder must not take the app down
                result = [], "", f"{type(err).__name__}: {err}"
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show, *result)

    def show(self, rows: list[tuple[str, ...]], totals: str, error: str) -> None:
        self.rows = rows
        table = self.query_one(DataTable)
        table.clear()
        for row in rows:
            table.add_row(*row)
        self.query_one("#param-totals", Static).update(Text(f"failed: {error}", "bold red") if error else totals)
