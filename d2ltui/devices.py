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


# Dense tensor-core peaks in TFLOP/s from the vendors' datasheets and architecture whitepapers (no
# sparsity): per precision of train.precision. "32" is the TF32 tensor-core peak where the card has
# one (cuDNN convolutions use TF32 by default), else the FP32 peak. GeForce cards: FP16/BF16 with
# FP32 accumulation. None: the card has no such tensor-core path. First match of the name wins.
PEAK_TFLOPS: tuple[tuple[str, dict[str, float | None]], ...] = (
    (r"h100.*nvl", {"32": 417.5, "bf16-mixed": 835.5, "16-mixed": 835.5}),
    (r"h100.*pcie", {"32": 378.0, "bf16-mixed": 756.0, "16-mixed": 756.0}),
    (r"h100", {"32": 494.7, "bf16-mixed": 989.4, "16-mixed": 989.4}),  # SXM5
    (r"h200.*nvl", {"32": 417.5, "bf16-mixed": 835.5, "16-mixed": 835.5}),
    (r"h200", {"32": 494.7, "bf16-mixed": 989.4, "16-mixed": 989.4}),  # SXM
    (r"a100", {"32": 156.0, "bf16-mixed": 312.0, "16-mixed": 312.0}),
    (r"l40s", {"32": 183.0, "bf16-mixed": 362.05, "16-mixed": 362.05}),
    (r"\bl4\b", {"32": 60.0, "bf16-mixed": 121.0, "16-mixed": 121.0}),
    (r"rtx 4090", {"32": 82.6, "bf16-mixed": 165.2, "16-mixed": 165.2}),
    (r"rtx 3090", {"32": 35.6, "bf16-mixed": 71.0, "16-mixed": 71.0}),
    (r"v100s", {"32": 16.4, "bf16-mixed": None, "16-mixed": 130.0}),
    (r"v100.*pcie", {"32": 14.0, "bf16-mixed": None, "16-mixed": 112.0}),
    (r"v100", {"32": 15.7, "bf16-mixed": None, "16-mixed": 125.0}),  # SXM2
    (r"\bt4\b", {"32": 8.1, "bf16-mixed": None, "16-mixed": 65.0}),
)


def peak_flops(device_name: str, precision: str) -> float | None:
    """The dense peak FLOP/s of the named device at `precision`; None for a device (or precision) not in the table."""
    name = device_name.lower()
    for pattern, peaks in PEAK_TFLOPS:
        if re.search(pattern, name):
            value = peaks.get(precision)
            return value * 1e12 if value else None
    return None
