"""Linear networks of chapters 3-4: linear, logistic and softmax regression."""

from __future__ import annotations

from torch import nn

from d2ltui.zoo.layers import dense_unit, ordered


class LinearRegression(nn.Sequential):
    """Linear regression, y = Xw + b: one dense layer to a single output (d2l section 3.1)."""

    def __init__(self, in_features: int = 2) -> None:
        super().__init__(ordered(dense_unit(1, in_features, 1)))


class LogisticRegression(nn.Sequential):
    """Logistic regression: one dense layer to the class scores, trained with cross-entropy."""

    def __init__(self, in_features: int = 2, num_classes: int = 2) -> None:
        super().__init__(ordered(dense_unit(1, in_features, num_classes)))


class SoftmaxRegression(nn.Sequential):
    """Softmax regression: flatten the image, one dense layer to the classes (d2l section 4.1)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__(ordered([("flatten", nn.Flatten())], dense_unit(1, None, num_classes)))


def linear_regression(in_features: int = 2) -> LinearRegression:
    return LinearRegression(in_features)


def logistic_regression(in_features: int = 2, num_classes: int = 2) -> LogisticRegression:
    return LogisticRegression(in_features, num_classes)


def softmax_regression(num_classes: int = 10) -> SoftmaxRegression:
    return SoftmaxRegression(num_classes)
