"""The one guarded write path of the run directory: a full, read-only or failing disk never kills a run.

Every byte a run folder gets passes through `put_bytes`. `RunWriter` (held by the engine, never by a
view) buffers what it could not write: metrics and layer rows in order, the newest samples, data card
and status; it retries at every later write, so once space returns every record is whole again. A
fault that lasts past WRITE_FAULT_LIMIT_S, or more rows waiting than MAX_PENDING_ROWS, makes
`give_up()` say why, and the trainer stops cleanly with its last good checkpoint.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any

from d2ltui.errors import UserError
from d2ltui.paths import resolve_runs_dir
from d2ltui.rundir.names import check_id
from d2ltui.rundir.store import (CHECKPOINT, CONFIG, DATA_CARD, LAYERS, METRICS, SAMPLES, SOURCE, SOURCE_DIR, STATUS,
                                 RunDir, is_prepared, pid_alive, pid_start)

WRITE_FAULT_LIMIT_S = 600.0  # a run folder unwritable this long stops the run (with its last good checkpoint)
MAX_PENDING_ROWS = 100_000  # metrics and layer rows kept in memory while the disk refuses them
RETRY_S = 1.0  # how often a finished run retries a refusing disk before it exits


def put_bytes(path: Path, data: bytes, append: bool = False) -> None:
    """Write `data` to `path` (appended, or the whole file, fsynced); an append that fails is cut back.

    The one low-level write of every run-folder record: fault-injection tests patch it.
    """
    with open(path, "ab" if append else "wb") as f:
        start = f.tell()
        try:
            f.write(data)
            f.flush()
            if not append:
                os.fsync(f.fileno())
        except BaseException:
            if append:
                try:
                    f.truncate(start)  # never a half line that the retry would glue to
                except OSError:
                    pass
            raise


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a temp file beside `path`, fsync, replace, fsync the folder.

    Either the old file or the whole new one is there afterwards, never a mix; on any error
    (disk full, permission) the temp file is removed, the old file is untouched and the error
    propagates.
    """
    path = Path(path)
    _remove_stale_temps(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        put_bytes(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, default=str) + "\n").encode())


