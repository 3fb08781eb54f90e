"""Trainer tests on small tensors built here: every task, divergence, stop/resume bitwise, schedules, devices."""

from __future__ import annotations

import math

import pytest
import torch

from d2ltui.rundir.writer import RunWriter
from d2ltui.config.schema import dump_toml, from_dict
from d2ltui.data.base import DataModule
from d2ltui.engine.loop import events as ev
from d2ltui.rundir.checkpoint import load_checkpoint
from d2ltui.engine.loop.control import Control
from d2ltui.devices import list_devices, resolve_device
from d2ltui.optim import lr_factor
from d2ltui.rundir.store import CHECKPOINT, RunDir
from d2ltui.data.thumbnails import thumbnails
from d2ltui.tasks.sequences import bleu
from d2ltui.tasks.batches import steps_per_epoch
from d2ltui.engine.loop.trainer import fit
from d2ltui.errors import UserError
from d2ltui.zoo.build import EOS


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def cfg_of(name: str, **sections) -> object:
    raw = {**sections, "model": {"name": name, **sections.get("model", {})}}
    raw["data"] = {"name": "custom", **sections.get("data", {})}
    return from_dict(raw)


def regression_data(n=400) -> DataModule:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 2, generator=g)
    y = X @ torch.tensor([[2.0], [-3.4]]) + 4.2 + 0.01 * torch.randn(n, 1, generator=g)
    return DataModule("lin", "regression", (X[:300], y[:300]), (X[300:], y[300:]), ((1, 2),),
                      {"in_features": 2}, info={"true_w": [2.0, -3.4], "true_b": 4.2})


def blobs(n=400) -> DataModule:
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 2, (n,), generator=g)
    X = torch.randn(n, 2, generator=g) * 0.5 + (y[:, None] * 2 - 1) * 1.5
    return DataModule("blobs", "classification", (X[:300], y[:300]), (X[300:], y[300:]), ((1, 2),),
                      {"num_classes": 2}, classes=["left", "right"])


def images(n=192) -> DataModule:
    g = torch.Generator().manual_seed(2)
    y = torch.randint(0, 2, (n,), generator=g)
    X = torch.rand(n, 1, 28, 28, generator=g) * 0.2
    X[y == 1, :, 8:20, 8:20] += 0.8  # class 1: a bright square
    return DataModule("squares", "classification", (X[:128], y[:128]), (X[128:], y[128:]), ((1, 1, 28, 28),),
                      {"num_classes": 2, "in_channels": 1})


def text_data() -> DataModule:
    ids = torch.tensor([3, 4, 5, 6] * 200)
    X = ids[:-1].unfold(0, 16, 8)[:80]
    Y = ids[1:].unfold(0, 16, 8)[:80]
    vocab = ["<pad>", "<bos>", "<eos>", "a", "b", "c", "d"]
    return DataModule("abcd", "language-model", (X[:64], Y[:64]), (X[64:], Y[64:]), ((1, 16),),
                      {"vocab_size": len(vocab)}, vocab=vocab)


def copy_data(n=512, steps=6) -> DataModule:
    g = torch.Generator().manual_seed(3)
    src = torch.randint(3, 8, (n, steps), generator=g)
    src[:, -1] = EOS
    vocab = ["<pad>", "<bos>", "<eos>", "a", "b", "c", "d", "e"]
    return DataModule("copy", "seq2seq", (src[:448], src[:448].clone()), (src[448:], src[448:].clone()),
                      ((1, steps), (1, steps)), {"src_vocab": 8, "tgt_vocab": 8}, vocab=vocab, src_vocab=vocab)


