"""The one-line run progress: state, epoch, step, ETA, samples/s, device memory."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.widgets import Static

STATE_STYLES = {"running": "bold green", "paused": "bold yellow", "starting": "bold cyan", "finished": "bold blue",
                "stopped": "bold magenta", "failed": "bold red", "diverged": "bold red", "crashed": "bold red"}
MEMORY_KEYS = ("mem_mb", "memory_mb", "device_mem_mb", "max_memory_mb", "mem")


def eta(status: dict[str, Any]) -> str:
    step, total, started = status.get("step"), status.get("total_steps"), status.get("started")
    if status.get("state") != "running" or not step or not total or not started:
        return "-"
    done = step - status.get("start_step", 0)
    left = (time.time() - started) / max(done, 1) * (total - step)
    return f"{int(left // 60)}m{int(left % 60):02d}s"


def progress_text(status: dict[str, Any], last: dict[str, Any] | None) -> Text:
    state = status.get("state", "?")
    out = Text(f" {state.upper()} ", style=f"reverse {STATE_STYLES.get(state, 'bold')}")
    parts = [f"epoch {status.get('epoch', (last or {}).get('epoch', '-'))}/{status.get('total_epochs', '?')}",
             f"step {status.get('step', (last or {}).get('step', '-'))}/{status.get('total_steps', '?')}",
             f"ETA {eta(status)}"]
    if last and last.get("samples_per_s"):
        parts.append(f"{last['samples_per_s']:,.0f} samples/s")
    memory = next((last[k] for k in MEMORY_KEYS if last and last.get(k) is not None), None)
    if memory is not None:
        parts.append(f"mem {memory:,.0f} MB")
    if status.get("device"):
        parts.append(str(status["device"]))
    return out.append("  " + "  ".join(parts))


class ProgressLine(Static):
    """Updated a few times a second; repaints only when the text changes."""

    _shown: str = ""

    def show(self, status: dict[str, Any], last: dict[str, Any] | None) -> None:
        text = progress_text(status, last)
        if text.plain != self._shown:
            self._shown = text.plain
            self.update(text, layout=False)  # one line, fixed height: no reflow