def _remove_stale_temps(path: Path) -> None:
    """Delete temp files of `path` left by a writer that was killed (its pid is gone)."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:].split(".")[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            try:
                tmp.unlink()
            except OSError:
                pass


def reason(err: OSError) -> str:
    """The OS's words for a failed write ("No space left on device"), else the error's name."""
    return err.strerror or str(err) or type(err).__name__


def make_runs_folder(runs_dir: str | Path | None) -> Path:
    """The runs folder, made if missing; one line when it cannot be (a file in the way, a read-only disk)."""
    root = resolve_runs_dir(runs_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--runs-dir {root}: cannot be made ({reason(err)})") from None
    return root


def make_run_folder(runs_dir: str | Path | None, run_id: str, allow_prepared: bool = True, what: str = "run"
                    ) -> Path:
    """Make `<runs>/<run_id>/` (a checked id, a folder that is not there yet); one line on any failure."""
    check_id(run_id, f"{what} id")
    path = make_runs_folder(runs_dir) / run_id
    try:
        path.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        if not (allow_prepared and path.is_dir() and is_prepared(path)):
            raise UserError(f"{what} directory {path} already exists") from None
    except OSError as err:
        raise UserError(f"cannot create {what} directory {path}: {reason(err)}") from None
    return path


class RunWriter(RunDir):
    """One run's folder as its engine writes it (the read side is RunDir's); writes never raise OSError."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(Path(path))
        self.tail_checked: set[str] = set()
        self.pending: list[tuple[str, bytes, int]] = []  # (file, lines, rows) appends not on disk yet, in order
        self.latest: dict[str, Any] = {}  # replaced files (as JSON objects) not on disk yet: only the newest matters
        self.fault_since: float | None = None  # monotonic time of the first failed write of the current fault
        self.fault_reason, self.fault_errno = "", None
        self.failures = 0

    @classmethod
    def create(cls, runs_dir: str | Path | None, config_toml: str, run_id: str,
               allow_prepared: bool = True) -> "RunWriter":
        """Make the run's folder and write config.toml; an existing run is never overwritten.

        With `allow_prepared`, a folder a launcher made beforehand (holding only output.log
        and a `starting` status.json, no config.toml) is taken over. Any failure is one line.
        """
        run = cls(make_run_folder(runs_dir, run_id, allow_prepared))
        run.write_config(config_toml)
        return run

    @classmethod
    def of(cls, run: RunDir) -> "RunWriter":
        return run if isinstance(run, RunWriter) else cls(run.path)

    def write_config(self, config_toml: str) -> None:
        """config.toml, at the start of a run: a folder that cannot take it is one line (nothing trains)."""
        write_text_record(self.path / CONFIG, config_toml)

    def keep_source(self, reference: str, original: Path) -> Path:
        """A copy of your own model's file (SOURCE_DIR/<its name>) and its record (SOURCE): the reference as
        given, the original's absolute path, the copy's name and its SHA-256. Returns the copy; one line on failure."""
        from d2ltui.rundir.source import digest

        original = Path(original).resolve()
        try:
            data = original.read_bytes()
        except OSError as err:
            raise UserError(f"model file {original}: cannot be read ({reason(err)})") from None
        copy = self.path / SOURCE_DIR / original.name
        try:
            copy.parent.mkdir(exist_ok=True)
            atomic_write_bytes(copy, data)
            atomic_write_json(self.path / SOURCE, {"reference": reference, "path": str(original), "copy": original.name,
                                                   "sha256": digest(data)})
        except OSError as err:
            raise UserError(f"cannot keep a copy of {original} in {self.path}: {reason(err)}") from None
        return copy

    # -- what the engine records ---------------------------------------------------------------
    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one JSON line to metrics.jsonl and flush it (kept in memory while the disk refuses)."""
        self.append_records(METRICS, [record])

    def append_layers(self, records: list[dict[str, Any]]) -> None:
        """Append per-layer statistics (one JSON object a line: step, layer, statistics) to layers.jsonl."""
        self.append_records(LAYERS, records)

    def append_records(self, name: str, records: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(record, default=float) + "\n" for record in records).encode()
        self.pending.append((name, text, len(records)))
        self.flush()

    def write_status(self, state: str, message: str = "", **extra: Any) -> None:
        status = {"state": state, "pid": os.getpid(), "pid_start": pid_start(os.getpid()),
                  "host": socket.gethostname(), "message": message, "updated": time.time(), **extra}
        self.replace(STATUS, status)  # its "warning" is set as it is written (flush)

    def write_samples(self, samples: dict[str, Any]) -> None:
        self.replace(SAMPLES, samples)

    def write_data_card(self, card: dict[str, Any]) -> None:
        self.replace(DATA_CARD, card)

    def replace(self, name: str, obj: Any) -> None:
        """Atomically replace file `name` with `obj` as JSON (the newest kept in memory while the disk refuses)."""
        self.latest.pop(name, None)  # re-inserted last: status.json is written after what it describes
        self.latest[name] = obj
        self.flush()

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """checkpoint.pt, only once every record before it is on disk (a resume then loses nothing).

        A CheckpointWriteError (one line) when it cannot be: the previous checkpoint is whole.
        """
        if not self.flush() and self.pending:  # rows before it not on disk: a resume from it would miss them
            save_checkpoint(self.path / CHECKPOINT, state, refused=OSError(self.fault_errno, self.fault_reason))
        try:
            save_checkpoint(self.path / CHECKPOINT, state)
        except OSError as err:
            self.failed(err.__cause__ if isinstance(err.__cause__, OSError) else err)
            raise

    # -- the guard -----------------------------------------------------------------------------
    def flush(self) -> bool:
        """Write what waits, oldest first (status last); True when nothing is left waiting.

        The replaced files (samples, status) are tried even when the appends are refused: another
        file may still go through, and status.json then says what happened.
        """
        failure = None
        try:
            while self.pending:
                name, text, _rows = self.pending[0]
                self._append(name, text)
                self.pending.pop(0)
        except OSError as err:
            failure = err
        for name in list(self.latest):
            obj = self.latest[name]
            if name == STATUS:  # what holds as it is written: rows still refused, or all on disk
                obj = {k: v for k, v in obj.items() if k != "warning"}
                if failure is not None:
                    self.failed(failure)
                    obj["warning"] = self.warning()
            try:
                atomic_write_json(self.path / name, obj)
                del self.latest[name]
            except OSError as err:
                failure = failure or err
        if failure is not None:
            self.failed(failure)
            return False
        if self.fault_since is not None:
            self.fault_since, self.fault_reason, self.failures = None, "", 0
        return True

    def _append(self, name: str, text: bytes) -> None:
        path = self.path / name
        if name not in self.tail_checked:  # a line cut by an earlier crash is closed off first
            if path.exists() and path.stat().st_size > 0 and _last_byte(path) != b"\n":
                text = b"\n" + text
        put_bytes(path, text, append=True)
        self.tail_checked.add(name)

    def failed(self, err: OSError) -> None:
        if self.fault_since is None:
            self.fault_since = time.monotonic()
        self.fault_reason, self.fault_errno, self.failures = reason(err), err.errno, self.failures + 1

    def waiting_rows(self) -> int:
        return sum(rows for _name, _text, rows in self.pending)

    def warning(self) -> str:
        """One line while writes fail (what, since when, what waits), else ''."""
        if self.fault_since is None:
            return ""
        since = time.strftime("%H:%M:%S", time.localtime(time.time() - (time.monotonic() - self.fault_since)))
        return (f"cannot write the run folder ({self.fault_reason}) since {since}; training goes on in memory, "
                f"{self.waiting_rows()} rows waiting, retried at every log")

    def give_up(self) -> str:
        """Why the run must stop (the fault lasted past its limit, or too much waits in memory), else ''."""
        if self.fault_since is None:
            return ""
        if time.monotonic() - self.fault_since >= WRITE_FAULT_LIMIT_S:
            return (f"the run folder could not be written for {WRITE_FAULT_LIMIT_S:.0f} s ({self.fault_reason})")
        if self.waiting_rows() > MAX_PENDING_ROWS:
            return f"{self.waiting_rows()} rows could not be written ({self.fault_reason})"
        return ""


def save_checkpoint(path: Path, state: dict[str, Any], refused: OSError | None = None) -> None:
    """Serialise `state` and atomically replace `path`; on any failure (or when `refused`) the previous
    checkpoint is left intact and a CheckpointWriteError (an OSError) says what happened in one line."""
    from d2ltui.rundir.checkpoint import CheckpointWriteError, checkpoint_bytes

    path = Path(path)
    try:
        if refused is not None:
            raise refused
        atomic_write_bytes(path, checkpoint_bytes(state))
    except OSError as err:
        kept = "the previous checkpoint is kept" if path.exists() else "no earlier checkpoint exists"
        raise CheckpointWriteError(err.errno, reason(err), f"checkpoint not saved to {path.name} ({reason(err)}); "
                                                           f"{kept}") from err


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)


def write_sweep_record(path: Path, name: str, record: dict[str, Any]) -> None:
    """A sweep's own record (sweep.json), atomically; a folder that cannot take it is one line."""
    try:
        atomic_write_json(path / name, record)
    except OSError as err:
        raise UserError(f"cannot write {path / name}: {reason(err)}") from None


def write_text_record(path: Path, text: str) -> None:
    """A whole text record (a sweep's base.toml, a run's config on resume), atomically; one line on failure."""
    try:
        atomic_write_bytes(path, text.encode())
    except OSError as err:
        raise UserError(f"cannot write {path}: {reason(err)}") from None
