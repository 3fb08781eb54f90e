"""ResNet and ResNeXt of chapter 8 (section 8.6): residual blocks, stages, the network."""

from __future__ import annotations

from functools import partial
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from d2ltui.errors import UserError
from d2ltui.zoo.layers import conv_norm, conv_unit, maybe, ordered, present


class Residual(nn.Module):
    """The residual block of ResNet: two 3x3 convs, each with a norm, ReLU after the first and
    after the sum with the input. With `use_1x1conv` a 1x1 conv (of the same stride) maps the
    input to the output's channels and size, so the block can change both.
    """

    def __init__(self, in_channels: int, num_channels: int, use_1x1conv: bool = False, strides: int = 1,
                 norm: str = "batch") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, num_channels, 3, strides, 1)
        self.norm1 = conv_norm(norm, num_channels)
        self.conv2 = nn.Conv2d(num_channels, num_channels, 3, 1, 1)
        self.norm2 = conv_norm(norm, num_channels)
        self.shortcut = nn.Conv2d(in_channels, num_channels, 1, strides) if use_1x1conv else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(maybe(self.norm1, self.conv1(x)))
        y = maybe(self.norm2, self.conv2(y))
        return F.relu(y + maybe(self.shortcut, x))


class ResNeXtBlock(nn.Module):
    """The ResNeXt block: a 1x1 conv to `round(num_channels * bot_mul)` bottleneck channels, a
    grouped 3x3 conv (`groups` groups, carrying the stride), a 1x1 conv back to `num_channels`,
    each with a norm; with `use_1x1conv` a 1x1 conv and norm on the shortcut.

    `groups` counts the groups (the paper's cardinality); d2l's code passes the group width.
    """

    def __init__(self, in_channels: int, num_channels: int, groups: int, bot_mul: float,
                 use_1x1conv: bool = False, strides: int = 1, norm: str = "batch") -> None:
        super().__init__()
        bot_channels = int(round(num_channels * bot_mul))
        self.conv1 = nn.Conv2d(in_channels, bot_channels, 1)
        self.norm1 = conv_norm(norm, bot_channels)
        self.conv2 = nn.Conv2d(bot_channels, bot_channels, 3, strides, 1, groups=groups)
        self.norm2 = conv_norm(norm, bot_channels)
        self.conv3 = nn.Conv2d(bot_channels, num_channels, 1)
        self.norm3 = conv_norm(norm, num_channels)
        self.shortcut = nn.Sequential(ordered(present(
            ("conv", nn.Conv2d(in_channels, num_channels, 1, strides)), ("norm", conv_norm(norm, num_channels)),
        ))) if use_1x1conv else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(maybe(self.norm1, self.conv1(x)))
        y = F.relu(maybe(self.norm2, self.conv2(y)))
        y = maybe(self.norm3, self.conv3(y))
        return F.relu(y + maybe(self.shortcut, x))


BlockFn = Callable[..., nn.Module]  # (in_channels, num_channels, use_1x1conv=, strides=, norm=)


STEMS = ("7x7", "3x3")


def stem(in_channels: int, norm: str, kind: str = "7x7") -> nn.Sequential:
    """ResNet's b1 (also DenseNet's): 7x7 stride-2 conv to 64 channels, norm, ReLU, 3x3 stride-2 max-pool;
    "3x3" is the book's small-image variant (section 13.6 and 14.1): a 3x3 stride-1 conv, norm, ReLU, no pool."""
    if kind == "3x3":
        return nn.Sequential(ordered(conv_unit(1, in_channels, 64, 3, 1, 1, norm=norm)))
    return nn.Sequential(ordered(conv_unit(1, in_channels, 64, 7, 2, 3, norm=norm),
                                 [("pool", nn.MaxPool2d(3, 2, 1))]))


def stage(block: BlockFn, num_residuals: int, in_channels: int, num_channels: int, first_stage: bool,
          norm: str) -> nn.Sequential:
    """`num_residuals` blocks; the first halves H and W (except in the first stage) with a 1x1 shortcut."""
    blocks = []
    for i in range(num_residuals):
        strides = 2 if i == 0 and not first_stage else 1
        c_in = in_channels if i == 0 else num_channels
        blocks.append((f"block{i + 1}", block(c_in, num_channels, use_1x1conv=strides != 1 or c_in != num_channels,
                                              strides=strides, norm=norm)))
    return nn.Sequential(ordered(blocks))


class ResNet(nn.Sequential):
    """ResNet (He, Zhang, Ren & Sun, 2016, "Deep residual learning for image recognition"), as d2l
    section 8.6 builds it: the stem b1, one stage of residual blocks per (num_residuals,
    channels) pair of `arch` (b2, b3, ...), then global average pooling and a dense layer.
    `block` makes each block (Residual, or ResNeXtBlock with its groups and bottleneck).
    """

    def __init__(self, arch: tuple[tuple[int, int], ...], num_classes: int = 10, in_channels: int = 1,
                 norm: str = "batch", block: BlockFn = Residual, stem_kind: str = "7x7") -> None:
        stages, channels = [("b1", stem(in_channels, norm, stem_kind))], 64
        for i, (num_residuals, num_channels) in enumerate(arch):
            stages.append((f"b{i + 2}", stage(block, num_residuals, channels, num_channels, i == 0, norm)))
            channels = num_channels
        head = nn.Sequential(ordered([("gap", nn.AdaptiveAvgPool2d((1, 1))), ("flatten", nn.Flatten()),
                                      ("fc", nn.Linear(channels, num_classes))]))
        super().__init__(ordered(stages, [("head", head)]))


def resnet(num_classes: int = 10, in_channels: int = 1, arch: tuple[tuple[int, int], ...] = ((2, 64), (2, 128),
           (2, 256), (2, 512)), norm: str = "batch", stem: str = "7x7") -> ResNet:
    """ResNet-18 with the default arch; stem="3x3" is the book's ResNet-18 for 32x32 images."""
    return ResNet(arch, num_classes, in_channels, norm, stem_kind=stem)


def torchvision_resnet18(num_classes: int = 1000, in_channels: int = 3) -> nn.Module:
    """torchvision's ResNet-18 (`torchvision.models.resnet18`), the network whose ImageNet weights the book
    fine-tunes (section 14.2); another input channel count gets a fresh first conv."""
    import torchvision

    net = torchvision.models.resnet18(num_classes=num_classes)
    if in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return net


def resnext(num_classes: int = 10, in_channels: int = 1, arch: tuple[tuple[int, int], ...] = ((2, 64), (2, 128),
            (2, 256), (2, 512)), groups: int = 16, bot_mul: float = 1.0, norm: str = "batch") -> ResNet:
    """ResNeXt (Xie, Girshick, Dollar, Tu & He, 2017, "Aggregated residual transformations for deep
    neural networks"): the ResNet layout with ResNeXt blocks."""
    for i, (_, channels) in enumerate(arch):
        bot = int(round(channels * bot_mul))
        if bot < 1 or bot % groups:
            raise UserError(f"knob groups: {groups} groups do not divide the bottleneck width {bot} "
                            f"(channels {channels} x bot_mul {bot_mul}) of stage {i + 1}")
    return ResNet(arch, num_classes, in_channels, norm, block=partial(ResNeXtBlock, groups=groups, bot_mul=bot_mul))
