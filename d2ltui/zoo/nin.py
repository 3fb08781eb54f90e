"""Network in Network of chapter 8 (section 8.3): NiN blocks and global average pooling."""

from __future__ import annotations

from torch import nn

from d2ltui.zoo.layers import conv_unit, ordered


class NiNBlock(nn.Sequential):
    """A conv of the given size followed by two 1x1 convs, each with ReLU (a per-pixel MLP)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int,
                 norm: str = "none") -> None:
        super().__init__(ordered(
            conv_unit(1, in_channels, out_channels, kernel_size, stride, padding, norm=norm),
            conv_unit(2, out_channels, out_channels, 1, norm=norm),
            conv_unit(3, out_channels, out_channels, 1, norm=norm),
        ))


class NiN(nn.Sequential):
    """Network in Network (Lin, Chen & Yan, 2013, "Network in network"): NiN blocks of 96, 256,
    384 channels with 3x3 stride-2 max-pooling, dropout, a last NiN block with one channel per
    class, and global average pooling instead of dense layers (d2l section 8.3).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, dropout: float = 0.5,
                 norm: str = "none") -> None:
        super().__init__(ordered(
            [("block1", NiNBlock(in_channels, 96, 11, 4, 0, norm)),      # 96 x 54 x 54
             ("pool1", nn.MaxPool2d(3, 2)),                              # 96 x 26 x 26
             ("block2", NiNBlock(96, 256, 5, 1, 2, norm)),
             ("pool2", nn.MaxPool2d(3, 2)),                              # 256 x 12 x 12
             ("block3", NiNBlock(256, 384, 3, 1, 1, norm)),
             ("pool3", nn.MaxPool2d(3, 2))],                             # 384 x 5 x 5
            [("drop", nn.Dropout(dropout))] if dropout > 0 else [],
            [("block4", NiNBlock(384, num_classes, 3, 1, 1, norm)),      # classes x 5 x 5
             ("gap", nn.AdaptiveAvgPool2d((1, 1))),
             ("flatten", nn.Flatten())],
        ))


def nin(num_classes: int = 10, in_channels: int = 1, dropout: float = 0.5, norm: str = "none") -> NiN:
    return NiN(num_classes, in_channels, dropout, norm)
