"""Training devices: resolve auto/cpu/cuda/cuda:N/mps to a torch.device, and list what is available."""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from d2ltui.errors import UserError


@dataclass(frozen=True)
class DeviceInfo:
    """One device a run can use, as the TUI's picker shows it."""

    name: str  # the value train.device takes, e.g. "cuda:0"
    label: str  # human description, e.g. "NVIDIA H100 80GB HBM3"
    free_mb: int | None = None  # free memory (CUDA), None where unknown
    total_mb: int | None = None


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def list_devices() -> list[DeviceInfo]:
    """cpu, then every CUDA GPU with its free memory, then mps where present."""
    out = [DeviceInfo("cpu", f"CPU ({torch.get_num_threads()} threads)")]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            try:
                free, total = torch.cuda.mem_get_info(i)
                free_mb, total_mb = free // 2**20, total // 2**20
            except RuntimeError:
                free_mb = total_mb = None
            out.append(DeviceInfo(f"cuda:{i}", torch.cuda.get_device_name(i), free_mb, total_mb))
    if _mps_available():
        out.append(DeviceInfo("mps", "Apple Metal (MPS)"))
    return out


def available_names() -> list[str]:
    names = [d.name for d in list_devices()]
    if any(n.startswith("cuda:") for n in names):
        names.insert(1, "cuda")
    return ["auto", *names]


def auto_device_type() -> str:
    """The device type "auto" picks: cuda, else mps, else cpu (asks the driver; creates no CUDA context)."""
    if torch.cuda.is_available():
        return "cuda"
    return "mps" if _mps_available() else "cpu"


def resolve_device(name: str) -> torch.device:
    """The torch.device for a train.device value; an unavailable one is a UserError listing the choices."""
    text = (name or "auto").strip().lower()
    if text == "auto":
        kind = auto_device_type()
        return torch.device("cuda", torch.cuda.current_device()) if kind == "cuda" else torch.device(kind)
    if text == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if match:
        index = int(match.group(1) or 0)
        if torch.cuda.is_available() and index < torch.cuda.device_count():
            return torch.device("cuda", index)
        raise UserError(f"train.device: {name} is not available here; available: {', '.join(available_names())}")
    if text == "mps":
        if _mps_available():
            return torch.device("mps")
        raise UserError(f"train.device: mps is not available here; available: {', '.join(available_names())}")
    raise UserError(f"train.device: unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps "
                    f"(available: {', '.join(available_names())})")
