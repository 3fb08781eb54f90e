"""train.precision: old amp keys, every task at bf16-mixed on the CPU, fp16's GradScaler in the checkpoint, compile."""

from __future__ import annotations

import math
import subprocess

import pytest
import torch

from d2ltui.config.schema import apply_overrides, dump_toml, from_dict
from d2ltui.engine.loop import events as ev
from d2ltui.engine.loop.compiling import compile_problem
from d2ltui.engine.loop.control import Control
from d2ltui.engine.loop.precision import resolve_precision
from d2ltui.engine.loop.trainer import Loop, fit
from d2ltui.errors import UserError
from d2ltui.rundir.checkpoint import load_checkpoint
from d2ltui.rundir.store import CHECKPOINT, RunDir
from d2ltui.rundir.writer import RunWriter
from d2ltui.tasks import supervised
from d2ltui.tasks.resolve import resolve
from test_engine import blobs, cfg_of, copy_data, images, regression_data, text_data

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CPU = torch.device("cpu")


@pytest.mark.parametrize("amp, precision", [("auto", "auto"), ("bf16", "bf16-mixed"), ("off", "32")])
def test_an_old_amp_key_still_loads_as_precision(amp, precision):
    assert from_dict({"train": {"amp": amp}}).train.precision == precision
    assert "amp" not in dump_toml(from_dict({"train": {"amp": amp}}))


def test_precision_values_and_a_bad_amp_name_the_key():
    assert from_dict(apply_overrides({}, ["train.precision=32"])).train.precision == "32"
    with pytest.raises(UserError, match="train.amp: unknown 'fp8'"):
        from_dict({"train": {"amp": "fp8"}})


def test_auto_is_32_on_the_cpu_and_rl_tasks_say_they_train_at_32():
    assert resolve_precision("auto", CPU, "classification") == ("32", "")
    assert resolve_precision("16-mixed", CPU, "classification") == ("16-mixed", "")
    precision, note = resolve_precision("bf16-mixed", CPU, "q-learning")
    assert precision == "32" and "does not apply to the q-learning task" in note and "\n" not in note


TASKS = {  # one tiny run per task, one epoch
    "regression": lambda: (cfg_of("linear-regression", data={"batch_size": 50}, optim={"lr": 0.03}), regression_data()),
    "classification": lambda: (cfg_of("lenet", data={"batch_size": 64}), images()),
    "language-model": lambda: (cfg_of("gru-lm", data={"batch_size": 32}, optim={"name": "adam", "lr": 0.02}),
                               text_data()),
    "seq2seq": lambda: (cfg_of("seq2seq-attention", model={"name": "seq2seq-attention", "embed_size": 8,
                                                          "num_hiddens": 16},
                               data={"batch_size": 128}, optim={"name": "adam", "lr": 0.01}), copy_data()),
    "detection": lambda: (resolve("tiny-ssd", ["data.resize=64", "data.num_train=16", "data.num_val=4",
                                               "data.batch_size=8"])[0], None),
    "gan": lambda: (resolve("gan", ["data.num_train=64"])[0], None),
    "q-learning": lambda: (resolve("q-learning", [])[0], None),
}


@pytest.mark.parametrize("task", TASKS)
def test_every_task_trains_an_epoch_at_bf16_mixed(task, tmp_path):
    cfg, data = TASKS[task]()
    cfg.train.epochs, cfg.train.precision = 1, "bf16-mixed"
    run = RunWriter.create(tmp_path, dump_toml(cfg), task)
    notes = []
    result = fit(cfg, run, [lambda e: notes.append(e.text) if isinstance(e, ev.Note) else None], data=data)
    assert result.state == "finished", result.message
    train = [r for r in run.metrics() if r["split"] == "train"]
    assert train and all(math.isfinite(r["loss"]) for r in train)
    if task == "q-learning":
        assert notes == ["train.precision=bf16-mixed does not apply to the q-learning task (its steps run no "
                         "autocast): it trains at 32"]
    else:
        assert notes == []


def test_bf16_mixed_runs_the_forward_under_cpu_autocast(monkeypatch):
    seen = []
    original = supervised.Classification.loss

    def spy(self, model, batch):
        seen.append(torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16)
        return original(self, model, batch)

    monkeypatch.setattr(supervised.Classification, "loss", spy)
    cfg = cfg_of("mlp", data={"batch_size": 32}, optim={"lr": 0.5}, train={"epochs": 2, "precision": "bf16-mixed"})
    result = fit(cfg, data=blobs())
    assert result.state == "finished" and result.val["acc"] > 0.9  # it learns
    assert seen and all(seen[:10])  # training steps ran under bf16 autocast


