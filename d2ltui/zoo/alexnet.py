"""AlexNet of chapter 8 (section 8.1)."""

from __future__ import annotations

from torch import nn

from d2ltui.zoo.layers import conv_unit, dense_unit, ordered


class AlexNet(nn.Sequential):
    """AlexNet (Krizhevsky, Sutskever & Hinton, 2012, "ImageNet classification with deep
    convolutional neural networks"), as d2l section 8.1 builds it for one-channel 224x224 input.

    An 11x11 stride-4 conv (96), a 5x5 conv (256), three 3x3 convs (384, 384, 256), with 3x3
    stride-2 max-pooling after the first, second and fifth; then two 4096-wide dense layers
    with dropout and a dense layer to the classes.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, dropout: float = 0.5, norm: str = "none",
                 activation: str = "relu") -> None:
        kw = dict(norm=norm, act=activation)
        super().__init__(ordered(
            conv_unit(1, in_channels, 96, 11, stride=4, padding=1, **kw),  # 96 x 54 x 54
            [("pool1", nn.MaxPool2d(3, 2))],                               # 96 x 26 x 26
            conv_unit(2, 96, 256, 5, padding=2, **kw),                     # 256 x 26 x 26
            [("pool2", nn.MaxPool2d(3, 2))],                               # 256 x 12 x 12
            conv_unit(3, 256, 384, 3, padding=1, **kw),
            conv_unit(4, 384, 384, 3, padding=1, **kw),
            conv_unit(5, 384, 256, 3, padding=1, **kw),                    # 256 x 12 x 12
            [("pool5", nn.MaxPool2d(3, 2)), ("flatten", nn.Flatten())],   # 256 x 5 x 5 -> 6400
            dense_unit(6, None, 4096, p=dropout, **kw),
            dense_unit(7, 4096, 4096, p=dropout, **kw),
            dense_unit(8, 4096, num_classes),
        ))


def alexnet(num_classes: int = 10, in_channels: int = 1, dropout: float = 0.5, norm: str = "none",
            activation: str = "relu") -> AlexNet:
    return AlexNet(num_classes, in_channels, dropout, norm, activation)
