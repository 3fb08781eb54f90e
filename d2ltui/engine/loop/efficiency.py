"""How well a run uses its device: FLOP/s, MFU, data wait, compile time and NVML readings for train records.

The step's FLOPs are counted once, forward and backward, with the inspector's counter
(d2ltui.inspector.flops, torch's FlopCounterMode formulas) on a copy of the model and the first real
batch, under forked generators, so the run itself is untouched. Achieved FLOP/s is FLOPs per example
times examples per second; MFU divides it by the device's dense peak at the precision in use
(d2ltui.devices.PEAK_TFLOPS; an unknown device has FLOP/s without MFU). NVML (the optional
`nvidia-ml-py`, the `gpu` extra) adds utilisation, memory, power and temperature; without it those
fields are absent. `data_wait` is the share of the steps' host time spent fetching and preparing batches.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from d2ltui.devices import peak_flops


def step_flops(task: Any, model: torch.nn.Module, batch: tuple, autocast) -> int | None:
    """FLOPs of one training step's forward and backward on `batch` (a copy of `model`; nothing of the run
    changes), or None for a task whose step is not one loss of one model (GAN, detection, RL)."""
    from d2ltui.inspector.flops import FlopMode
    from d2ltui.tasks.base import Task

    if type(task).train_step is not Task.train_step:
        return None
    twin = copy.deepcopy(model)
    twin.train()
    devices = [batch[0].device] if batch[0].device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        counter = FlopMode()
        with counter:
            with autocast():
                loss = task.loss(twin, batch)[0]
            loss.backward()
    del twin
    return int(counter.total)


class NVML:
    """Readings of one CUDA device through NVML, or nothing where nvidia-ml-py (or the driver) is missing."""

    def __init__(self, device: torch.device) -> None:
        self.handle = None
        if device.type != "cuda":
            return
        try:
            import pynvml  # nvidia-ml-py: the `gpu` extra

            pynvml.nvmlInit()
            self.nv = pynvml
            index = torch.cuda.current_device() if device.index is None else device.index
            uuid = getattr(torch.cuda.get_device_properties(index), "uuid", None)  # NVML numbers every GPU,
            self.handle = (pynvml.nvmlDeviceGetHandleByUUID(f"GPU-{uuid}") if uuid is not None  # CUDA the visible
                           else pynvml.nvmlDeviceGetHandleByIndex(index))
        except Exception:  # not installed, or no driver library: those fields stay absent
            self.handle = None

    def read(self) -> dict[str, float]:
        if self.handle is None:
            return {}
        nv, h = self.nv, self.handle
        out: dict[str, float] = {}
        for key, read in (("gpu_util", lambda: nv.nvmlDeviceGetUtilizationRates(h).gpu),
                          ("gpu_mem_used_mb", lambda: round(nv.nvmlDeviceGetMemoryInfo(h).used / 2**20, 1)),
                          ("gpu_power_w", lambda: round(nv.nvmlDeviceGetPowerUsage(h) / 1000, 1)),
                          ("gpu_temp_c", lambda: nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU))):
            try:
                out[key] = read()
            except Exception:  # a reading this device does not offer
                pass
        return out


class Efficiency:
    """The efficiency fields of each train record (`fields`), from what the loop tells it as it goes."""

    def __init__(self, device: torch.device, precision: str, world_size: int = 1) -> None:
        self.device, self.precision, self.world_size = device, precision, world_size
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
        self.peak = peak_flops(name, precision) if name else None
        self.nvml = NVML(device)
        self.flops_per_example: float | None = None
        self.counted = False
        self.compile_s: float | None = None
        self.data_s = self.busy_s = 0.0

    def count(self, task: Any, model: torch.nn.Module, batch: tuple, autocast) -> None:
        """Count the step's FLOPs once, on the first batch (a failure to count leaves FLOP/s out)."""
        self.counted = True
        try:
            flops = step_flops(task, model, batch, autocast)
        except Exception:  # an operator the counter cannot run: the run goes on without FLOP/s
            flops = None
        if flops:
            self.flops_per_example = flops / max(len(batch[0]), 1)

    def add_step(self, data_s: float, busy_s: float) -> None:
        self.data_s += data_s
        self.busy_s += busy_s

    def fields(self, samples_per_s: float) -> dict[str, Any]:
        """The window's efficiency fields (then a fresh window): FLOP/s, MFU, data wait, compile, NVML."""
        out: dict[str, Any] = {}
        if self.flops_per_example:
            achieved = self.flops_per_example * samples_per_s
            out["flops_per_s"] = float(f"{achieved:.4g}")
            if self.peak:
                out["mfu"] = float(f"{achieved / (self.peak * self.world_size):.4g}")
        if self.busy_s > 0:
            out["data_wait"] = round(self.data_s / self.busy_s, 4)
        self.data_s = self.busy_s = 0.0
        if self.compile_s is not None:
            out["compile_s"] = round(self.compile_s, 2)
        if self.device.type == "cuda":
            out["mem_now_mb"] = round(torch.cuda.memory_allocated(self.device) / 2**20, 1)
        out.update(self.nvml.read())
        return out
