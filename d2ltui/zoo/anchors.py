"""The book's anchor-box operations (section 14.4) on top of torchvision.ops.

Boxes are (xmin, ymin, xmax, ymax) in [0, 1] of the image. `multibox_prior` makes the anchors of a
feature map, `multibox_target` labels them from ground-truth boxes (class and offsets, with a mask),
`multibox_detection` turns predicted offsets back into boxes and keeps the best of overlapping ones.
IoU, format conversion and NMS are torchvision's; what is written here is only the book's own part.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torchvision.ops import batched_nms, box_convert, box_iou

OFFSET_XY, OFFSET_WH = 10.0, 5.0  # the book's offset scales (means 0, stds 0.1 and 0.2)


def anchors_per_position(sizes: Sequence[float], ratios: Sequence[float]) -> int:
    """n + m - 1: every size with the first ratio, then the first size with every other ratio."""
    return len(sizes) + len(ratios) - 1


def multibox_prior(data: torch.Tensor, sizes: Sequence[float], ratios: Sequence[float]) -> torch.Tensor:
    """Anchors centred on every position of `data`'s last two dimensions: (1, H * W * (n + m - 1), 4).

    Per position the order is (s1, r1), ..., (sn, r1), (s1, r2), ..., (s1, rm), as the book's;
    widths carry H / W so that a ratio-1 anchor is square in pixels on a rectangular map.
    """
    h, w = data.shape[-2:]
    device = data.device
    size = torch.tensor(list(sizes), dtype=torch.float32, device=device)
    ratio = torch.tensor(list(ratios), dtype=torch.float32, device=device)
    widths = torch.cat((size * ratio[0].sqrt(), size[0] * ratio[1:].sqrt())) * h / w
    heights = torch.cat((size / ratio[0].sqrt(), size[0] / ratio[1:].sqrt()))
    half = torch.stack((-widths, -heights, widths, heights), 1) / 2  # (k, 4)
    cy = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h
    cx = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w
    yy, xx = torch.meshgrid(cy, cx, indexing="ij")
    centres = torch.stack((xx, yy, xx, yy), -1).reshape(-1, 1, 4)  # (H*W, 1, 4)
    return (centres + half).reshape(1, -1, 4)


def offset_boxes(anchors: torch.Tensor, assigned: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """The book's offsets of `assigned` boxes from their anchors: 10 (dx/w, dy/h), 5 log(w'/w, h'/h)."""
    anc, box = box_convert(anchors, "xyxy", "cxcywh"), box_convert(assigned, "xyxy", "cxcywh")
    xy = OFFSET_XY * (box[..., :2] - anc[..., :2]) / anc[..., 2:]
    wh = OFFSET_WH * torch.log(eps + box[..., 2:] / anc[..., 2:])
    return torch.cat((xy, wh), -1)


def offset_inverse(anchors: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Boxes from anchors and predicted offsets (the inverse of `offset_boxes`)."""
    anc = box_convert(anchors, "xyxy", "cxcywh")
    xy = offsets[..., :2] * anc[..., 2:] / OFFSET_XY + anc[..., :2]
    wh = torch.exp(offsets[..., 2:] / OFFSET_WH) * anc[..., 2:]
    return box_convert(torch.cat((xy, wh), -1), "cxcywh", "xyxy")


def assign_anchor_to_bbox(ground_truth: torch.Tensor, valid: torch.Tensor, anchors: torch.Tensor,
                          iou_threshold: float = 0.5) -> torch.Tensor:
    """The ground-truth box index of every anchor (-1: background), (B, A), for a batch at once.

    `ground_truth` (B, G, 4), `valid` (B, G) marks real boxes (not padding). As the book: each
    anchor takes the box it overlaps most when that IoU reaches the threshold; then, G times, the
    largest remaining IoU pairs its anchor and box for sure and both leave the table.
    """
    b, g = valid.shape
    a = anchors.shape[0]
    iou = box_iou(anchors, ground_truth.reshape(-1, 4)).reshape(a, b, g).permute(1, 0, 2)  # (B, A, G)
    iou = iou.masked_fill(~valid[:, None, :], -1.0)
    best, index = iou.max(2)
    assigned = torch.where(best >= iou_threshold, index, torch.full_like(index, -1))
    table = iou.clone()
    rows = torch.arange(b, device=anchors.device)
    for _ in range(g):
        value, flat = table.reshape(b, -1).max(1)
        box, anchor = flat % g, flat // g
        assigned[rows, anchor] = torch.where(value >= 0, box, assigned[rows, anchor])
        table[rows, :, box] = -1.0
        table[rows, anchor, :] = -1.0
    return assigned


def multibox_target(anchors: torch.Tensor, labels: torch.Tensor,
                    iou_threshold: float = 0.5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(offsets (B, A*4), mask (B, A*4), classes (B, A)) of the anchors (1, A, 4) for `labels` (B, G, 5).

    A label row is (class, xmin, ymin, xmax, ymax); rows with a negative class are padding. An
    anchor's class is its box's class + 1 (0 is background); background anchors have offset 0, mask 0.
    """
    anchors = anchors.reshape(-1, 4)
    valid = labels[..., 0] >= 0
    assigned = assign_anchor_to_bbox(labels[..., 1:], valid, anchors, iou_threshold)  # (B, A)
    positive = assigned >= 0
    picked = torch.gather(labels, 1, assigned.clamp_min(0).unsqueeze(-1).expand(-1, -1, 5))  # (B, A, 5)
    classes = torch.where(positive, picked[..., 0].long() + 1, torch.zeros_like(assigned))
    mask = positive.unsqueeze(-1).expand(-1, -1, 4).to(anchors.dtype)
    offsets = offset_boxes(anchors.expand_as(picked[..., 1:]), picked[..., 1:]) * mask
    return offsets.reshape(len(labels), -1), mask.reshape(len(labels), -1), classes


def multibox_detection(cls_probs: torch.Tensor, offset_preds: torch.Tensor, anchors: torch.Tensor,
                       nms_threshold: float = 0.5, pos_threshold: float = 0.009999999) -> torch.Tensor:
    """(B, A, 6) rows (class, confidence, xmin, ymin, xmax, ymax), as the book's `multibox_detection`.

    `cls_probs` (B, C + 1, A) with background first, `offset_preds` (B, A * 4). Kept boxes come
    first by falling confidence; boxes suppressed by NMS, or below `pos_threshold`, get class -1
    (those below the threshold carry 1 - confidence, the background's). NMS is torchvision's
    `batched_nms`, per class (the book's is across classes: the same when classes do not overlap).
    """
    anchors = anchors.reshape(-1, 4)
    out = []
    for probs, offsets in zip(cls_probs, offset_preds):
        conf, class_id = probs[1:].max(0)
        boxes = offset_inverse(anchors, offsets.reshape(-1, 4))
        keep = batched_nms(boxes, conf, class_id, nms_threshold)
        kept = torch.zeros_like(conf, dtype=torch.bool)
        kept[keep] = True
        order = torch.cat((keep, torch.nonzero(~kept).reshape(-1)))
        class_id = torch.where(kept, class_id, torch.full_like(class_id, -1))[order]
        conf, boxes = conf[order], boxes[order]
        below = conf < pos_threshold
        class_id = torch.where(below, torch.full_like(class_id, -1), class_id)
        conf = torch.where(below, 1 - conf, conf)
        out.append(torch.cat((class_id.unsqueeze(1).to(conf.dtype), conf.unsqueeze(1), boxes), 1))
    return torch.stack(out)
