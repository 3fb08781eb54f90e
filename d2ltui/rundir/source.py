"""The run's copy of your own model's file: its record (source.json) read, and whether the original changed."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from d2ltui.rundir.store import SOURCE, SOURCE_DIR, read_json

RECORD_KEYS = ("reference", "path", "copy", "sha256")  # as given, the original's absolute path, the copy, its hash


def digest(data: bytes) -> str:
    """The SHA-256 of a model file's bytes, as hex (the record's `sha256`)."""
    return hashlib.sha256(data).hexdigest()


def sha256_of(path: Path) -> str:
    return digest(Path(path).read_bytes())


def read_source(run: Path) -> dict[str, Any] | None:
    """A run's source record (reference, path, copy, sha256), or None for a run that keeps no copy."""
    record = read_json(Path(run) / SOURCE)
    return record if record and all(isinstance(record.get(k), str) for k in RECORD_KEYS) else None


def source_copy(run: Path) -> Path | None:
    """The run's copy of its model file, when it keeps one that is still there."""
    record = read_source(run)
    copy = Path(run) / SOURCE_DIR / record["copy"] if record else None
    return copy if copy is not None and copy.is_file() else None


def source_change(run: Path) -> str:
    """One line when the original file of a run's model changed or went since the run started, else ''."""
    record = read_source(run)
    if record is None:
        return ""
    original = Path(record["path"])
    try:
        now = sha256_of(original)
    except OSError:
        return f"model file {original} is gone since run {Path(run).name} started; using the run's copy " \
               f"{SOURCE_DIR}/{record['copy']}"
    if now == record["sha256"]:
        return ""
    return (f"model file {original} changed since run {Path(run).name} started (sha256 {record['sha256'][:12]} "
            f"-> {now[:12]}); using the run's copy {SOURCE_DIR}/{record['copy']}")
