"""train.compile: whether torch.compile can work here, and its first step timed apart (compile_s).

torch.compile compiles on the first call, so the first step holds the compilation: the loop times it
(`compile_s`, recorded in the train records) and restarts the throughput clock after it. Where
compiling cannot work (no C++ compiler for the CPU backend, no Triton for CUDA) or fails on the
model, the run says so in one line and trains eagerly.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import torch


def compile_problem(device: torch.device) -> str | None:
    """Why torch.compile cannot work on `device` here, or None."""
    if device.type == "cuda":
        return None if importlib.util.find_spec("triton") else "Triton is not installed"
    if device.type != "cpu":
        return f"torch.compile's default backend does not target {device.type}"
    wanted = os.environ.get("CXX")
    candidates = [wanted] if wanted else ["g++", "clang++", "c++"]
    if not any(shutil.which(c) for c in candidates):
        return f"no C++ compiler ({wanted or 'g++, clang++ or c++'}) for torch.compile's CPU backend"
    return None


def fallback_note(reason: str) -> str:
    """The one line a run shows when it cannot compile."""
    return f"train.compile: cannot compile here ({reason}); training without compiling"


def failure_reason(err: BaseException) -> str:
    """A compile error in one short line."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:160]}" if text else type(err).__name__


def reset() -> None:
    """Forget compiled code (after a failure, before training eagerly)."""
    try:
        torch._dynamo.reset()
    except Exception:  # pragma: no cover - dynamo not importable: nothing was compiled
        pass