def test_fp16_grad_scaler_round_trips_through_the_checkpoint(tmp_path):
    cfg = cfg_of("mlp", data={"batch_size": 32}, optim={"lr": 0.5}, train={"epochs": 1, "precision": "16-mixed"})
    run = RunWriter.create(tmp_path, dump_toml(cfg), "fp16")
    result = fit(cfg, run, data=blobs())
    assert result.state == "finished" and result.val["acc"] > 0.8
    state = load_checkpoint(run.path / CHECKPOINT, map_location="cpu")
    saved = state["scaler"]
    assert saved["scale"] > 0 and saved["_growth_tracker"] > 0  # steps taken without an inf: counted
    loop = Loop(cfg, None, [], Control(), blobs(), None)
    scaler = loop.task.optimization.scaler
    assert scaler is not None and scaler.get_scale() == 65536.0  # a fresh scaler
    loop.load_state(state)
    assert scaler.get_scale() == saved["scale"] and scaler.state_dict()["_growth_tracker"] == saved["_growth_tracker"]


def test_at_32_no_scaler_is_made_or_saved(tmp_path):
    cfg = cfg_of("mlp", data={"batch_size": 64}, train={"epochs": 1, "precision": "32"})
    run = RunWriter.create(tmp_path, dump_toml(cfg), "fp32")
    fit(cfg, run, data=blobs())
    assert "scaler" not in load_checkpoint(run.path / CHECKPOINT, map_location="cpu")


@pytest.mark.skipif(compile_problem(CPU) is not None, reason=f"{compile_problem(CPU)}")
def test_compile_trains_and_times_the_compilation_apart(tmp_path):
    cfg = cfg_of("mlp", model={"name": "mlp", "hidden": [16]}, data={"batch_size": 100}, optim={"lr": 0.5},
                 train={"epochs": 1, "compile": True, "log_every": 1})
    run = RunWriter.create(tmp_path, dump_toml(cfg), "compiled")
    result = fit(cfg, run, data=blobs())
    assert result.state == "finished" and result.val["acc"] > 0.8
    train = [r for r in run.metrics() if r["split"] == "train"]
    assert all(r["compile_s"] > 0 for r in train)  # the first step, timed apart and kept on every line
    assert train[-1]["time"] >= train[0]["compile_s"]


def test_compile_without_a_cpp_compiler_falls_back_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-c++"))
    cfg = cfg_of("mlp", data={"batch_size": 100}, train={"epochs": 1, "compile": True})
    notes = []
    result = fit(cfg, None, [lambda e: notes.append(e.text) if isinstance(e, ev.Note) else None], data=blobs())
    assert result.state == "finished"
    assert notes == [f"train.compile: cannot compile here (no C++ compiler ({tmp_path / 'no-such-c++'}) for "
                     f"torch.compile's CPU backend); training without compiling"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_auto_is_bf16_mixed_on_ampere_or_newer():
    device = torch.device("cuda", 0)
    expected = "bf16-mixed" if torch.cuda.get_device_capability(0)[0] >= 8 else "32"
    assert resolve_precision("auto", device, "classification")[0] == expected


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_runs_channels_last_on_device_resident_uint8_data():
    from d2ltui.config.schema import DataConfig
    from d2ltui.data.registry import load_data

    cfg = cfg_of("lenet", data={"batch_size": 64}, train={"epochs": 1, "device": "cuda"})
    data = load_data(DataConfig(name="shapes", num_train=256, num_val=64, augment=["flip"]), "classification", "cuda")
    loop = Loop(cfg, None, [], Control(), data, None)
    assert loop.data.train[0].is_cuda and loop.data.train[0].dtype == torch.uint8
    conv = next(m for m in loop.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    loop.batches.start(torch.randperm(256))
    x = loop.batches.get(0)[0]
    assert x.is_cuda and x.is_contiguous(memory_format=torch.channels_last)
    assert torch.backends.cudnn.benchmark
    assert loop.run(None).state == "finished"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_ddp_over_nccl_trains(tmp_path):
    from d2ltui.engine.launching.torchrun import torchrun_command

    argv = ["quick-lenet-shapes", "--device", "cuda", "--runs-dir", str(tmp_path), "--set", "train.epochs=1",
            "--set", "train.precision=bf16-mixed", "--plain"]
    done = subprocess.run(torchrun_command(argv, 1), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (run,) = [p for p in tmp_path.iterdir() if (p / "metrics.jsonl").exists()]
    status = RunDir(run).status()
    assert status["state"] == "finished" and "cuda" in status["device"]
