"""train.precision on a device: which autocast a run uses, and the GradScaler that fp16 needs.

`32` runs without autocast; `bf16-mixed` and `16-mixed` run the forward passes under
`torch.autocast` at bfloat16 or float16 (the CPU too); `16-mixed` also scales the loss with a
`torch.amp.GradScaler` (owned by the optimizer step, d2ltui/optim/optimization.py, and saved in
its checkpoint state); `auto` is bf16-mixed on a CUDA device with native bfloat16 (Ampere or
newer), else 32.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable

import torch

DTYPES = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def cuda_bf16(device: torch.device) -> bool:
    """Whether a CUDA device computes bfloat16 natively (compute capability 8.0, Ampere, or newer)."""
    if device.type != "cuda" or not torch.cuda.is_available():
        return False
    return torch.cuda.get_device_capability(device)[0] >= 8


def resolve_precision(value: str, device: torch.device, task: str = "") -> tuple[str, str]:
    """(the precision a run of `task` on `device` uses for train.precision=`value`, a one-line note or "");
    a task whose spec declares no mixed precision (tables and policies, no autocast) trains at 32."""
    from d2ltui.tasks.spec import task_spec

    if task and not task_spec(task).mixed_precision:
        note = "" if value in ("auto", "32") else \
            f"train.precision={value} does not apply to the {task} task (its steps run no autocast): it trains at 32"
        return "32", note
    if value == "auto":
        return ("bf16-mixed" if cuda_bf16(device) else "32"), ""
    if value == "bf16-mixed" and device.type == "cuda" and not cuda_bf16(device):
        return value, f"train.precision=bf16-mixed: {torch.cuda.get_device_name(device)} emulates bfloat16 (slow); 16-mixed is its fast path"
    return value, ""


def autocast_for(precision: str, device: torch.device) -> Callable[[], Any]:
    """A factory of the context the forward passes run under: autocast at the precision's dtype, or nothing."""
    dtype = DTYPES.get(precision)
    if dtype is None:
        return contextlib.nullcontext
    kind = device.type
    return lambda: torch.autocast(kind, dtype=dtype)


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """The loss scaler fp16 needs (16-mixed), else None."""
    if precision != "16-mixed":
        return None
    return torch.amp.GradScaler(device.type)
