"""The run directory, the contract between the engine (sole writer) and every view (readers).

Files: config.toml (once), metrics.jsonl and layers.jsonl (appended, flushed per line), status.json,
checkpoint.pt, samples.json and data.json (atomically replaced), output.log (a detached run's output).
The engine writes through rundir.writer (the one guarded write path). Readers cope with a
half-written last line and with a dead process that never said so.
"""

from __future__ import annotations

import glob
import json
import os
import re
import secrets
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from d2ltui.errors import UserError
from d2ltui.paths import expand_path, resolve_runs_dir
from d2ltui.rundir.states import LIVE_STATES, RunState

CONFIG, METRICS, STATUS, CHECKPOINT, SAMPLES, LOG, LAYERS, DATA_CARD = (
    "config.toml", "metrics.jsonl", "status.json", "checkpoint.pt", "samples.json", "output.log", "layers.jsonl",
    "data.json")
# your own model from a file: the run keeps a copy (SOURCE_DIR/<its name>) and its record (d2ltui/rundir/source.py)
SOURCE, SOURCE_DIR = "source.json", "source"
LAYER_STATS = ("act_mean", "act_std", "saturated", "dead", "grad_norm", "weight_norm", "update_ratio")  # per layer
RECORDS = (METRICS, LAYERS)  # the append-only files: one JSON object a line, each with its "step"
TENSORBOARD = "tensorboard"  # a folder of TensorBoard event files (train.tensorboard=true)
STARTING_GRACE_S = 120.0  # a run folder without status.json reads as starting this long


def new_run_id(model: str) -> str:
    """'20250101-120000-lenet-3fa2'; a model by reference (path/to/net.py:Net) gives a folder name ('net.py-Net')."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", re.sub(r"[^:]*[/\\\\]", "", model)).strip("-.") or "model"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{secrets.token_hex(2)}"


def proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), or None where unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def pid_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (tells a reused pid apart), if known."""
    fields = proc_stat(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def pid_alive(pid: int | None, host: str | None = None, started: int | None = None) -> bool:
    """True when `pid` is a live process on this host (zombies count as dead).

    With `started` (from `pid_start` when the record was written), a pid reused by another
    process also counts as dead.
    """
    if not pid or not isinstance(pid, int) or pid <= 0:
        return False
    if host and host != socket.gethostname():
        return True  # another machine's process: cannot tell, trust the record
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    fields = proc_stat(pid)
    if fields is None:
        return True  # no /proc: trust kill(0)
    if fields[0] in ("Z", "X"):
        return False
    return not (isinstance(started, int) and len(fields) > 19 and int(fields[19]) != started)


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from `path`, or None when missing, unreadable, half-written or not an object."""
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def read_config(path: Path, strict: bool = False) -> dict[str, Any]:
    """A run's config.toml as a TOML-shaped dict; {} when missing or damaged, or with `strict` a UserError naming it."""
    file = Path(path) / CONFIG
    try:
        with open(file, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as err:
        if strict:
            reason = "missing" if isinstance(err, FileNotFoundError) else f"not valid TOML ({err})" \
                if isinstance(err, tomllib.TOMLDecodeError) else err.strerror
            raise UserError(f"{file}: {reason}") from None
        return {}


def read_metrics(path: Path, start: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Records of an append-only file (metrics.jsonl, layers.jsonl) from byte offset `start`; returns them and
    the offset after the last whole line.

    A last line without its newline (a write in progress or cut by a crash) is left for later.
    """
    try:
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read()
    except FileNotFoundError:
        return [], start
    end = data.rfind(b"\n") + 1
    records = []
    for line in data[:end].splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash and completed by a later run
        if isinstance(record, dict):
            records.append(record)
    return records, start + end


PREPARED = {LOG, STATUS}  # what a launcher may put in a run folder before the engine starts


def run_folders(runs_dir: str | Path | None = None) -> list["RunDir"]:
    """Every run folder (one holding config.toml or status.json) directly under the runs folder, by name
    (the list of runs a view shows is d2ltui.rundir.runs.list_runs)."""
    root = resolve_runs_dir(runs_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and _is_run(p, starting=True)]
    return [RunDir(p) for p in sorted(found, key=lambda p: p.name)]


def _is_run(path: Path, starting: bool = False) -> bool:
    """A run folder: one with config.toml, or, with `starting`, one a launcher made (status.json, no config yet)."""
    return (path / CONFIG).exists() or (starting and (path / STATUS).exists())


@dataclass
class RunDir:
    """One run's folder, read side (views and engine); the engine writes through rundir.writer.RunWriter."""

    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    @classmethod
    def find(cls, run: str, runs_dir: str | Path | None = None, starting: bool = False) -> "RunDir":
        """A run by folder path, or by id (or unique id prefix) under the runs folder.

        With `starting`, a run whose engine has not written config.toml yet (a detached launch's
        folder holds only status.json and output.log for a moment) is found too: a viewer waits for it.
        """
        direct = expand_path(run, "run")
        if _is_run(direct, starting):
            return cls(direct)
        root = resolve_runs_dir(runs_dir)
        if _is_run(root / run, starting):
            return cls(root / run)
        prefix = root.is_dir() and "/" not in run and run not in (".", "..")  # an id's prefix names no folder
        matches = sorted(p for p in root.glob(f"{glob.escape(run)}*") if _is_run(p, starting)) if prefix else []
        if len(matches) == 1:
            return cls(matches[0])
        if matches:
            raise UserError(f"run {run!r} is ambiguous: {', '.join(p.name for p in matches[:5])}")
        raise UserError(f"no run {run!r} in {root} (see `d2l-tui runs`)")

    # reading (anyone)
    def status(self) -> dict[str, Any]:
        return read_status(self.path)

    def metrics(self) -> list[dict[str, Any]]:
        return read_metrics(self.path / METRICS)[0]

    def layers(self) -> list[dict[str, Any]]:
        return read_metrics(self.path / LAYERS)[0]

    def samples(self) -> dict[str, Any] | None:
        return read_json(self.path / SAMPLES)


def _mtime(path: Path) -> float:
    times = [0.0]
    for name in (CONFIG, LOG, ""):
        try:
            times.append((path / name).stat().st_mtime)
        except OSError:
            pass
    return max(times)


def is_prepared(path: Path) -> bool:
    """A folder a launcher made for a run not yet started: no config, only the launcher's files."""
    names = {p.name for p in path.iterdir() if not p.name.startswith(".")}
    return CONFIG not in names and names <= PREPARED


def read_status(path: Path) -> dict[str, Any]:
    """status.json with the truth about liveness: a live state whose process is gone is 'crashed'."""
    status = read_json(Path(path) / STATUS)
    if status is None:  # the engine has not written one yet, or died before it could
        if time.time() - _mtime(Path(path)) < STARTING_GRACE_S:
            return {"state": RunState.STARTING.value, "message": "no status yet"}
        return {"state": RunState.CRASHED.value, "message": "the run never recorded a status; its process is gone"}
    if status.get("state") in LIVE_STATES and not pid_alive(status.get("pid"), status.get("host"),
                                                            status.get("pid_start")):
        status = {**status, "state": RunState.CRASHED.value,
                  "message": f"process {status.get('pid')} died without finishing; resume with "
                             f"`d2l-tui train --resume {Path(path).name}`"}
    return status
