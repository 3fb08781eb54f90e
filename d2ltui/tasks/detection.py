"""The detection task (section 14.7): the book's SSD loss and metrics, AP@0.5, and detections as samples."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from d2ltui.data.base import Batch
from d2ltui.zoo.anchors import multibox_detection, multibox_target
from d2ltui.tasks import inputs
from d2ltui.tasks.base import StepStats, Task

EVAL_BATCH = 32  # images of 256 px: activations, not the inputs, bound the batch
MAX_DETECTIONS = 100  # per image, for AP (COCO's largest budget)
SAMPLE_IMAGES, SAMPLE_SIDE, SAMPLE_BOXES = 6, 40, 5
SAMPLE_MIN_SCORE = 0.1  # the view filters further by its own threshold


def ssd_loss(cls_preds: torch.Tensor, bbox_preds: torch.Tensor, labels: torch.Tensor,
             anchors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(per-image loss (B,), class errors summed over anchors, absolute offset errors summed).

    The book's `calc_loss`: cross-entropy over every anchor's class plus L1 over the offsets of the
    anchors that hold an object (masked), each averaged per image.
    """
    with torch.no_grad():
        bbox_labels, bbox_masks, cls_labels = multibox_target(anchors.float(), labels)
    cls_preds, bbox_preds = cls_preds.float(), bbox_preds.float()
    b, c = cls_preds.shape[0], cls_preds.shape[2]
    cls = F.cross_entropy(cls_preds.reshape(-1, c), cls_labels.reshape(-1), reduction="none").reshape(b, -1).mean(1)
    bbox = F.l1_loss(bbox_preds * bbox_masks, bbox_labels * bbox_masks, reduction="none").mean(1)
    with torch.no_grad():
        wrong = (cls_preds.argmax(-1) != cls_labels).sum()
        abs_err = ((bbox_labels - bbox_preds) * bbox_masks).abs().sum()
    return cls + bbox, wrong, abs_err


class Detection(Task):
    """Images with boxes: one model (TinySSD) predicting each anchor's class and offsets."""

    name = "detection"
    metric = "ap50"

    @classmethod
    def learning_bar(cls, data):
        return "ap50", 0.5

    def train_step(self, batch: Batch) -> StepStats:
        X, labels = batch
        with self.ctx.autocast():
            anchors, cls_preds, bbox_preds = self.ctx.train_model(X)
        per_image, wrong, abs_err = ssd_loss(cls_preds, bbox_preds, labels, anchors)
        loss = per_image.mean()
        self.ctx.check(loss)
        self.optimization.step(loss)
        extra = {"class_err": wrong / cls_preds.shape[0] / cls_preds.shape[1],
                 "bbox_mae": abs_err / bbox_preds.numel()}
        return StepStats(loss.detach(), len(X), None, len(X), extra)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, prepare) -> dict[str, float]:
        """Loss, class error and bbox MAE as the book's, and AP at IoU 0.5 (torchmetrics, COCO style)."""
        from torchmetrics.detection import MeanAveragePrecision

        val = self.data.val
        device = val[0].device
        ap = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", iou_thresholds=[0.5], backend="pycocotools")
        sums = torch.zeros(3, dtype=torch.float64, device=device)
        anchors_seen = offsets_seen = 0
        for start in range(0, len(val[0]), EVAL_BATCH):
            X, labels = prepare(tuple(t[start:start + EVAL_BATCH] for t in val), False)
            anchors, cls_preds, bbox_preds = model(X)
            per_image, wrong, abs_err = ssd_loss(cls_preds, bbox_preds, labels, anchors)
            sums += torch.stack((per_image.sum().double(), wrong.double(), abs_err.double()))
            anchors_seen += cls_preds.shape[0] * cls_preds.shape[1]
            offsets_seen += bbox_preds.numel()
            found = self.detect(anchors, cls_preds, bbox_preds)
            ap.update([self.prediction(rows) for rows in found], [self.truth(rows) for rows in labels])
        loss, wrong, abs_err = sums.tolist()
        return {"loss": loss / max(len(val[0]), 1), "class_err": wrong / max(anchors_seen, 1),
                "bbox_mae": abs_err / max(offsets_seen, 1), "ap50": max(0.0, float(ap.compute()["map"]))}

    @staticmethod
    def detect(anchors: torch.Tensor, cls_preds: torch.Tensor, bbox_preds: torch.Tensor) -> torch.Tensor:
        """The book's `predict`: softmax over classes, then `multibox_detection` (B, A, 6)."""
        probs = F.softmax(cls_preds.float(), dim=2).permute(0, 2, 1)
        return multibox_detection(probs, bbox_preds.float(), anchors.float())

    @staticmethod
    def prediction(rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """Detections (class >= 0) of one image as torchmetrics wants them: the best MAX_DETECTIONS."""
        rows = rows[rows[:, 0] >= 0][:MAX_DETECTIONS].cpu()  # kept rows come first, by falling score
        return {"boxes": rows[:, 2:6], "scores": rows[:, 1], "labels": rows[:, 0].long()}

    @staticmethod
    def truth(rows: torch.Tensor) -> dict[str, torch.Tensor]:
        rows = rows[rows[:, 0] >= 0].float().cpu()
        return {"boxes": rows[:, 1:5], "labels": rows[:, 0].long()}

    @torch.no_grad()
    def samples(self, model: nn.Module, prepare) -> dict[str, Any]:
        """A few validation images in colour with their true box and the best detections (score >= 0.1)."""
        X, labels = prepare(tuple(t[:SAMPLE_IMAGES] for t in self.data.val), False)
        found = self.detect(*model(X))
        small = F.adaptive_avg_pool2d(X.float(), (min(SAMPLE_SIDE, X.shape[-2]), min(SAMPLE_SIDE, X.shape[-1])))
        items = []
        for image, rows, truth in zip(small.clamp(0, 1).tolist(), found, labels):
            rows = rows[(rows[:, 0] >= 0) & (rows[:, 1] >= SAMPLE_MIN_SCORE)][:SAMPLE_BOXES]
            items.append({
                "image": [[[round(v, 2) for v in row] for row in channel] for channel in image],
                "truth": [[self.label(int(r[0]))] + [round(v, 4) for v in r[1:].tolist()]
                          for r in truth if r[0] >= 0],
                "detections": [{"label": self.label(int(r[0])), "score": round(float(r[1]), 3),
                                "box": [round(v, 4) for v in r[2:6].tolist()]} for r in rows]})
        return {"kind": "detections", "items": items}

    def label(self, i: int) -> str:
        return inputs.label(self.data.classes, i)

    @classmethod
    def hint(cls, card):
        return "give an image file's path"

    @classmethod
    def answer(cls, model, card, cfg, text):
        """An image file in, its best detections (score >= SAMPLE_MIN_SCORE) out: label, score, box in [0, 1]."""
        path, x = inputs.image(text, card)
        (rows,) = cls.detect(*model(x))
        rows = rows[(rows[:, 0] >= 0) & (rows[:, 1] >= SAMPLE_MIN_SCORE)][:SAMPLE_BOXES]
        found = [{"label": inputs.label(card["classes"], int(r[0])), "score": round(float(r[1]), 3),
                  "box": [round(v, 4) for v in r[2:6].tolist()]} for r in rows]
        said = [f"{d['label']} {d['score']:.2f} at [{', '.join(f'{v:.3f}' for v in d['box'])}]" for d in found]
        return {"task": cls.name, "input": str(path), "detections": found,
                "said": said or [f"nothing scores {SAMPLE_MIN_SCORE} or more"]}
