"""Multilayer perceptrons of chapter 5: hidden dense layers with activation, norm and dropout."""

from __future__ import annotations

from torch import nn

from d2ltui.zoo.layers import dense_unit, ordered


class MLP(nn.Sequential):
    """Multilayer perceptron (d2l chapter 5): flatten, then per hidden size a dense layer,
    its norm, activation and dropout (section 5.6), then a dense layer to the classes.

    The first dense layer is lazy: its width follows the flattened input.
    """

    def __init__(self, num_classes: int = 10, hidden: tuple[int, ...] = (256,), dropout: float = 0.0,
                 norm: str = "none", activation: str = "relu") -> None:
        widths = (None, *hidden)
        units = [dense_unit(i + 1, widths[i], h, norm=norm, act=activation, p=dropout) for i, h in enumerate(hidden)]
        head = dense_unit(len(hidden) + 1, widths[-1], num_classes)
        super().__init__(ordered([("flatten", nn.Flatten())], *units, head))


def mlp(num_classes: int = 10, hidden: tuple[int, ...] = (256,), dropout: float = 0.0, norm: str = "none",
        activation: str = "relu") -> MLP:
    return MLP(num_classes, hidden, dropout, norm, activation)
