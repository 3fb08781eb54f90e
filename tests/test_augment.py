"""Augmentation: torchvision v2 with the book's parameters, drawn per image from a checkpointed generator,
training batches only; a killed augmented run resumes bitwise."""

from __future__ import annotations

import os
import random
import signal

import pytest
import torch
from torchvision.transforms import v2
from fault_helpers import assert_same_weights, cli, curve, spawn, wait_for_step

from d2ltui.config.schema import DataConfig
from d2ltui.data import load_data
from d2ltui.data.transforms import FACTORIES, ImagePrepare, pipeline
from d2ltui.rundir.checkpoint import load_checkpoint
from d2ltui.rundir.store import CHECKPOINT


def test_transforms_carry_the_books_parameters():
    crop = FACTORIES["crop"](200)
    assert isinstance(crop, v2.RandomResizedCrop) and tuple(crop.size) == (200, 200)
    assert crop.scale == (0.1, 1) and crop.ratio == (0.5, 2)
    assert FACTORIES["resized-crop"](224).scale == (0.08, 1.0)  # torchvision's defaults, the book's fine-tuning
    jitter = FACTORIES["jitter"](32)
    assert jitter.brightness == jitter.contrast == jitter.saturation == (0.5, 1.5) and jitter.hue == (-0.5, 0.5)
    assert FACTORIES["brightness"](32).hue is None and FACTORIES["hue"](32).brightness is None
    assert isinstance(FACTORIES["vflip"](32), v2.RandomVerticalFlip)
    steps = pipeline(["crop", "jitter", "flip"], 32).transforms  # the book's composition: flip, colour, shape
    assert [type(t) for t in steps] == [v2.RandomHorizontalFlip, v2.ColorJitter, v2.RandomResizedCrop]


def test_draws_are_per_image_seeded_and_on_training_batches_only():
    dm = load_data(DataConfig(name="shapes", num_train=64, num_val=8, channels=3, augment=["flip", "vflip"]),
                   "classification", "cpu")
    plain, _ = dm.prepare(dm.train, False)
    state = dm.prepare.state_dict()
    global_before = torch.get_rng_state()
    out, _ = dm.prepare(dm.train, True)
    assert torch.equal(torch.get_rng_state(), global_before)  # the global generator is not used
    kinds = set()
    for a, p in zip(out, plain):
        kinds.add(next(i for i, f in enumerate((p, p.flip(-1), p.flip(-2), p.flip(-1).flip(-2)))
                       if torch.equal(a, f)))
    assert kinds == {0, 1, 2, 3}  # each image drew its own flips
    again = ImagePrepare(28, augment=("flip", "vflip"), channels=3)
    again.load_state_dict(state)
    assert torch.equal(again(dm.train, True)[0], out)  # the same state draws the same
    assert not torch.equal(dm.prepare(dm.train, True)[0], out)  # and the state moved on
    assert torch.equal(dm.prepare(dm.train, False)[0], plain)

    dm.prepare.augment = ("crop", "jitter")
    x, _ = dm.prepare(dm.train, True)
    assert x.shape == plain.shape and 0 <= x.min() and x.max() <= 1
    assert not any(torch.equal(a, p) for a, p in zip(x, plain))


AUG_JOB = ["lenet", "--set", "data.name=shapes", "--set", "data.channels=3", "--set", "data.num_train=256",
           "--set", "data.num_val=64", "--set", "data.batch_size=32", "--set", "data.augment=flip,crop,jitter",
           "--set", "train.epochs=3", "--set", "train.log_every=1", "--set", "train.checkpoint_every=5",
           "--set", "model.activation='relu'", "--plain"]


@pytest.mark.slow
def test_augmented_training_killed_and_resumed_is_bitwise_exact(tmp_path):
    code, out, err = cli("train", *AUG_JOB, "--runs-dir", str(tmp_path), "--run-id", "ref")
    assert code == 0, out + err
    ref = tmp_path / "ref"
    assert "prepare" in load_checkpoint(ref / CHECKPOINT)  # the augmentation generator is checkpointed
    kill_step = random.Random(os.urandom(4)).randint(5, 17)
    proc = spawn("train", *AUG_JOB, "--runs-dir", str(tmp_path), "--run-id", "cut")
    try:
        seen = wait_for_step(proc, tmp_path / "cut", kill_step)
        if seen is not None:
            os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert seen is not None, "the run ended before it could be killed"
    state = load_checkpoint(tmp_path / "cut" / CHECKPOINT)
    assert 0 < state["step"] < 24
    code, out, err = cli("train", "--resume", "cut", "--runs-dir", str(tmp_path))
    assert code == 0, out + err
    assert_same_weights(tmp_path / "cut", ref)
    assert curve(tmp_path / "cut") == curve(ref), f"killed at step {seen}, resumed from {state['step']}"
