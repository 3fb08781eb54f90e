"""The book's TinySSD (section 14.7): a base network, multiscale blocks, class and box predictors per scale."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from d2ltui.zoo.ssd_anchors import SSD_RATIOS as RATIOS, SSD_SIZES as SIZES
from d2ltui.zoo.anchors import anchors_per_position, multibox_prior

BASE_FILTERS = (16, 32, 64)
SCALE_CHANNELS = (64, 128, 128, 128, 128)  # channels of each scale's feature map


def down_sample_blk(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 conv + batch norm + ReLU, then a 2x2 max-pool: halves height and width."""
    layers: list[nn.Module] = []
    for _ in range(2):
        layers += [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels), nn.ReLU()]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


def base_net(in_channels: int = 3) -> nn.Sequential:
    """Three down-sampling blocks, 3 -> 16 -> 32 -> 64 channels: 256x256 becomes 32x32."""
    channels = (in_channels, *BASE_FILTERS)
    return nn.Sequential(*(down_sample_blk(channels[i], channels[i + 1]) for i in range(len(BASE_FILTERS))))


def get_blk(i: int, in_channels: int = 3) -> nn.Module:
    if i == 0:
        return base_net(in_channels)
    if i == 1:
        return down_sample_blk(64, 128)
    if i == 4:
        return nn.AdaptiveMaxPool2d((1, 1))
    return down_sample_blk(128, 128)


def flatten_pred(pred: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, H * W * C), channels last so each position's predictions stay together."""
    return torch.flatten(pred.permute(0, 2, 3, 1), start_dim=1)


class TinySSD(nn.Module):
    """Five scales (32x32, 16x16, 8x8, 4x4, 1x1 at 256x256), each with its anchors and two 3x3 conv
    predictors. forward(X) -> (anchors (1, A, 4), class logits (B, A, C + 1), offsets (B, A * 4))."""

    def __init__(self, num_classes: int = 1, in_channels: int = 3, sizes: Sequence[Sequence[float]] = SIZES,
                 ratios: Sequence[float] = RATIOS) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.sizes, self.ratios = tuple(tuple(s) for s in sizes), tuple(ratios)
        if len(self.sizes) != len(SCALE_CHANNELS):
            raise ValueError(f"sizes: TinySSD has {len(SCALE_CHANNELS)} scales, got {len(self.sizes)} size groups")
        counts = {anchors_per_position(s, self.ratios) for s in self.sizes}
        if len(counts) != 1:
            raise ValueError("sizes: every scale needs the same number of sizes")
        self.num_anchors = counts.pop()
        for i, channels in enumerate(SCALE_CHANNELS):
            setattr(self, f"blk_{i}", get_blk(i, in_channels))
            setattr(self, f"cls_{i}", nn.Conv2d(channels, self.num_anchors * (num_classes + 1), 3, padding=1))
            setattr(self, f"bbox_{i}", nn.Conv2d(channels, self.num_anchors * 4, 3, padding=1))

    def scales(self) -> list[tuple[str, nn.Module, int]]:
        """(block name, block, anchors per position) of each scale, for the inspector's feature-map rows."""
        return [(f"blk_{i}", getattr(self, f"blk_{i}"), self.num_anchors) for i in range(len(SCALE_CHANNELS))]

    def head_layers(self) -> list[str]:
        """The output layers fine-tuning replaces or trains alone: each scale's class and box predictors."""
        return [f"{kind}_{i}" for i in range(len(SCALE_CHANNELS)) for kind in ("cls", "bbox")]

    def forward(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        anchors, cls_preds, bbox_preds = [], [], []
        for i in range(len(SCALE_CHANNELS)):
            X = getattr(self, f"blk_{i}")(X)
            anchors.append(multibox_prior(X, self.sizes[i], self.ratios))
            cls_preds.append(flatten_pred(getattr(self, f"cls_{i}")(X)))
            bbox_preds.append(flatten_pred(getattr(self, f"bbox_{i}")(X)))
        cls = torch.cat(cls_preds, 1)
        return torch.cat(anchors, 1), cls.reshape(cls.shape[0], -1, self.num_classes + 1), torch.cat(bbox_preds, 1)


def tiny_ssd(num_classes: int = 1, in_channels: int = 3, sizes: Sequence[Sequence[float]] = SIZES,
             ratios: Sequence[float] = RATIOS) -> TinySSD:
    """TinySSD with the book's anchors by default (Liu et al., 2016, shrunk for the banana set)."""
    return TinySSD(num_classes, in_channels, sizes, ratios)
