"""The book's stories, seen in the layer statistics of the lab-* presets (shortened): vanishing gradients in
sigmoid LeNet against LeNet-BN, weight norms falling as weight decay rises, dropout narrowing the train/val gap,
and the init schemes' effect on the first step's activations."""

from __future__ import annotations

import pytest

from d2ltui.rundir.writer import RunWriter
from d2ltui.tasks.resolve import resolve
from d2ltui.engine.loop.trainer import fit
from d2ltui.rundir.store import RunDir

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def train(tmp_path, preset: str, *sets: str) -> RunDir:
    cfg, _ = resolve(preset, list(sets))
    run = RunWriter.create(tmp_path, "", f"run-{len(list(tmp_path.iterdir()))}")
    assert fit(cfg, run).state == "finished"
    return run


def stat(run: RunDir, step: int, layer: str, key: str) -> float:
    return next(r[key] for r in run.layers() if r["step"] == step and r["layer"] == layer)


def test_sigmoid_lenet_gradients_vanish_in_the_first_layers_batch_norm_fixes_it(tmp_path):
    short = ("data.num_train=256", "data.num_val=64", "train.max_steps=3", "train.layer_stats_every=1")
    plain, bn = train(tmp_path, "lab-lenet-sigmoid", *short), train(tmp_path, "lab-lenet-bn", *short)
    for step in (1, 2, 3):
        first_vs_last = stat(plain, step, "conv1", "grad_norm") / stat(plain, step, "fc5", "grad_norm")
        with_bn = stat(bn, step, "conv1", "grad_norm") / stat(bn, step, "fc5", "grad_norm")
        assert first_vs_last < 1e-2 and first_vs_last * 100 < with_bn, (step, first_vs_last, with_bn)
    assert stat(plain, 1, "conv1", "act") == "Sigmoid" and stat(bn, 1, "conv1", "act") == "Sigmoid"


def test_weight_norm_falls_as_weight_decay_rises(tmp_path):
    norms = []
    for wd in (0.0, 0.01, 0.1):
        run = train(tmp_path, "lab-mlp-weight-decay", f"optim.weight_decay={wd}", "train.epochs=3")
        last = max(r["step"] for r in run.layers())
        norms.append(sum(r["weight_norm"] ** 2 for r in run.layers() if r["step"] == last) ** 0.5)
    assert norms[0] > norms[1] > norms[2], norms
    assert norms[2] < 0.8 * norms[0]


def test_dropout_narrows_the_train_val_gap(tmp_path):
    gaps = []
    for p in (0.0, 0.5):
        metrics = train(tmp_path, "lab-mlp-dropout", f"model.dropout={p}", "train.epochs=30").metrics()
        train_loss = [r["loss"] for r in metrics if r["split"] == "train"][-4:]
        val_loss = [r["loss"] for r in metrics if r["split"] == "val"][-1]
        gaps.append(val_loss - sum(train_loss) / len(train_loss))
    assert gaps[1] < gaps[0] and gaps[0] > 0, gaps


def test_init_schemes_show_in_the_first_steps_activations(tmp_path):
    std = {}
    for scheme in ("normal", "xavier", "custom"):
        run = train(tmp_path, "lab-mlp-weight-decay", f"model.init={scheme}", "train.max_steps=1")
        std[scheme] = stat(run, 1, "fc2", "act_std")
    # N(0, 0.01) weights shrink the signal layer after layer; the book's custom scheme (|w| in [5, 10]) blows it up
    assert std["normal"] < 0.01 < std["xavier"] < std["custom"]
    assert std["custom"] > 100 * std["xavier"]
