"""LeNet of chapter 7 (and its batch-normalised form of section 8.5)."""

from __future__ import annotations

from torch import nn

from d2ltui.zoo.layers import conv_unit, dense_unit, ordered


class LeNet(nn.Sequential):
    """LeNet-5 (LeCun et al., 1998, "Gradient-based learning applied to document recognition").

    As in d2l section 7.6: a 5x5 conv with padding 2 (6 channels) and a 5x5 conv (16 channels),
    each followed by its activation and 2x2 average pooling, then dense layers of 120, 84 and
    the classes. With norm="batch" a norm follows every conv and hidden dense layer (section
    8.5); dropout, when above 0, follows each hidden dense layer.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, activation: str = "sigmoid",
                 norm: str = "none", dropout: float = 0.0) -> None:
        super().__init__(ordered(
            conv_unit(1, in_channels, 6, 5, padding=2, norm=norm, act=activation),  # 6 x 28 x 28
            [("pool1", nn.AvgPool2d(2, 2))],                                      # 6 x 14 x 14
            conv_unit(2, 6, 16, 5, norm=norm, act=activation),                     # 16 x 10 x 10
            [("pool2", nn.AvgPool2d(2, 2)), ("flatten", nn.Flatten())],           # 16 x 5 x 5 -> 400
            dense_unit(3, None, 120, norm=norm, act=activation, p=dropout),
            dense_unit(4, 120, 84, norm=norm, act=activation, p=dropout),
            dense_unit(5, 84, num_classes),
        ))


def lenet(num_classes: int = 10, in_channels: int = 1, activation: str = "sigmoid", norm: str = "none",
          dropout: float = 0.0) -> LeNet:
    return LeNet(num_classes, in_channels, activation, norm, dropout)
