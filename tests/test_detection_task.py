"""The detection task: AP@0.5 and the book's metrics on known predictions, a short run's records, inspection."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from d2ltui.rundir.writer import RunWriter
from d2ltui.cli import main
from d2ltui.tasks.resolve import resolve
from d2ltui.config.schema import dump_toml
from d2ltui.data.base import DataModule
from d2ltui.zoo.anchors import multibox_prior, multibox_target
from d2ltui.tasks.detection import Detection
from d2ltui.engine.loop.trainer import fit
from d2ltui.rundir.store import RunDir

BOXES = torch.tensor([[0.1, 0.1, 0.5, 0.6], [0.4, 0.3, 0.9, 0.8], [0.0, 0.5, 0.3, 0.95], [0.2, 0.2, 0.8, 0.8]])


class Oracle(nn.Module):
    """Predicts each image's labelled anchors perfectly (image i holds the value i), shifted by `shift`."""

    def __init__(self, labels: torch.Tensor, shift: float = 0.0) -> None:
        super().__init__()
        self.labels, self.shift = labels, shift
        self.anchors = multibox_prior(torch.zeros(1, 1, 8, 8), sizes=[0.3, 0.5], ratios=[1, 2, 0.5])

    def forward(self, X):
        labels = self.labels[X[:, 0, 0, 0].round().long()]
        offsets, _, classes = multibox_target(self.anchors, labels)
        logits = torch.nn.functional.one_hot(classes, 2).float() * 20
        return self.anchors, logits, offsets + self.shift


def oracle_task() -> tuple[Detection, torch.Tensor]:
    labels = torch.cat([torch.zeros(4, 1), BOXES], 1).unsqueeze(1)
    images = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 3, 8, 8).contiguous()
    data = DataModule("toy", "detection", (images, labels), (images, labels), ((1, 3, 8, 8),),
                      prepare=lambda batch, train: batch, classes=["banana"])
    return Detection(data), labels


def test_perfect_predictions_score_ap_1_and_no_errors():
    task, labels = oracle_task()
    stats = task.evaluate(Oracle(labels), task.data.prepare)
    assert stats["ap50"] == pytest.approx(1.0)
    assert stats["class_err"] == 0.0 and stats["bbox_mae"] < 1e-5


def test_far_off_boxes_score_ap_0():
    task, labels = oracle_task()
    stats = task.evaluate(Oracle(labels, shift=8.0), task.data.prepare)
    assert stats["ap50"] == pytest.approx(0.0, abs=1e-6)
    assert stats["class_err"] == 0.0 and stats["bbox_mae"] > 0.01


def test_samples_hold_colour_images_true_boxes_and_detections():
    task, labels = oracle_task()
    samples = task.samples(Oracle(labels), task.data.prepare)
    assert samples["kind"] == "detections" and len(samples["items"]) == 4
    item = samples["items"][1]
    assert len(item["image"]) == 3 and item["truth"] == [["banana", *[round(v, 4) for v in BOXES[1].tolist()]]]
    best = item["detections"][0]
    assert best["label"] == "banana" and best["score"] > 0.99
    assert best["box"] == pytest.approx(BOXES[1].tolist(), abs=1e-3)


def test_a_short_run_records_the_books_metrics(tmp_path, one_torch_thread):
    cfg, _ = resolve("tiny-ssd", ["data.resize=64", "data.num_train=24", "data.num_val=4", "data.batch_size=8",
                                  "train.max_steps=3", "train.log_every=1"])
    run = RunWriter.create(tmp_path, dump_toml(cfg), "ssd")
    result = fit(cfg, run)
    assert result.state == "finished", result.message
    records = run.metrics()
    assert [r["split"] for r in records] == ["train"] * 3 + ["val"]
    assert all(0 <= r["class_err"] <= 1 and r["bbox_mae"] >= 0 for r in records)
    assert 0 <= records[-1]["ap50"] <= 1 and result.best["metric"] == "ap50"
    assert records[2]["loss"] < records[0]["loss"]  # three SGD steps at the book's lr already lower it
    assert run.samples()["kind"] == "detections"


def test_inspect_json_gives_the_anchors(capsys):
    with pytest.raises(SystemExit) as code:
        main(["inspect", "tiny-ssd", "--json"])
    assert code.value.code in (0, None)
    out = json.loads(capsys.readouterr().out)
    assert out["anchors"] == 5444 and out["total_params"] > 0
    assert [(f["scale"], f["shape"], f["anchors"]) for f in out["feature_maps"]] == [
        ("blk_0", [64, 32, 32], 4096), ("blk_1", [128, 16, 16], 1024), ("blk_2", [128, 8, 8], 256),
        ("blk_3", [128, 4, 4], 64), ("blk_4", [128, 1, 1], 4)]
    with pytest.raises(SystemExit):
        main(["inspect", "tiny-ssd", "--input", "1x3x128x128"])
    text = capsys.readouterr().out
    assert "anchors 1,364 an image" in text  # 4 * (16 * 16 + 8 * 8 + 4 * 4 + 2 * 2 + 1)


def test_ssd_bananas_preset_has_the_books_settings():
    cfg, description = resolve("ssd-bananas")
    assert (cfg.model.name, cfg.data.name, cfg.data.batch_size) == ("tiny-ssd", "banana-detection", 32)
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.weight_decay, cfg.train.epochs) == ("sgd", 0.2, 5e-4, 20)
    assert "14.7" in description


def test_quick_preset_learns_to_find_bananas_on_a_smaller_budget(tmp_path, one_torch_thread):
    """quick-ssd-bananas on 640 images for 3 epochs (60 steps, about half its budget): the detector already
    finds most bananas (the full preset, 128 steps, is checked against its stated 0.5 by the slow test)."""
    cfg, _ = resolve("quick-ssd-bananas", ["data.num_train=640", "data.num_val=50", "train.epochs=3"])
    run = RunWriter.create(tmp_path, dump_toml(cfg), "quick-small")
    result = fit(cfg, run)
    assert result.state == "finished", result.message
    first, last = (r for r in (run.metrics()[i] for i in (0, -1)))
    assert result.val["ap50"] >= 0.3, result.val
    assert last["bbox_mae"] < first["bbox_mae"]
