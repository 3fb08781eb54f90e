"""A sweep overlaid: its members' curves, and per setting the best metric as mean ± std over the seeds."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable

from d2ltui.format import format_mean_std
from d2ltui.rundir.states import RunState
from d2ltui.rundir.sweeps import read_sweep, sweep_table
from d2ltui.tui.screens.compare import CompareScreen


class SweepScreen(CompareScreen):
    """The compare overlay of a sweep's members, with the sweep's table instead of the settings diff."""

    def __init__(self, sweep: Path) -> None:
        self.sweep = sweep
        members = [sweep / m["id"] for m in read_sweep(sweep)["members"]]
        super().__init__([p for p in members if p.is_dir()])

    TABLE_EVERY = 5  # re-read the table (every member's records) every this many curve refreshes

    def subtitle(self) -> str:
        return f"sweep {self.sweep.name}: {len(self.paths)} runs"

    def refresh_curves(self) -> None:
        super().refresh_curves()
        self.ticks = getattr(self, "ticks", 0) + 1
        if self.ticks % self.TABLE_EVERY == 0:
            self.refresh_table()

    def fill_table(self, table: DataTable) -> None:
        record, metric, rows, _ = sweep_table(self.sweep)
        self.keys = list(record["grid"])
        table.add_columns(*self.keys, "runs", f"best {metric or 'metric'} (mean ± std)", "states")
        self.show_rows(table, rows)

    def show_rows(self, table: DataTable, rows: list) -> None:
        for row in rows:
            done = sum(s == RunState.FINISHED for s in row.states)
            table.add_row(*(str(row.setting.get(k)) for k in self.keys), f"{done}/{len(row.states)}",
                          format_mean_std(row.mean, row.std), " ".join(sorted(set(row.states))))

    def refresh_table(self) -> None:
        """Members still training: re-read the table (their status and metrics files) every few seconds."""
        table = self.query_one("#diff-table", DataTable)
        _, _, rows, _ = sweep_table(self.sweep)
        table.clear()
        self.show_rows(table, rows)
