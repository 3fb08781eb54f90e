"""torch.profiler over a few training steps of a run: the top operators by self time, and a Chrome trace.

A profile is asked for by a file in the run directory (`profile.request`, JSON {"steps": N}), which
`d2l-tui profile` and the dashboard's key write and the training loop looks for at its log steps
only (off the hot path); the loop then profiles its next N steps and writes `profile/ops.json`
(the table) and `profile/trace.json` (Chrome/Perfetto: chrome://tracing or ui.perfetto.dev) in the
run directory, without stopping the run. This module imports torch only inside the profiler.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from d2ltui.rundir.writer import write_text_record

REQUEST = "profile.request"
FOLDER = "profile"
TABLE = "ops.json"
TRACE = "trace.json"
DEFAULT_STEPS = 10
TOP = 15


def request_profile(run_path: str | Path, steps: int = DEFAULT_STEPS) -> Path:
    """Ask the engine training this run to profile its next `steps` steps (picked up at its next log step)."""
    path = Path(run_path) / REQUEST
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"steps": int(steps)}))
    os.replace(tmp, path)
    return path


def take_request(run_path: Path) -> int | None:
    """The steps of a pending request (which is then removed), or None."""
    path = run_path / REQUEST
    if not path.exists():
        return None
    try:
        steps = int(json.loads(path.read_text()).get("steps", DEFAULT_STEPS))
    except (OSError, ValueError, AttributeError):
        steps = DEFAULT_STEPS
    path.unlink(missing_ok=True)
    return max(1, steps)


def read_table(run_path: str | Path) -> dict[str, Any] | None:
    """A run's last profile table (ops.json), or None."""
    try:
        return json.loads((Path(run_path) / FOLDER / TABLE).read_text())
    except (OSError, ValueError):
        return None


def format_table(table: dict[str, Any]) -> str:
    """The table as text: one operator a line, self times in ms per step."""
    device = table.get("device_time", False)
    lines = [f"{'operator':48} {'self CPU ms':>12}" + (f" {'self CUDA ms':>13}" if device else "") + f" {'calls':>7}"]
    for op in table["ops"]:
        line = f"{op['name'][:48]:48} {op['self_cpu_ms']:>12.3f}"
        if device:
            line += f" {op['self_device_ms']:>13.3f}"
        lines.append(line + f" {op['calls']:>7}")
    lines.append(f"{table['steps']} steps; per step. Trace: {table['trace']}")
    return "\n".join(lines)


class StepProfiler:
    """torch.profiler running from now for `steps` training steps; `step()` is True once it has written."""

    def __init__(self, run_path: Path, steps: int, device_type: str) -> None:
        import torch.profiler as tp

        self.folder, self.steps, self.done = run_path / FOLDER, steps, 0
        self.cuda = device_type == "cuda"
        activities = [tp.ProfilerActivity.CPU] + ([tp.ProfilerActivity.CUDA] if self.cuda else [])
        self.profiler = tp.profile(activities=activities)
        self.profiler.__enter__()

    def step(self) -> bool:
        self.done += 1
        if self.done < self.steps:
            return False
        self.finish()
        return True

    def finish(self) -> Path:
        """Stop, then write the trace and the table; returns the table's path."""
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        self.profiler.__exit__(None, None, None)
        self.folder.mkdir(exist_ok=True)
        trace = self.folder / TRACE
        self.profiler.export_chrome_trace(str(trace))
        table = {"steps": max(self.done, 1), "device_time": self.cuda, "trace": str(trace),
                 "ops": top_ops(self.profiler.key_averages(), max(self.done, 1), self.cuda)}
        path = self.folder / TABLE
        write_text_record(path, json.dumps(table, indent=1) + "\n")
        return path


def top_ops(averages: Any, steps: int, cuda: bool, top: int = TOP) -> list[dict[str, Any]]:
    """The operators with the most self time (device time on CUDA, else CPU), in ms per step."""
    def device_us(event: Any) -> float:
        return float(getattr(event, "self_device_time_total", getattr(event, "self_cuda_time_total", 0.0)) or 0.0)

    rows = [{"name": e.key, "self_cpu_ms": round(e.self_cpu_time_total / 1000 / steps, 4),
             "self_device_ms": round(device_us(e) / 1000 / steps, 4), "calls": int(e.count)} for e in averages
            if not e.key.startswith("ProfilerStep")]
    rows.sort(key=lambda r: (r["self_device_ms"], r["self_cpu_ms"]) if cuda else r["self_cpu_ms"], reverse=True)
    return rows[:top]