def test_linear_regression_learns_and_reports_analytic_weights(tmp_path):
    cfg = cfg_of("linear-regression", optim={"lr": 0.03}, data={"batch_size": 10},
                 train={"epochs": 3})
    run = RunWriter.create(tmp_path, dump_toml(cfg), "lin")
    result = fit(cfg, run, data=regression_data())
    assert result.state == "finished" and result.val["loss"] < 1e-3
    samples = run.samples()
    assert samples["kind"] == "linear-regression"
    for key in ("learned", "analytic"):
        assert samples[key]["w"] == pytest.approx([2.0, -3.4], abs=0.05)
        assert samples[key]["b"] == pytest.approx(4.2, abs=0.05)
    assert samples["true"] == {"w": [2.0, -3.4], "b": 4.2}
    records = run.metrics()
    assert {r["split"] for r in records} == {"train", "val"}
    train = [r for r in records if r["split"] == "train"]
    assert all({"step", "epoch", "loss", "samples_per_s", "lr", "time"} <= r.keys() for r in train)
    assert run.status()["state"] == "finished"
    assert run.status()["headline"] == {"metric": "loss", "higher_is_better": False}  # recorded for every reader


def test_classification_points_accuracy_and_boundary(tmp_path):
    cfg = cfg_of("mlp", model={"name": "mlp", "hidden": [16]}, optim={"lr": 0.5},
                 data={"batch_size": 32}, train={"epochs": 4, "log_every": 5})
    run = RunWriter.create(tmp_path, dump_toml(cfg), "mlp")
    result = fit(cfg, run, data=blobs())
    assert result.val["acc"] >= 0.95
    samples = run.samples()
    assert samples["kind"] == "points"
    grid = samples["grid"]
    assert len(grid["classes"]) == len(grid["y"]) and len(grid["classes"][0]) == len(grid["x"])
    assert {c for row in grid["classes"] for c in row} == {0, 1}  # the boundary splits the plane
    assert samples["items"][0]["true"] in ("left", "right")
    val = [r for r in run.metrics() if r["split"] == "val"]
    assert [r["epoch"] for r in val] == [1, 2, 3, 4] and all(0 <= r["acc"] <= 1 for r in val)
    assert run.status()["headline"] == {"metric": "acc", "higher_is_better": True}


def test_image_classification_samples_are_thumbnails(tmp_path):
    cfg = cfg_of("lenet", model={"name": "lenet", "activation": "relu"}, optim={"name": "adam", "lr": 0.01},
                 data={"batch_size": 32}, train={"epochs": 3})
    run = RunWriter.create(tmp_path, dump_toml(cfg), "lenet")
    result = fit(cfg, run, data=images())
    assert result.val["acc"] >= 0.9
    items = run.samples()["items"]
    assert len(items) == 8 and {"predicted", "true", "confidence", "image"} <= items[0].keys()
    image = items[0]["image"]
    assert len(image) == 28 and len(image[0]) == 28 and 0 <= min(map(min, image)) <= max(map(max, image)) <= 1


def test_thumbnails_shrink_large_colour_images():
    out = thumbnails(torch.rand(2, 3, 96, 96))
    assert len(out) == 2 and len(out[0]) == 28 and len(out[0][0]) == 28


def test_language_model_perplexity_and_generated_text(tmp_path):
    cfg = cfg_of("gru-lm", optim={"name": "adam", "lr": 0.02, "clip": 1.0},
                 data={"batch_size": 16}, train={"epochs": 8})
    run = RunWriter.create(tmp_path, dump_toml(cfg), "lm")
    result = fit(cfg, run, data=text_data())
    assert result.val["ppl"] < 1.5  # the cycle abcd is perfectly predictable
    assert result.val["ppl"] == pytest.approx(math.exp(result.val["loss"]))
    item = run.samples()["items"][0]
    assert len(item["continuation"]) == 60 and "abcd" in item["continuation"]


def test_seq2seq_bleu_and_translations(tmp_path):
    cfg = cfg_of("seq2seq-attention", model={"name": "seq2seq-attention", "embed_size": 16, "num_hiddens": 32},
                 optim={"name": "adam", "lr": 0.01, "clip": 1.0}, data={"batch_size": 32},
                 train={"epochs": 6})
    run = RunWriter.create(tmp_path, dump_toml(cfg), "s2s")
    result = fit(cfg, run, data=copy_data())
    assert result.val["bleu"] > 0.8, result.val
    items = run.samples()["items"]
    assert {"source", "predicted", "target", "bleu"} <= items[0].keys()
    assert any(i["predicted"] == i["target"] for i in items) and all(i["predicted"] for i in items)


