"""Every shipped preset validates; book presets train a few steps on embedded data; quick ones reach their targets."""

from __future__ import annotations

import time

import pytest

from d2ltui.rundir.writer import RunWriter
from d2ltui.config.presets import list_presets
from d2ltui.tasks.resolve import resolve
from d2ltui.rundir.store import RunDir
from d2ltui.engine.loop.trainer import fit
from d2ltui.config.schema import dump_toml
from d2ltui.zoo.registry import get_spec

PRESETS = list_presets()
BOOK = [p.name for p in PRESETS if not p.name.startswith(("quick-", "lab-")) and not p.sweep]  # lab-*: test_lab_stories
QUICK = [p.name for p in PRESETS if p.name.startswith("quick-") and not p.sweep]  # sweeps: tests/test_sweep.py
# Real data cannot be downloaded in tests: the same task's embedded set stands in, small and short.
STAND_IN = {"fashion-mnist": ["data.name=shapes", "data.num_train=16", "data.num_val=8", "data.batch_size=8"],
            "time-machine": ["data.name=python-docs", "data.num_train=64", "data.num_val=16", "data.batch_size=16"],
            "fra-eng": ["data.name=reverse", "data.num_train=64", "data.num_val=16", "data.batch_size=16"],
            "synthetic-regression": [], "kernel-regression": ["data.batch_size=25"],
            "weight-decay": [], "gaussian-2d": [], "frozenlake-4x4": [], "frozenlake-8x8": [],
            "pokemon": ["data.name=sprites", "data.num_train=16", "data.num_val=8", "data.batch_size=8"],
            "kaggle-house": ["data.name=tabular-missing", "data.folds=1", "data.batch_size=16"],
            "cifar10": ["data.name=shapes", "data.channels=3", "data.resize=32", "data.num_train=16", "data.num_val=8",
                        "data.batch_size=8"],
            "hotdog": ["data.name=shapes", "data.channels=3", "data.resize=64", "data.num_train=16", "data.num_val=8",
                       "data.batch_size=8", "train.init_from="],  # no ImageNet weights offline
            "banana-detection": ["data.name=bananas", "data.resize=64", "data.num_train=8", "data.num_val=4",
                                 "data.batch_size=4"]}
GAN_STAND_IN = STAND_IN["pokemon"] + ["model.base_width=4"]  # an image GAN: a narrow DCGAN on a few sprites
RL_TASKS = ("value-iteration", "q-learning")  # an epoch is one iteration or episode, each validated
# What each quick preset promises in its description, checked on the validation split at the end.
TARGETS = {"quick-gan": ("loss_d", ">=", 0.6), "quick-dcgan-sprites": ("loss_d", ">=", 0.05),
           "quick-linear": None, "quick-mlp-moons": ("acc", ">=", 0.97), "quick-lenet-shapes": ("acc", ">=", 0.8),
           "quick-rnn-python-docs": ("ppl", "<=", 7.0), "quick-seq2seq-reverse": ("bleu", ">=", 0.8),
           "quick-pretrain-shapes": ("acc", ">=", 0.4), "quick-finetune-shapes": ("acc", ">=", 0.85),
           "quick-scratch-shapes": ("acc", "<=", 0.75), "quick-ssd-bananas": ("ap50", ">=", 0.5)}
