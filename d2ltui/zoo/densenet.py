"""DenseNet of chapter 8 (section 8.7): dense blocks and transition blocks."""

from __future__ import annotations

import torch
from torch import nn

from d2ltui.zoo.layers import conv_norm, ordered, present
from d2ltui.zoo.resnet import stem


def conv_block(in_channels: int, num_channels: int, norm: str) -> nn.Sequential:
    """DenseNet's pre-activation unit: norm, ReLU, 3x3 conv to `num_channels`."""
    return nn.Sequential(ordered(present(("norm", conv_norm(norm, in_channels)), ("act", nn.ReLU()),
                                         ("conv", nn.Conv2d(in_channels, num_channels, 3, padding=1)))))


class DenseBlock(nn.Module):
    """`num_convs` conv blocks, each fed the concatenation of the input and every earlier
    output: the output has in_channels + num_convs * growth_rate channels, same H and W."""

    def __init__(self, num_convs: int, in_channels: int, growth_rate: int, norm: str = "batch") -> None:
        super().__init__()
        self.net = nn.Sequential(ordered(
            (f"conv{i + 1}", conv_block(in_channels + i * growth_rate, growth_rate, norm)) for i in range(num_convs)))
        self.out_channels = in_channels + num_convs * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.net:
            x = torch.cat((x, blk(x)), dim=1)
        return x


class TransitionBlock(nn.Sequential):
    """Norm, ReLU, 1x1 conv to `num_channels`, 2x2 average pooling: fewer channels, half H and W."""

    def __init__(self, in_channels: int, num_channels: int, norm: str = "batch") -> None:
        super().__init__(ordered(present(
            ("norm", conv_norm(norm, in_channels)), ("act", nn.ReLU()),
            ("conv", nn.Conv2d(in_channels, num_channels, 1)), ("pool", nn.AvgPool2d(2, 2)))))


class DenseNet(nn.Sequential):
    """DenseNet (Huang, Liu, van der Maaten & Weinberger, 2017, "Densely connected convolutional
    networks"), as d2l section 8.7 builds it: ResNet's stem b1, one dense block per entry of
    `arch` (convs per block) with a transition block halving the channels between them, then
    norm, ReLU, global average pooling and a dense layer.
    """

    def __init__(self, arch: tuple[int, ...] = (4, 4, 4, 4), growth_rate: int = 32, num_classes: int = 10,
                 in_channels: int = 1, norm: str = "batch", num_channels: int = 64) -> None:
        layers = [("b1", stem(in_channels, norm))]
        for i, num_convs in enumerate(arch):
            block = DenseBlock(num_convs, num_channels, growth_rate, norm)
            layers.append((f"dense{i + 1}", block))
            num_channels = block.out_channels
            if i != len(arch) - 1:
                layers.append((f"trans{i + 1}", TransitionBlock(num_channels, num_channels // 2, norm)))
                num_channels //= 2
        head = nn.Sequential(ordered(present(
            ("norm", conv_norm(norm, num_channels)), ("act", nn.ReLU()), ("gap", nn.AdaptiveAvgPool2d((1, 1))),
            ("flatten", nn.Flatten()), ("fc", nn.Linear(num_channels, num_classes)))))
        super().__init__(ordered(layers, [("head", head)]))


def densenet(num_classes: int = 10, in_channels: int = 1, growth_rate: int = 32, arch: tuple[int, ...] = (4, 4, 4, 4),
             norm: str = "batch") -> DenseNet:
    return DenseNet(arch, growth_rate, num_classes, in_channels, norm)