def test_bleu_is_the_books():
    assert bleu(list("abcd"), list("abcd")) == 1.0
    assert bleu([], list("ab")) == 0.0
    assert bleu(list("abcd"), list("abcde")) == pytest.approx(math.exp(1 - 5 / 4))
    assert bleu(list("ab"), list("ba")) == pytest.approx(1.0 ** 0.5 * 0.0)  # no bigram match


def test_nan_loss_diverges_within_one_step(tmp_path):
    cfg = cfg_of("linear-regression", optim={"lr": 5000.0}, data={"batch_size": 10},
                 train={"epochs": 3, "log_every": 1})
    run = RunWriter.create(tmp_path, dump_toml(cfg), "nan")
    result = fit(cfg, run, data=regression_data())
    assert result.state == "diverged" and result.exit_code == 1
    status = run.status()
    assert status["state"] == "diverged"
    assert f"step {result.step + 1}" in status["message"] and "learning rate 5000" in status["message"]
    losses = [r["loss"] for r in run.metrics() if r["split"] == "train"]
    assert len(losses) == result.step and all(math.isfinite(v) for v in losses)  # nothing after the bad step


def _stop_at(control: Control, step: int):
    def subscriber(event):
        if isinstance(event, ev.Metrics) and event.record["split"] == "train" and event.record["step"] == step:
            control.stop.set()
    return subscriber


def _weights(path) -> dict:
    return load_checkpoint(path / CHECKPOINT)["model"]


@pytest.mark.parametrize("stop_step", [7, 10])  # inside the second epoch; at the end of the first
def test_stop_and_resume_is_bitwise_equal(tmp_path, stop_step):
    def config():
        return cfg_of("mlp", model={"name": "mlp", "hidden": [32], "dropout": 0.3},
                      optim={"lr": 0.2, "momentum": 0.9, "schedule": "cosine", "warmup_steps": 3},
                      data={"batch_size": 32}, train={"epochs": 3, "log_every": 1})
    cfg = config()
    assert steps_per_epoch(300, 32) == 10
    full = RunWriter.create(tmp_path, dump_toml(cfg), "full")
    assert fit(cfg, full, data=blobs()).state == "finished"
    part = RunWriter.create(tmp_path, dump_toml(cfg), "part")
    control = Control()
    stopped = fit(cfg, part, [_stop_at(control, stop_step)], control, data=blobs())
    assert (stopped.state, stopped.step, stopped.exit_code) == ("stopped", stop_step, 1)
    assert part.status()["state"] == "stopped"
    state = load_checkpoint(part.path / CHECKPOINT)
    assert state["step"] == stop_step and isinstance(state["rng"]["torch"], torch.Tensor)
    resumed = fit(config(), part, data=blobs(), resume=state)
    assert resumed.state == "finished" and resumed.step == 30
    a, b = _weights(full.path), _weights(part.path)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["loss"] for r in full.metrics()] == [r["loss"] for r in part.metrics()]


def test_max_steps_stops_early_and_checkpoints(tmp_path):
    cfg = cfg_of("mlp", data={"batch_size": 32}, train={"epochs": 5, "max_steps": 4})
    run = RunWriter.create(tmp_path, dump_toml(cfg), "short")
    result = fit(cfg, run, data=blobs())
    assert (result.state, result.step) == ("finished", 4)
    assert load_checkpoint(run.path / CHECKPOINT)["pos"] == 4
    assert [r["split"] for r in run.metrics()][-1] == "val"


def test_checkpoint_every_n_steps_and_pause(tmp_path):
    cfg = cfg_of("mlp", data={"batch_size": 64}, train={"epochs": 1, "checkpoint_every": 2})
    run = RunWriter.create(tmp_path, dump_toml(cfg), "ck")
    control, seen = Control(), []

    def watch(event):
        if isinstance(event, ev.Checkpointed):
            seen.append(event.step)
            if event.step == 2:
                control.paused.set()
        if isinstance(event, ev.Status) and event.state == "paused":
            seen.append("paused")
            control.paused.clear()
    assert fit(cfg, run, [watch], control, data=blobs()).state == "finished"
    assert seen[:3] == [2, 2, "paused"] and 4 in seen  # pausing checkpoints first


