"""Checkpoints: written atomically beside the previous one, read back with weights_only=True."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from d2ltui.engine.rundir import atomic_write_bytes
from d2ltui.errors import UserError


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Serialise `state` (tensors, numbers, strings, dicts, lists) and atomically replace `path`.

    On any failure (disk full, permission) the previous checkpoint is left intact and the
    OSError propagates for the caller to report.
    """
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint refusing anything but plain data (no code runs); one clear line on failure."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no checkpoint there")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "unsafe content"
        raise UserError(f"{path}: refused, the checkpoint holds more than plain tensors ({first[:120]})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as err:
        raise UserError(f"{path}: corrupted or truncated checkpoint ({type(err).__name__})") from None
    if not isinstance(state, dict) or "model" not in state:
        raise UserError(f"{path}: not a d2ltui checkpoint (no model state)")
    return state
