"""GoogLeNet of chapter 8 (section 8.4): Inception blocks in five stages."""

from __future__ import annotations

import torch
from torch import nn

from d2ltui.zoo.layers import conv_unit, ordered


class Inception(nn.Module):
    """Four parallel paths concatenated on channels: a 1x1 conv (c1); a 1x1 then 3x3 conv (c2);
    a 1x1 then 5x5 conv (c3); 3x3 max-pooling then a 1x1 conv (c4). H and W are kept and the
    output has c1 + c2[1] + c3[1] + c4 channels.
    """

    def __init__(self, in_channels: int, c1: int, c2: tuple[int, int], c3: tuple[int, int], c4: int,
                 norm: str = "none") -> None:
        super().__init__()
        self.branch1 = nn.Sequential(ordered(conv_unit(1, in_channels, c1, 1, norm=norm)))
        self.branch2 = nn.Sequential(ordered(conv_unit(1, in_channels, c2[0], 1, norm=norm),
                                             conv_unit(2, c2[0], c2[1], 3, padding=1, norm=norm)))
        self.branch3 = nn.Sequential(ordered(conv_unit(1, in_channels, c3[0], 1, norm=norm),
                                             conv_unit(2, c3[0], c3[1], 5, padding=2, norm=norm)))
        self.branch4 = nn.Sequential(ordered([("pool", nn.MaxPool2d(3, 1, 1))],
                                             conv_unit(1, in_channels, c4, 1, norm=norm)))
        self.out_channels = c1 + c2[1] + c3[1] + c4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


# (c1, (c2 reduce, c2), (c3 reduce, c3), c4) of each Inception block, stage by stage
INCEPTIONS_B3 = ((64, (96, 128), (16, 32), 32), (128, (128, 192), (32, 96), 64))
INCEPTIONS_B4 = ((192, (96, 208), (16, 48), 64), (160, (112, 224), (24, 64), 64), (128, (128, 256), (24, 64), 64),
                 (112, (144, 288), (32, 64), 64), (256, (160, 320), (32, 128), 128))
INCEPTIONS_B5 = ((256, (160, 320), (32, 128), 128), (384, (192, 384), (48, 128), 128))


def _inceptions(in_channels: int, specs: tuple, norm: str) -> tuple[list[tuple[str, nn.Module]], int]:
    blocks = []
    for i, spec in enumerate(specs):
        block = Inception(in_channels, *spec, norm=norm)
        blocks.append((f"inception{i + 1}", block))
        in_channels = block.out_channels
    return blocks, in_channels


class GoogLeNet(nn.Sequential):
    """GoogLeNet (Szegedy et al., 2015, "Going deeper with convolutions"), as d2l section 8.4
    builds it for 96x96 input: stages b1 (7x7 conv, pool), b2 (1x1 and 3x3 convs, pool),
    b3 (2 Inception blocks, pool), b4 (5 Inception blocks, pool), b5 (2 Inception blocks,
    global average pooling) and a dense layer to the classes.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, norm: str = "none") -> None:
        b1 = nn.Sequential(ordered(conv_unit(1, in_channels, 64, 7, 2, 3, norm=norm),
                                   [("pool", nn.MaxPool2d(3, 2, 1))]))                  # 64 x 24 x 24
        b2 = nn.Sequential(ordered(conv_unit(1, 64, 64, 1, norm=norm),
                                   conv_unit(2, 64, 192, 3, padding=1, norm=norm),
                                   [("pool", nn.MaxPool2d(3, 2, 1))]))                  # 192 x 12 x 12
        blocks, channels = _inceptions(192, INCEPTIONS_B3, norm)
        b3 = nn.Sequential(ordered(blocks, [("pool", nn.MaxPool2d(3, 2, 1))]))          # 480 x 6 x 6
        blocks, channels = _inceptions(channels, INCEPTIONS_B4, norm)
        b4 = nn.Sequential(ordered(blocks, [("pool", nn.MaxPool2d(3, 2, 1))]))          # 832 x 3 x 3
        blocks, channels = _inceptions(channels, INCEPTIONS_B5, norm)
        b5 = nn.Sequential(ordered(blocks, [("gap", nn.AdaptiveAvgPool2d((1, 1))), ("flatten", nn.Flatten())]))
        super().__init__(ordered([("b1", b1), ("b2", b2), ("b3", b3), ("b4", b4), ("b5", b5),  # 1024
                                  ("fc", nn.Linear(channels, num_classes))]))


def googlenet(num_classes: int = 10, in_channels: int = 1, norm: str = "none") -> GoogLeNet:
    return GoogLeNet(num_classes, in_channels, norm)