def test_lr_schedules_with_warmup():
    assert lr_factor(0, 100, "none", 4) == 0.25 and lr_factor(3, 100, "none", 4) == 1.0
    assert lr_factor(4, 104, "cosine", 4) == pytest.approx(1.0)
    assert lr_factor(54, 104, "cosine", 4) == pytest.approx(0.5)
    assert lr_factor(104, 104, "cosine", 4) == pytest.approx(0.0)
    assert [lr_factor(s, 100, "step", 0) for s in (10, 50, 80)] == pytest.approx([1.0, 0.1, 0.01])


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_other_optimizers_train(name):
    cfg = cfg_of("mlp", optim={"name": name, "lr": 0.01, "weight_decay": 0.01, "clip": 1.0},
                 data={"batch_size": 32}, train={"epochs": 2})
    assert fit(cfg, data=blobs()).val["acc"] > 0.9


def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    assert list_devices()[0].name == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device("auto").type in ("cpu", "mps")
        with pytest.raises(UserError, match=r"train.device: cuda:3 is not available here; available: auto, cpu"):
            resolve_device("cuda:3")
    with pytest.raises(UserError, match="unknown device 'tpu'"):
        resolve_device("tpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_bf16_channels_last_runs():
    cfg = cfg_of("lenet", data={"batch_size": 32}, train={"epochs": 1, "device": "cuda"})
    result = fit(cfg, data=images())
    assert result.state == "finished" and next(result.model.parameters()).is_cuda


def test_cuda_out_of_memory_fails_naming_a_smaller_batch(tmp_path, monkeypatch):
    from d2ltui.tasks import supervised as tasks

    def oom(self, model, batch):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    monkeypatch.setattr(tasks.Classification, "loss", oom)
    cfg = cfg_of("mlp", data={"batch_size": 64}, train={"epochs": 1})
    run = RunWriter.create(tmp_path, dump_toml(cfg), "oom")
    result = fit(cfg, run, data=blobs())
    assert result.state == "failed" and result.exit_code == 1
    status = run.status()
    assert status["state"] == "failed" and "data.batch_size=32" in status["message"]


def test_failed_checkpoint_write_is_reported_and_training_goes_on(tmp_path, monkeypatch):
    from d2ltui.rundir import writer

    real = writer.atomic_write_bytes

    def full_disk(path, data):
        if path.name == "checkpoint.pt":
            raise OSError(28, "No space left on device")
        real(path, data)
    monkeypatch.setattr(writer, "atomic_write_bytes", full_disk)
    cfg = cfg_of("mlp", data={"batch_size": 64}, train={"epochs": 2})
    run = RunWriter.create(tmp_path, dump_toml(cfg), "disk")
    notes = []
    result = fit(cfg, run, [lambda e: notes.append(e) if isinstance(e, ev.Checkpointed) else None], data=blobs())
    assert result.state == "finished"
    assert notes and all("No space left on device" in n.error for n in notes)
    assert "not written" in run.status()["checkpoint_error"]


def test_bf16_autocast_on_the_cpu_when_asked():
    cfg = cfg_of("mlp", data={"batch_size": 32}, optim={"lr": 0.5}, train={"epochs": 3, "amp": "bf16"})
    result = fit(cfg, data=blobs())
    assert result.state == "finished" and result.val["acc"] > 0.9


def test_epochs_shorter_than_log_every_still_write_a_train_line(tmp_path):
    cfg = cfg_of("mlp", model={"name": "mlp", "hidden": [16]}, optim={"lr": 0.5},
                 data={"batch_size": 100}, train={"epochs": 2, "log_every": 10})
    run = RunWriter.create(tmp_path, dump_toml(cfg), "short")
    fit(cfg, run, data=blobs())  # 300 samples at batch 100: 3 steps an epoch
    train = [r for r in run.metrics() if r["split"] == "train"]
    assert [(r["epoch"], r["step"]) for r in train] == [(1, 3), (2, 6)]
    assert all(math.isfinite(r["loss"]) and r["samples_per_s"] > 0 for r in train)
