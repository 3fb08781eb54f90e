"""The runs screen's cache of rows (d2ltui.rundir.runs lists them): a row is read when shown, an ended run's once."""

from __future__ import annotations


from d2ltui.rundir.index import RunSummary
from d2ltui.rundir.runs import RunEntry, mtime, placeholder, run_entries, summary
from d2ltui.rundir.states import END_STATES
from d2ltui.rundir.store import STATUS

__all__ = ["RunEntry", "Summaries", "run_entries"]


class Summaries:
    """Summaries read so far; an ended run's is read again only when its status.json changes (a resume)."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[float, RunSummary]] = {}

    def get(self, entry: RunEntry) -> RunSummary | None:
        known = self._known.get(entry.id)
        return known[1] if known else None

    def read(self, entry: RunEntry) -> RunSummary:
        stamp = mtime(entry.path / STATUS)
        known = self._known.get(entry.id)
        if known and entry.kind == "run" and known[0] == stamp and known[1].state in END_STATES:
            return known[1]
        row = summary(entry)
        self._known[entry.id] = (stamp, row)
        return row

    def row(self, entry: RunEntry) -> RunSummary:
        """What is known of the entry: its summary if read, else a placeholder."""
        return self.get(entry) or placeholder(entry)
