"""Every shipped preset validates; book presets train a few steps on embedded data; quick ones reach their targets."""

from __future__ import annotations

import time

import pytest

from d2ltui.config.presets import list_presets
from d2ltui.config.resolve import resolve
from d2ltui.rundir.store import RunDir
from d2ltui.engine.trainer import fit
from d2ltui.config.schema import dump_toml

PRESETS = list_presets()
BOOK = [p.name for p in PRESETS if not p.name.startswith("quick-")]
QUICK = [p.name for p in PRESETS if p.name.startswith("quick-")]
# Real data cannot be downloaded in tests: the same task's embedded set stands in, small and short.
STAND_IN = {"fashion-mnist": ["data.name=shapes", "data.num_train=16", "data.num_val=8", "data.batch_size=8"],
            "time-machine": ["data.name=python-docs", "data.num_train=64", "data.num_val=16", "data.batch_size=16"],
            "fra-eng": ["data.name=reverse", "data.num_train=64", "data.num_val=16", "data.batch_size=16"],
            "synthetic-regression": [],
            "kaggle-house": ["data.name=tabular-missing", "data.folds=1", "data.batch_size=16"],
            "banana-detection": ["data.name=bananas", "data.resize=64", "data.num_train=8", "data.num_val=4",
                                 "data.batch_size=4"]}
# What each quick preset promises in its description, checked on the validation split at the end.
TARGETS = {"quick-linear": None, "quick-mlp-moons": ("acc", ">=", 0.97), "quick-lenet-shapes": ("acc", ">=", 0.8),
           "quick-rnn-python-docs": ("ppl", "<=", 7.0), "quick-seq2seq-reverse": ("bleu", ">=", 0.8),
           "quick-ssd-bananas": ("ap50", ">=", 0.5)}
BUDGET_S = {"quick-ssd-bananas": 180}  # what a quick preset's description promises; a minute otherwise


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_book_experiments_and_quick_ones_are_shipped():
    names = {p.name for p in PRESETS}
    assert {"linear-regression", "softmax-regression", "mlp", "mlp-dropout", "lenet", "lenet-bn", "alexnet", "vgg",
            "nin", "googlenet", "resnet18", "resnext", "densenet", "rnn-lm", "gru-lm", "lstm-lm", "deep-gru",
            "seq2seq", "seq2seq-attention", "transformer", "vit"} <= names
    assert set(TARGETS) == set(QUICK)


@pytest.mark.parametrize("name", [p.name for p in PRESETS])
def test_preset_loads_and_validates(name):
    cfg, description = resolve(name)
    assert description and cfg.model.name
    assert cfg.to_dict()["data"]["name"] in STAND_IN or name.startswith("quick-")


def test_book_settings_are_the_books():
    lenet, _ = resolve("lenet")
    assert (lenet.data.batch_size, lenet.optim.lr, lenet.train.epochs, lenet.model.knobs["init"]) == (128, 0.1, 10, "xavier")
    alexnet, _ = resolve("alexnet")
    assert (alexnet.data.resize, alexnet.optim.lr) == (224, 0.01)
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
    cfg, _ = resolve(name, [*STAND_IN[base.data.name], "train.max_steps=2", "train.log_every=1"])
    run = RunDir.create(tmp_path, dump_toml(cfg), name)
    result = fit(cfg, run)
    assert (result.state, result.step) == ("finished", 2), result.message
    records = run.metrics()
    assert [r["split"] for r in records] == ["train", "train", "val"]
    assert all(r["loss"] == r["loss"] for r in records)  # finite numbers, not NaN
    assert run.samples()


@pytest.mark.slow
@pytest.mark.parametrize("name", QUICK)
def test_quick_preset_reaches_its_stated_target(tmp_path, name):
    cfg, description = resolve(name)
    start = time.perf_counter()
    run = RunDir.create(tmp_path, dump_toml(cfg), name)
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
