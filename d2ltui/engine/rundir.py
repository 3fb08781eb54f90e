"""The run directory, the contract between the engine (sole writer) and every view (readers).

Files: config.toml (once), metrics.jsonl (appended, flushed per line), status.json,
checkpoint.pt and samples.json (atomically replaced), output.log (a detached run's output).
Readers cope with a half-written last line and with a dead process that never said so.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from d2ltui.errors import UserError

CONFIG, METRICS, STATUS, CHECKPOINT, SAMPLES, LOG = (
    "config.toml", "metrics.jsonl", "status.json", "checkpoint.pt", "samples.json", "output.log")
LIVE_STATES = ("starting", "running", "paused")
END_STATES = ("finished", "stopped", "failed", "diverged", "crashed")


def default_runs_dir() -> Path:
    """$D2LTUI_RUNS_DIR, else $XDG_DATA_HOME/d2ltui/runs (~/.local/share/d2ltui/runs)."""
    if env := os.environ.get("D2LTUI_RUNS_DIR"):
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "d2ltui" / "runs"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a temp file beside `path`, fsync, replace, fsync the folder."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, default=str) + "\n").encode())


def new_run_id(model: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{model}-{secrets.token_hex(2)}"


def pid_alive(pid: int | None, host: str | None = None) -> bool:
    """True when `pid` is a live process on this host (zombies count as dead)."""
    if not pid:
        return False
    if host and host != socket.gethostname():
        return True  # another machine's process: cannot tell, trust the record
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_metrics(path: Path, start: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Records from byte offset `start`; returns them and the offset after the last whole line.

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
            records.append(json.loads(line))
        except ValueError:
            continue
    return records, start + end


@dataclass
class RunDir:
    """One run's folder. The engine writes through it; views use only the read_* functions."""

    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    @classmethod
    def create(cls, runs_dir: str | Path | None, config_toml: str, run_id: str) -> "RunDir":
        root = Path(runs_dir).expanduser() if runs_dir else default_runs_dir()
        path = root / run_id
        try:
            path.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise UserError(f"run directory {path} already exists") from None
        except OSError as err:
            raise UserError(f"cannot create run directory {path}: {err.strerror}") from None
        run = cls(path)
        atomic_write_bytes(path / CONFIG, config_toml.encode())
        return run

    @classmethod
    def find(cls, run: str, runs_dir: str | Path | None = None) -> "RunDir":
        """A run by folder path, or by id (or unique id prefix) under the runs folder."""
        direct = Path(run).expanduser()
        if (direct / CONFIG).exists():
            return cls(direct)
        root = Path(runs_dir).expanduser() if runs_dir else default_runs_dir()
        if (root / run / CONFIG).exists():
            return cls(root / run)
        matches = sorted(p for p in root.glob(f"{run}*") if (p / CONFIG).exists()) if root.is_dir() else []
        if len(matches) == 1:
            return cls(matches[0])
        if matches:
            raise UserError(f"run {run!r} is ambiguous: {', '.join(p.name for p in matches[:5])}")
        raise UserError(f"no run {run!r} in {root} (see `d2l-tui runs`)")

    # writing (engine only)
    def append_metrics(self, record: dict[str, Any]) -> None:
        with open(self.path / METRICS, "a") as f:
            f.write(json.dumps(record, default=float) + "\n")
            f.flush()

    def write_status(self, state: str, message: str = "", **extra: Any) -> None:
        status = {"state": state, "pid": os.getpid(), "host": socket.gethostname(),
                  "message": message, "updated": time.time(), **extra}
        atomic_write_json(self.path / STATUS, status)

    def write_samples(self, samples: dict[str, Any]) -> None:
        atomic_write_json(self.path / SAMPLES, samples)

    # reading (anyone)
    def status(self) -> dict[str, Any]:
        return read_status(self.path)

    def metrics(self) -> list[dict[str, Any]]:
        return read_metrics(self.path / METRICS)[0]

    def samples(self) -> dict[str, Any] | None:
        return read_json(self.path / SAMPLES)


def read_status(path: Path) -> dict[str, Any]:
    """status.json with the truth about liveness: a live state whose process is gone is 'crashed'."""
    status = read_json(Path(path) / STATUS) or {"state": "starting", "message": "no status yet"}
    if status.get("state") in LIVE_STATES and not pid_alive(status.get("pid"), status.get("host")):
        status = {**status, "state": "crashed",
                  "message": f"process {status.get('pid')} died without finishing; resume with "
                             f"`d2l-tui train --resume {Path(path).name}`"}
    return status
