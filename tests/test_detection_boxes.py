"""Golden tests of the book's anchor operations and TinySSD: counts, hand-worked labels, offsets and NMS."""

from __future__ import annotations

import math

import pytest
import torch

from d2ltui.zoo.anchors import (anchors_per_position, multibox_detection, multibox_prior, multibox_target,
                                      offset_boxes, offset_inverse)
from d2ltui.errors import UserError
from d2ltui.zoo import get_spec, resolve_knobs
from d2ltui.zoo.build import build_model


def conv(cin: int, cout: int, k: int = 3) -> int:
    return cin * cout * k * k + cout


def book_tiny_ssd_params(num_classes: int) -> int:
    """Parameters of the book's TinySSD (section 14.7), counted from its code by hand: down_sample_blk is
    two (3x3 conv + BatchNorm) pairs; base_net 3->16->32->64; blocks 64->128, 128->128 twice, then a
    max-pool; each of the 5 scales has a 3x3 class predictor with 4 * (q + 1) outputs and a 3x3 box
    predictor with 4 * 4 outputs (num_anchors = 2 sizes + 3 ratios - 1 = 4)."""
    def down(cin, cout):
        return conv(cin, cout) + 2 * cout + conv(cout, cout) + 2 * cout
    body = down(3, 16) + down(16, 32) + down(32, 64) + down(64, 128) + down(128, 128) + down(128, 128)
    heads = sum(conv(c, 4 * (num_classes + 1)) + conv(c, 4 * 4) for c in (64, 128, 128, 128, 128))
    return body + heads


def test_book_tiny_ssd_counts():
    net = build_model(get_spec("tiny-ssd"), resolve_knobs(get_spec("tiny-ssd")))
    assert sum(p.numel() for p in net.parameters()) == book_tiny_ssd_params(1)
    # the book prints: anchors (1, 5444, 4), class preds (32, 5444, 2), bbox preds (32, 21776)
    anchors, cls_preds, bbox_preds = net(torch.zeros(2, 3, 256, 256))
    assert anchors.shape == (1, 5444, 4)
    assert cls_preds.shape == (2, 5444, 2)
    assert bbox_preds.shape == (2, 21776)
    assert 4 * (32 * 32 + 16 * 16 + 8 * 8 + 4 * 4 + 1) == 5444


def test_num_classes_knob_changes_the_class_predictors():
    spec = get_spec("tiny-ssd")
    net = build_model(spec, resolve_knobs(spec, {"num_classes": 3}), device="meta")
    assert sum(p.numel() for p in net.parameters()) == book_tiny_ssd_params(3)
    with pytest.raises(UserError, match="sizes"):
        resolve_knobs(spec, {"sizes": ((0.2,), (0.3, 0.4))})


def test_multibox_prior_hand_worked():
    """A 2x1 map (H=2, W=1), sizes (0.5, 0.25), ratios (1, 4): three anchors a position."""
    out = multibox_prior(torch.zeros(1, 1, 2, 1), sizes=[0.5, 0.25], ratios=[1, 4])
    assert anchors_per_position([0.5, 0.25], [1, 4]) == 3
    # centres (0.5, 0.25) then (0.5, 0.75); widths s * sqrt(r) * H / W, heights s / sqrt(r)
    # (0.5, 1): w 1.0, h 0.5;  (0.25, 1): w 0.5, h 0.25;  (0.5, 4): w 2.0, h 0.25
    expected = torch.tensor([
        [0.0, 0.0, 1.0, 0.5], [0.25, 0.125, 0.75, 0.375], [-0.5, 0.125, 1.5, 0.375],
        [0.0, 0.5, 1.0, 1.0], [0.25, 0.625, 0.75, 0.875], [-0.5, 0.625, 1.5, 0.875]])
    torch.testing.assert_close(out, expected.unsqueeze(0))


def test_multibox_prior_book_example():
    """The book's catdog image (561 x 728) with sizes 0.75, 0.5, 0.25 and ratios 1, 2, 0.5."""
    Y = multibox_prior(torch.zeros(1, 3, 561, 728), sizes=[0.75, 0.5, 0.25], ratios=[1, 2, 0.5])
    assert Y.shape == (1, 2042040, 4)
    # the book prints boxes[250, 250, 0, :] = [0.06, 0.07, 0.63, 0.82]
    torch.testing.assert_close(Y.reshape(561, 728, 5, 4)[250, 250, 0], torch.tensor([0.06, 0.07, 0.63, 0.82]),
                               atol=0.005, rtol=0)


# The book's labelling example (section 14.4.3): a dog and a cat, five anchors
GROUND_TRUTH = torch.tensor([[0, 0.1, 0.08, 0.52, 0.92], [1, 0.55, 0.2, 0.9, 0.88]])
ANCHORS = torch.tensor([[0, 0.1, 0.2, 0.3], [0.15, 0.2, 0.4, 0.4], [0.63, 0.05, 0.88, 0.98],
                        [0.66, 0.45, 0.8, 0.8], [0.57, 0.3, 0.92, 0.9]])


