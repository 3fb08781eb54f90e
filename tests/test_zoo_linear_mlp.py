"""Tests of the linear-network and MLP families of the zoo: sizes, knobs and real passes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from d2ltui.errors import UserError
from d2ltui.zoo import get_spec, resolve_knobs
from d2ltui.zoo.build import build_model


def build(name: str, shape: tuple[int, ...] | None = None, **overrides) -> nn.Module:
    spec = get_spec(name)
    return build_model(spec, resolve_knobs(spec, overrides), (shape,) if shape else None)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def types_in(model: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, kind)]


def test_linear_regression_is_one_dense_layer_to_one_output():
    model = build("linear-regression", (4, 5), in_features=5)
    assert n_params(model) == 5 + 1
    assert model(torch.randn(4, 5)).shape == (4, 1)


def test_logistic_regression_scores_each_class():
    model = build("logistic-regression", in_features=3, num_classes=4)
    assert n_params(model) == 3 * 4 + 4
    assert model(torch.randn(6, 3)).shape == (6, 4)


def test_softmax_regression_flattens_the_image():
    assert n_params(build("softmax-regression")) == 784 * 10 + 10
    model = build("softmax-regression", (2, 3, 8, 8), num_classes=5)
    assert n_params(model) == 3 * 64 * 5 + 5
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 5)


def test_mlp_book_sizes():
    # section 5.2: 784 -> 256 -> 10
    assert n_params(build("mlp")) == 784 * 256 + 256 + 256 * 10 + 10
    # section 5.6: two hidden layers of 256 with dropout 0.5 after each
    model = build("mlp", hidden=(256, 256), dropout=0.5)
    assert n_params(model) == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert [n for n, _ in model.named_children()] == [
        "flatten", "fc1", "act1", "drop1", "fc2", "act2", "drop2", "fc3"]
    assert [d.p for d in types_in(model, nn.Dropout)] == [0.5, 0.5]


@pytest.mark.parametrize("norm, kind", [("batch", nn.BatchNorm1d), ("layer", nn.LayerNorm)])
def test_mlp_norm_after_each_hidden_layer(norm, kind):
    model = build("mlp", hidden=(32, 16), norm=norm)
    assert [m.weight.shape[0] for m in types_in(model, kind)] == [32, 16]
    assert not types_in(build("mlp", hidden=(32, 16)), kind)


@pytest.mark.parametrize("act, kind", [("relu", nn.ReLU), ("sigmoid", nn.Sigmoid), ("tanh", nn.Tanh),
                                       ("gelu", nn.GELU)])
def test_mlp_activation(act, kind):
    assert len(types_in(build("mlp", hidden=(8, 8, 8), activation=act), kind)) == 3


def test_mlp_on_two_features_trains_a_step():
    torch.manual_seed(0)
    model = build("mlp", (16, 2), hidden=(16, 16), dropout=0.1, norm="batch", num_classes=2)
    x, y = torch.randn(16, 2), torch.randint(0, 2, (16,))
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in model.parameters())


def test_bad_hidden_sizes_are_a_user_error():
    with pytest.raises(UserError, match="knob hidden"):
        resolve_knobs(get_spec("mlp"), {"hidden": "(256, 0)"})