BUDGET_S = {"quick-ssd-bananas": 180}  # what a quick preset's description promises; a minute otherwise
# The run a quick preset's train.init_from names, and the quick preset that makes it.
SOURCES = {"shapes-0-7": "quick-pretrain-shapes"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_book_experiments_and_quick_ones_are_shipped():
    names = {p.name for p in PRESETS}
    assert {"linear-regression", "softmax-regression", "mlp", "mlp-dropout", "lenet", "lenet-bn", "alexnet", "vgg",
            "nin", "googlenet", "resnet18", "resnext", "densenet", "rnn-lm", "gru-lm", "lstm-lm", "deep-gru",
            "seq2seq", "seq2seq-attention", "transformer", "vit", "gan", "dcgan", "value-iteration", "q-learning"} <= names
    assert set(TARGETS) == set(QUICK)


@pytest.mark.parametrize("name", [p.name for p in PRESETS])
def test_preset_loads_and_validates(name):
    cfg, description = resolve(name)
    assert description and cfg.model.name
    assert cfg.to_dict()["data"]["name"] in STAND_IN or name.startswith(("quick-", "lab-", "sweep-"))


def test_book_settings_are_the_books():
    lenet, _ = resolve("lenet")
    assert (lenet.data.batch_size, lenet.optim.lr, lenet.train.epochs, lenet.model.knobs["init"]) == (128, 0.1, 10, "xavier")
    alexnet, _ = resolve("alexnet")
    assert (alexnet.data.resize, alexnet.optim.lr) == (224, 0.01)
    gan, _ = resolve("gan")
    assert (gan.data.name, gan.data.batch_size, gan.optim.name, gan.optim.lr, gan.optim.lr_g, gan.train.epochs,
            gan.model.knobs["latent_dim"]) == ("gaussian-2d", 8, "adam", 0.05, 0.005, 20, 2)
    dcgan, _ = resolve("dcgan")
    assert (dcgan.data.name, dcgan.data.batch_size, dcgan.optim.lr, dcgan.train.epochs,
            dcgan.model.knobs["latent_dim"]) == ("pokemon", 256, 0.005, 20, 100)
    q, _ = resolve("q-learning")
    assert (q.model.knobs, q.train.epochs, q.data.name) == (
        {"gamma": 0.95, "alpha": 0.9, "epsilon": 0.9}, 256, "frozenlake-4x4")
    gru, _ = resolve("gru-lm")
    assert (gru.data.batch_size, gru.data.num_steps, gru.optim.lr, gru.optim.clip, gru.train.epochs) == (1024, 32, 4.0, 1.0, 50)
    for name, lr, epochs in (("rnn-lm", 1.0, 100), ("gru-lm", 4.0, 50), ("lstm-lm", 4.0, 50), ("deep-gru", 2.0, 100)):
        lm, _ = resolve(name)  # the book's TimeMachine(batch_size=1024, num_steps=32) windows, clip 1
        assert (lm.data.name, lm.data.partition, lm.data.num_train, lm.data.num_val) == ("time-machine", "windows",
                                                                                         10000, 5000)
        assert (lm.data.batch_size, lm.data.num_steps, lm.optim.lr, lm.optim.clip, lm.train.epochs) == \
            (1024, 32, lr, 1.0, epochs)
    house, _ = resolve("kaggle-house")  # the book's k_fold(trainer, data, k=5, lr=0.01), max_epochs=10, batch 64
    assert (house.model.name, house.data.name, house.optim.name, house.optim.lr, house.data.batch_size,
            house.train.epochs, house.data.folds) == ("linear-regression", "kaggle-house", "sgd", 0.01, 64, 10, 5)


@pytest.mark.parametrize("name", BOOK)
def test_book_preset_trains_a_few_steps(tmp_path, name):
    base, _ = resolve(name)
    stand_in = GAN_STAND_IN if base.model.name == "dcgan" else STAND_IN[base.data.name]
    cfg, _ = resolve(name, [*stand_in, "train.max_steps=2", "train.log_every=1"])
    run = RunWriter.create(tmp_path, dump_toml(cfg), name)
    result = fit(cfg, run)
    assert (result.state, result.step) == ("finished", 2), result.message
    records = run.metrics()
    rl = get_spec(cfg.model.name).task in RL_TASKS
    assert [r["split"] for r in records] == (["train", "val"] * 2 if rl else ["train", "train", "val"])
    assert all("loss" in r for r in records if r["split"] == "train")
    assert all(v == v for r in records for v in r.values() if isinstance(v, float))  # finite numbers, not NaN
    assert run.samples()


@pytest.mark.slow
@pytest.mark.parametrize("name", QUICK)
def test_quick_preset_reaches_its_stated_target(tmp_path, name, monkeypatch):
    cfg, description = resolve(name)
    if cfg.train.init_from:  # first the run it starts from, in the default runs folder
        monkeypatch.setenv("D2LTUI_RUNS_DIR", str(tmp_path))
        source, _ = resolve(SOURCES[cfg.train.init_from])
        assert fit(source, RunWriter.create(tmp_path, dump_toml(source), cfg.train.init_from)).state == "finished"
    start = time.perf_counter()
    run = RunWriter.create(tmp_path, dump_toml(cfg), name)
    result = fit(cfg, run)
    assert result.state == "finished"
    assert time.perf_counter() - start < BUDGET_S.get(name, 60)
    target = TARGETS[name]
    if target is None:  # linear regression: the learned weights match the truth
        assert "within 0.05" in description
        samples = run.samples()
        assert samples["learned"]["w"] == pytest.approx(samples["true"]["w"], abs=0.05)
        assert samples["learned"]["b"] == pytest.approx(samples["true"]["b"], abs=0.05)
        return
    metric, op, threshold = target
    assert f"{op} {threshold:g}" in description
    value = result.val[metric]
    assert value >= threshold if op == ">=" else value <= threshold, f"{name}: val {metric} {value:.4g}"
