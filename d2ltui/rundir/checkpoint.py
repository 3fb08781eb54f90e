"""Checkpoints: serialised here, written atomically by rundir.writer, read back with weights_only=True."""

from __future__ import annotations

import io
import random
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from d2ltui.errors import UserError


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; the previous one (if any) is still whole on disk.

    `strerror` is the OS's reason (e.g. "No space left on device"); `message` (and str())
    is one line saying what was kept.
    """

    def __init__(self, errno: int | None, reason: str, message: str) -> None:
        super().__init__(errno, reason)
        self.message = message

    def __str__(self) -> str:
        return self.message


def checkpoint_bytes(state: dict[str, Any]) -> bytes:
    """`state` (tensors, numbers, strings, dicts, lists) serialised; rundir.writer writes it atomically."""
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint refusing anything but plain data (no code runs); one clear line on failure."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no checkpoint there")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure of an untrusted file is one line
        if found := re.search(r"GLOBAL ([\w.]+)", str(err)):
            raise UserError(f"{path}: refused, the checkpoint asks to run {found.group(1)}, which is not "
                            f"plain data; nothing was executed") from None
        raise UserError(f"{path}: corrupted, truncated or not a checkpoint ({type(err).__name__}); "
                        f"nothing was executed") from None
    if not isinstance(state, dict) or "model" not in state:
        raise UserError(f"{path}: not a d2ltui checkpoint (no model state)")
    return state


def capture_rng() -> dict[str, torch.Tensor]:
    """Every random generator's state as tensors (weights_only-loadable): torch, CUDA and Python."""
    version, internal, gauss = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "python": torch.tensor([version, *internal], dtype=torch.int64),
             "python_gauss": torch.tensor([] if gauss is None else [gauss], dtype=torch.float64)}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    return state


def restore_rng(state: dict[str, torch.Tensor]) -> None:
    """Put back what `capture_rng` captured (missing parts are left as they are)."""
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu().to(torch.uint8))
    if "python" in state:
        values = [int(v) for v in state["python"].tolist()]
        gauss = state.get("python_gauss")
        random.setstate((values[0], tuple(values[1:]),
                         float(gauss[0]) if gauss is not None and gauss.numel() else None))
    if "cuda" in state and torch.cuda.is_available():
        states = list(state["cuda"].cpu().to(torch.uint8))
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)
