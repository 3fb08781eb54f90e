"""Efficiency fields: FLOP/s from the inspector's count times the measured rate, MFU only for known devices, NVML."""

from __future__ import annotations

import copy
import sys
import types

import pytest
import torch
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from d2ltui.config.schema import dump_toml
from d2ltui.devices import peak_flops
from d2ltui.engine.loop import efficiency
from d2ltui.engine.loop.trainer import fit
from d2ltui.format import efficiency_text
from d2ltui.rundir.index import summarise
from d2ltui.rundir.store import RunDir
from d2ltui.rundir.writer import RunWriter
from test_engine import blobs, cfg_of, images

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name, data", [("mlp", blobs), ("lenet", images)])
def test_flops_per_s_is_the_counted_step_flops_times_the_measured_rate(tmp_path, name, data):
    cfg = cfg_of(name, data={"batch_size": 32}, train={"epochs": 1, "log_every": 3})
    run = RunWriter.create(tmp_path, dump_toml(cfg), name)
    result = fit(cfg, run, data=data())
    module = data()
    X, y = module.train[0][:32].float(), module.train[1][:32]
    twin = copy.deepcopy(result.model)
    with FlopCounterMode(display=False) as counter:  # torch's own counter, forward and backward
        F.cross_entropy(twin(X), y).backward()
    per_example = counter.get_total_flops() / 32
    assert per_example > 0
    train = [r for r in run.metrics() if r["split"] == "train"]
    for r in train:
        assert r["flops_per_s"] == pytest.approx(per_example * r["samples_per_s"], rel=2e-3)
        assert 0 <= r["data_wait"] <= 1 and "mfu" not in r  # the CPU has no peak in the table
    assert summarise(run.path).efficiency["flops_per_s"] == train[-1]["flops_per_s"]  # runs --json


def test_the_peak_table_knows_the_datasheet_cards_and_nothing_else():
    assert peak_flops("NVIDIA H100 80GB HBM3", "bf16-mixed") == pytest.approx(989.4e12)
    assert peak_flops("NVIDIA H100 PCIe", "bf16-mixed") == pytest.approx(756e12)
    assert peak_flops("NVIDIA H200", "16-mixed") == pytest.approx(989.4e12)
    assert peak_flops("NVIDIA A100-SXM4-80GB", "32") == pytest.approx(156e12)
    assert peak_flops("NVIDIA L40S", "bf16-mixed") == pytest.approx(362.05e12)
    assert peak_flops("NVIDIA L4", "bf16-mixed") == pytest.approx(121e12)
    assert peak_flops("NVIDIA GeForce RTX 4090", "bf16-mixed") == pytest.approx(165.2e12)
    assert peak_flops("NVIDIA GeForce RTX 3090", "16-mixed") == pytest.approx(71e12)
    assert peak_flops("Tesla V100-SXM2-32GB", "16-mixed") == pytest.approx(125e12)
    assert peak_flops("Tesla T4", "16-mixed") == pytest.approx(65e12)
    assert peak_flops("Tesla T4", "bf16-mixed") is None  # no bf16 tensor cores
    assert peak_flops("NVIDIA GeForce GTX 1080", "32") is None and peak_flops("", "32") is None


def _faked_cuda(monkeypatch, name: str) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 3 * 2**20)


@pytest.mark.parametrize("name, mfu", [("NVIDIA A100-SXM4-40GB", 2e12 / 312e12), ("Mystery Accelerator 9000", None)])
def test_mfu_only_for_a_device_in_the_table(monkeypatch, name, mfu):
    _faked_cuda(monkeypatch, name)
    monkeypatch.setitem(sys.modules, "pynvml", None)  # NVML absent: its fields are absent
    eff = efficiency.Efficiency(torch.device("cuda", 0), "bf16-mixed", world_size=2)
    eff.flops_per_example = 1e9
    fields = eff.fields(4000.0)
    assert fields["flops_per_s"] == pytest.approx(4e12)
    assert fields.get("mfu") == (pytest.approx(mfu, rel=1e-3) if mfu else None)  # per device: 2 of them
    assert fields["mem_now_mb"] == 3.0 and not any(k.startswith("gpu_") for k in fields)


def test_nvml_readings_appear_when_nvidia_ml_py_is_there(monkeypatch):
    _faked_cuda(monkeypatch, "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: types.SimpleNamespace())
    nv = types.SimpleNamespace(
        nvmlInit=lambda: None, nvmlDeviceGetHandleByIndex=lambda i: f"gpu{i}", NVML_TEMPERATURE_GPU=0,
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=97),
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(used=5 * 2**30),
        nvmlDeviceGetPowerUsage=lambda h: 612_345, nvmlDeviceGetTemperature=lambda h, kind: 61)
    monkeypatch.setitem(sys.modules, "pynvml", nv)
    fields = efficiency.Efficiency(torch.device("cuda", 0), "bf16-mixed").fields(100.0)
    assert {k: fields[k] for k in ("gpu_util", "gpu_mem_used_mb", "gpu_power_w", "gpu_temp_c")} == \
        {"gpu_util": 97, "gpu_mem_used_mb": 5120.0, "gpu_power_w": 612.3, "gpu_temp_c": 61}


def test_efficiency_line():
    record = {"samples_per_s": 51234.4, "flops_per_s": 3.14e12, "mfu": 0.314, "data_wait": 0.02, "gpu_util": 97,
              "compile_s": 41.23}
    assert efficiency_text(record) == "51,234 samples/s 3.14TFLOP/s MFU 31.4% data 2% GPU 97% (compile 41.2s)"
    assert efficiency_text({}) == ""