def hand_offset(anchor, box):
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = anchor, box
    aw, ah, bw, bh = ax1 - ax0, ay1 - ay0, bx1 - bx0, by1 - by0
    return [10 * ((bx0 + bx1) / 2 - (ax0 + ax1) / 2) / aw, 10 * ((by0 + by1) / 2 - (ay0 + ay1) / 2) / ah,
            5 * math.log(bw / aw), 5 * math.log(bh / ah)]


def test_multibox_target_book_example():
    offsets, mask, classes = multibox_target(ANCHORS.unsqueeze(0), GROUND_TRUTH.unsqueeze(0))
    # IoUs by hand: anchor 2 covers most of the cat (0.59), anchor 4 is the cat's best after that
    # (greedy pairs: cat-A2, then dog-A1); anchor 4 reaches 0.5 with the cat; A0 and A3 stay below.
    assert classes.tolist() == [[0, 1, 2, 0, 2]]
    assert mask.tolist() == [[0.0] * 4 + [1.0] * 8 + [0.0] * 4 + [1.0] * 4]
    dog, cat = GROUND_TRUTH[0, 1:].tolist(), GROUND_TRUTH[1, 1:].tolist()
    expected = [0.0] * 4 + hand_offset(ANCHORS[1].tolist(), dog) + hand_offset(ANCHORS[2].tolist(), cat) \
        + [0.0] * 4 + hand_offset(ANCHORS[4].tolist(), cat)
    torch.testing.assert_close(offsets, torch.tensor([expected]), atol=1e-4, rtol=1e-4)
    # the book prints 1.40, 10.0, 2.59, 7.18 for anchor 1
    torch.testing.assert_close(offsets[0, 4:8], torch.tensor([1.40, 10.0, 2.59, 7.18]), atol=0.01, rtol=0)


def test_padding_rows_are_ignored_and_batches_match_single_images():
    padded = torch.cat([GROUND_TRUTH, torch.full((2, 5), -1.0)]).unsqueeze(0)
    other = torch.tensor([[[0, 0.0, 0.0, 0.3, 0.3], [-1, -1, -1, -1, -1], [-1, -1, -1, -1, -1],
                           [-1, -1, -1, -1, -1]]])
    batch = multibox_target(ANCHORS.unsqueeze(0), torch.cat([padded, other]))
    for i, single in enumerate((GROUND_TRUTH.unsqueeze(0), other[:, :1])):
        alone = multibox_target(ANCHORS.unsqueeze(0), single)
        for got, want in zip(batch, alone):
            torch.testing.assert_close(got[i:i + 1], want)
    assert batch[2][1].tolist() == [1, 0, 0, 0, 0]  # the one box takes its best anchor even below 0.5


def test_offsets_invert():
    boxes = torch.tensor([[0.1, 0.2, 0.5, 0.9], [0.3, 0.3, 0.4, 0.35]])
    torch.testing.assert_close(offset_inverse(ANCHORS[:2], offset_boxes(ANCHORS[:2], boxes)), boxes,
                               atol=1e-5, rtol=1e-5)


def test_multibox_detection_book_example():
    """Section 14.4.4: three dog boxes overlapping and one cat box; NMS at 0.5 keeps dog 0.9 and cat 0.9."""
    anchors = torch.tensor([[0.1, 0.08, 0.52, 0.92], [0.08, 0.2, 0.56, 0.95],
                            [0.15, 0.3, 0.62, 0.91], [0.55, 0.2, 0.9, 0.88]])
    cls_probs = torch.tensor([[0.0] * 4, [0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.9]])
    out = multibox_detection(cls_probs.unsqueeze(0), torch.zeros(1, 16), anchors.unsqueeze(0), nms_threshold=0.5)
    expected = torch.tensor([[0.0, 0.9, 0.1, 0.08, 0.52, 0.92], [1.0, 0.9, 0.55, 0.2, 0.9, 0.88],
                             [-1.0, 0.8, 0.08, 0.2, 0.56, 0.95], [-1.0, 0.7, 0.15, 0.3, 0.62, 0.91]])
    torch.testing.assert_close(out[0], expected)
    # IoUs by hand: dog 0.9 with dog 0.8 is 0.737, with dog 0.7 is 0.545. At 0.7 the 0.8 box still goes
    # and the 0.7 box stays: kept rows are dog 0.9, cat 0.9, dog 0.7 (by falling score), then the 0.8 box
    loose = multibox_detection(cls_probs.unsqueeze(0), torch.zeros(1, 16), anchors.unsqueeze(0), nms_threshold=0.7)
    torch.testing.assert_close(loose[0, :, :2], torch.tensor([[0, 0.9], [1, 0.9], [0, 0.7], [-1, 0.8]]))


def test_low_confidence_is_background():
    anchors = torch.tensor([[0.0, 0.0, 0.5, 0.5]])
    out = multibox_detection(torch.tensor([[[0.995], [0.005]]]), torch.zeros(1, 4), anchors.unsqueeze(0))
    assert out[0, 0, 0] == -1 and abs(float(out[0, 0, 1]) - 0.995) < 1e-6
