"""Embedded datasets: shapes, dtypes, seeds, tasks, model knobs and the wrong-task error."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from d2ltui.config.schema import DataConfig
from d2ltui.data import DATASETS, datasets_for, load_data
from d2ltui.errors import UserError

EMBEDDED = {"synthetic-regression": "regression", "weight-decay": "regression", "moons": "classification", "circles": "classification",
            "spirals": "classification", "xor": "classification", "shapes": "classification",
            "python-docs": "language-model", "reverse": "seq2seq", "dates": "seq2seq",
            "tabular-missing": "regression", "kernel-regression": "regression",
            "bananas": "detection"}
# Unlabelled GAN data and FrozenLake maps (fixed by gymnasium, no seed to vary): tests/test_gan_rl_engine.py
UNSUPERVISED = {"gaussian-2d", "sprites", "frozenlake-4x4", "frozenlake-4x4-slippery", "frozenlake-8x8",
                "frozenlake-8x8-slippery"}


def load(name, task=None, **kw):
    return load_data(DataConfig(name=name, **kw), task or EMBEDDED[name], "cpu")


def test_registry_lists_every_name_with_tasks_and_imports_no_torch():
    names = {"synthetic-regression", "weight-decay", "moons", "circles", "spirals", "xor", "shapes", "python-docs", "reverse",
             "dates", "tabular-missing", "fashion-mnist", "mnist", "cifar10", "time-machine", "fra-eng",
             "text-file", "csv", "kaggle-house", "kernel-regression", "hotdog", "bananas", "banana-detection",
             "gaussian-2d", "sprites", "pokemon", "frozenlake-4x4", "frozenlake-4x4-slippery", "frozenlake-8x8",
             "frozenlake-8x8-slippery"}
    assert set(DATASETS) == names
    assert {n for n, d in DATASETS.items() if d.embedded} == set(EMBEDDED) | UNSUPERVISED
    assert datasets_for("seq2seq") == ["reverse", "dates", "fra-eng"]
    assert "csv" in datasets_for("classification") and "csv" in datasets_for("regression")
    code = "import sys, d2ltui.data.registry as r; assert 'torch' not in sys.modules; print(len(r.DATASETS))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(len(names))


@pytest.mark.parametrize("name", sorted(EMBEDDED))
def test_embedded_is_deterministic_from_the_seed(name):
    a, b, c = load(name, num_train=64, num_val=16), load(name, num_train=64, num_val=16), \
        load(name, num_train=64, num_val=16, seed=1)
    assert all(torch.equal(x, y) for x, y in zip(a.train + a.val, b.train + b.val))
    if name == "python-docs":  # the book's windows take no seed (the trainer's shuffle does); sequential does
        assert torch.equal(a.train[0], c.train[0])
        a, c = (load(name, num_train=64, num_val=16, seed=s, partition="sequential") for s in (0, 1))
    assert not torch.equal(a.train[0], c.train[0])
    assert a.task == EMBEDDED[name] and a.name == name
    assert len(a.train) == len(a.val) == (4 if name == "kernel-regression" else 2)  # query, keys, values, y
    assert len(a.train[0]) == len(a.train[1]) and len(a.val[0]) == len(a.val[1])


def test_weight_decay_data_is_the_books_high_dimensional_line():
    dm = load("weight-decay")
    X, y = dm.train
    assert X.shape == (20, 200) and y.shape == (20, 1) and dm.val[0].shape == (100, 200)
    assert dm.model_knobs["in_features"] == 200
    X, y = torch.cat([X, dm.val[0]]), torch.cat([y, dm.val[1]])
    residual = y.squeeze() - (0.05 + 0.01 * X.sum(1))  # the book: y = 0.05 + sum 0.01 x_i + N(0, 0.01^2)
    assert abs(float(residual.mean())) < 0.004 and 0.007 < float(residual.std()) < 0.013


def test_synthetic_regression_is_the_books_line():
    dm = load("synthetic-regression")
    X, y = dm.train
    assert X.shape == (1000, 2) and y.shape == (1000, 1) and dm.val[0].shape == (1000, 2)
    assert X.dtype == y.dtype == torch.float32
    assert dm.info["true_w"] == [2.0, -3.4] and dm.info["true_b"] == 4.2
    A = torch.cat([X, torch.ones(len(X), 1)], 1)
    w = torch.linalg.lstsq(A, y).solution.squeeze()
    assert torch.allclose(w, torch.tensor([2.0, -3.4, 4.2]), atol=0.005)
    assert (y - A @ w.unsqueeze(1)).std() == pytest.approx(0.01, abs=0.002)
    assert dm.model_knobs == {"in_features": 2, "num_classes": 1} and dm.input_shape == ((1, 2),)


@pytest.mark.parametrize("name,classes", [("moons", 2), ("circles", 2), ("spirals", 3), ("xor", 2)])
def test_points(name, classes):
    dm = load(name)
    assert dm.train[0].shape == (1000, 2) and dm.val[0].shape == (500, 2)
    assert dm.train[0].dtype == torch.float32 and dm.train[1].dtype == torch.int64
    assert set(dm.train[1].tolist()) == set(range(classes))
    assert dm.model_knobs == {"in_features": 2, "num_classes": classes}
    # a linear boundary does not solve any of them: least squares on one-hot targets stays well below 100%
    X, y = dm.train
    A = torch.cat([X, torch.ones(len(X), 1)], 1)
    W = torch.linalg.lstsq(A, torch.nn.functional.one_hot(y).float()).solution
    assert ((A @ W).argmax(1) == y).float().mean() < 0.9


def test_python_docs_language_model():
    windows = load("python-docs", num_steps=16, batch_size=8)
    assert windows.train[0].shape == (10000, 16) and windows.val[0].shape == (5000, 16)  # the book's defaults
    assert torch.equal(windows.train[0][1:, :-1], windows.train[0][:-1, 1:])  # window i + 1 starts one later
    dm = load("python-docs", num_steps=16, batch_size=8, partition="sequential")
    X, Y = dm.train
    assert X.dtype == Y.dtype == torch.int64 and X.shape[1] == 16
    assert dm.vocab[:3] == [" ", "<unk>", "a"] and dm.model_knobs == {"vocab_size": 28} == {"vocab_size": len(dm.vocab)}
    assert torch.equal(X[:, 1:], Y[:, :-1])  # Y is X shifted by one
    assert torch.equal(X[8:, 0], Y[:-8, -1])  # sequential partition: row i + batch_size continues row i
    assert len(X) > 10000 and dm.val[0].shape[1] == 16
    assert dm.input_shape == ((1, 16),)
    assert load("python-docs", num_steps=16, batch_size=8, seed=3, partition="sequential").info["offset"] \
        != dm.info["offset"] or load("python-docs", num_steps=16, batch_size=8, seed=4,
                                     partition="sequential").info["offset"] != dm.info["offset"]


@pytest.mark.parametrize("name", ["reverse", "dates"])
def test_seq2seq_embedded(name):
    dm = load(name, num_steps=24)
    src, tgt = dm.train
    assert src.shape == (10000, 24) == tgt.shape and dm.val[0].shape == (1000, 24)
    assert src.dtype == tgt.dtype == torch.int64
    assert dm.src_vocab[:4] == dm.vocab[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert dm.model_knobs == {"src_vocab": len(dm.src_vocab), "tgt_vocab": len(dm.vocab)}
    assert dm.input_shape == ((1, 24), (1, 24))
    for seqs in (src, tgt):
        lengths = (seqs != 0).sum(1)
        assert (seqs[torch.arange(len(seqs)), lengths - 1] == 2).all()  # each ends in <eos>, then <pad>
    s, t = src[0][src[0] > 2].tolist(), tgt[0][tgt[0] > 2].tolist()
    words = "".join(dm.src_vocab[i] for i in s), "".join(dm.vocab[i] for i in t)
    if name == "reverse":
        assert words[1] == words[0][::-1]
    else:
        import datetime as dt

        day = dt.date.fromisoformat(words[1])
        assert str(day.year) in words[0] and str(day.day) in words[0]


def test_seq2seq_truncation_keeps_eos():
    dm = load("dates", num_steps=6)
    assert (dm.train[0][:, -1] == 2).any() and ((dm.train[1] != 0).sum(1) <= 6).all()
    assert (dm.train[1][:, 5] == 2).all()  # ISO dates are 10 chars: cut to 5 + <eos>
    assert dm.info["truncated"] > 0


@pytest.mark.parametrize("name,task", [("moons", "language-model"), ("python-docs", "classification"),
                                       ("shapes", "seq2seq"), ("fra-eng", "regression"), ("csv", "seq2seq")])
def test_wrong_task_names_dataset_task_and_what_fits(name, task):
    with pytest.raises(UserError) as err:
        load(name, task)
    msg = str(err.value)
    assert name in msg and task in msg and "\n" not in msg
    assert all(n in msg for n in datasets_for(task))


@pytest.mark.parametrize("field,value", [("augment", ["flip", "rotate"]), ("resize", 3), ("channels", 2),
                                         ("impute", "zero"), ("num_train", -1), ("num_steps", 1)])
def test_bad_data_fields_name_the_field(field, value):
    with pytest.raises(UserError, match=f"data.{field}"):
        load("shapes", **{field: value})


def test_unknown_dataset_suggests():
    with pytest.raises(UserError, match="fashion-mnist"):
        load("fashion_mnist", "classification")
