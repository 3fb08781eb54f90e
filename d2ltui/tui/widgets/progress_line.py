"""The one-line run progress: state, epoch, step, ETA, efficiency (examples/s, FLOP/s, MFU, ...), device memory."""

from __future__ import annotations

from typing import Any, Sequence

from rich.text import Text
from textual.widgets import Static

from d2ltui.format import efficiency_text, eta_seconds, format_duration, format_progress
from d2ltui.rundir.states import RunState

STATE_STYLES = {state.value: style for state, style in (
    (RunState.RUNNING, "bold green"), (RunState.PAUSED, "bold yellow"), (RunState.STARTING, "bold cyan"),
    (RunState.FINISHED, "bold blue"), (RunState.STOPPED, "bold magenta"), (RunState.FAILED, "bold red"),
    (RunState.DIVERGED, "bold red"), (RunState.CRASHED, "bold red"))}
MEMORY_KEYS = ("mem_mb", "memory_mb", "device_mem_mb", "max_memory_mb", "mem")


def eta(status: dict[str, Any], steps: Sequence[float] = (), times: Sequence[float] = ()) -> str:
    """Time left of a running run, from its train records' steps and training-clock times (see format.eta_seconds)."""
    if status.get("state") != RunState.RUNNING or not status.get("total_steps"):
        return "-"
    left = eta_seconds(steps, times, status["total_steps"])
    return "-" if left is None else format_duration(left)


def progress_text(status: dict[str, Any], last: dict[str, Any] | None,
                  steps: Sequence[float] = (), times: Sequence[float] = ()) -> Text:
    state = status.get("state", "?")
    out = Text(f" {state.upper()} ", style=f"reverse {STATE_STYLES.get(state, 'bold')}")
    parts = [format_progress(status, last), f"ETA {eta(status, steps, times)}"]
    if last and (speed := efficiency_text(last)):  # ex/s, FLOP/s, MFU, data wait, NVML, compile time
        parts.append(speed)
    memory = next((last[k] for k in MEMORY_KEYS if last and last.get(k) is not None), None)
    if memory is not None:
        parts.append(f"mem {memory:,.0f} MB")
    if status.get("device"):
        parts.append(str(status["device"]))
    out.append("  " + "  ".join(parts))
    if status.get("warning"):
        out.append(f"  ⚠ {status['warning']}", style="bold yellow")
    return out


class ProgressLine(Static):
    """Updated a few times a second; repaints only when the text changes."""

    _shown: str = ""

    def show(self, status: dict[str, Any], last: dict[str, Any] | None,
             steps: Sequence[float] = (), times: Sequence[float] = ()) -> None:
        text = progress_text(status, last, steps, times)
        if text.plain != self._shown:
            self._shown = text.plain
            self.update(text, layout=False)  # one line, fixed height: no reflow
