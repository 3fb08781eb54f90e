"""VGG of chapter 8 (section 8.2): VGG blocks, then the VGG network over an arch tuple."""

from __future__ import annotations

from torch import nn

from d2ltui.zoo.layers import conv_unit, dense_unit, ordered


class VGGBlock(nn.Sequential):
    """`num_convs` 3x3 convs (padding 1) with ReLU, then 2x2 max-pooling that halves H and W."""

    def __init__(self, num_convs: int, in_channels: int, out_channels: int, norm: str = "none") -> None:
        convs = [conv_unit(i + 1, in_channels if i == 0 else out_channels, out_channels, 3, padding=1, norm=norm)
                 for i in range(num_convs)]
        super().__init__(ordered(*convs, [("pool", nn.MaxPool2d(2, 2))]))


class VGG(nn.Sequential):
    """VGG (Simonyan & Zisserman, 2014, "Very deep convolutional networks for large-scale image
    recognition"): one VGG block per (num_convs, channels) pair of `arch`, then two 4096-wide
    dense layers with dropout and a dense layer to the classes (d2l section 8.2).
    """

    def __init__(self, arch: tuple[tuple[int, int], ...], num_classes: int = 10, in_channels: int = 1,
                 dropout: float = 0.5, norm: str = "none") -> None:
        blocks, channels = [], in_channels
        for i, (num_convs, out_channels) in enumerate(arch):
            blocks.append((f"block{i + 1}", VGGBlock(num_convs, channels, out_channels, norm)))
            channels = out_channels
        super().__init__(ordered(
            blocks, [("flatten", nn.Flatten())],
            dense_unit(1, None, 4096, norm=norm, act="relu", p=dropout),
            dense_unit(2, 4096, 4096, norm=norm, act="relu", p=dropout),
            dense_unit(3, 4096, num_classes),
        ))


def vgg(num_classes: int = 10, in_channels: int = 1, arch: tuple[tuple[int, int], ...] = ((1, 64), (1, 128),
        (2, 256), (2, 512), (2, 512)), dropout: float = 0.5, norm: str = "none") -> VGG:
    return VGG(arch, num_classes, in_channels, dropout, norm)
