"""Initialisation schemes of the builders' guide: each scheme's property, and every model honours `init`."""

import pytest
import torch
from torch import nn

from d2ltui.zoo.build import build_model
from d2ltui.zoo.init import book_custom_, init_weights
from d2ltui.zoo.registry import INIT_SCHEMES, all_specs, get_spec, resolve_knobs


def book_net():
    # init-param.md: net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(1)); X = torch.rand(2, 4)
    net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(1))
    net(torch.rand(size=(2, 4)))
    return net


def test_custom_scheme_is_the_books_my_init():
    torch.manual_seed(0)
    w = book_custom_(torch.empty(400, 300))
    nonzero = w[w != 0]
    # my_init: uniform(-10, 10), then keep only |w| >= 5: every weight is 0 or in [5, 10] in magnitude
    assert bool(((nonzero.abs() >= 5) & (nonzero.abs() <= 10)).all())
    # half of U(-10, 10) has |w| < 5: about half the weights are zeroed, the rest spread evenly on both sides
    assert 0.47 < (w == 0).float().mean().item() < 0.53
    assert abs((nonzero > 0).float().mean().item() - 0.5) < 0.02
    assert abs(nonzero.abs().mean().item() - 7.5) < 0.1  # uniform on [5, 10] in magnitude


def test_book_schemes_on_the_books_net():
    torch.manual_seed(1)
    net = book_net()
    init_weights(net, "normal")  # init_normal: N(0, 0.01) weights, zero biases
    assert net[0].weight.std().item() == pytest.approx(0.01, rel=0.5)
    assert bool((net[0].bias == 0).all())
    init_weights(net, "constant")  # init_constant: weights 1, biases 0
    assert bool((net[0].weight == 1).all()) and bool((net[2].weight == 1).all()) and bool((net[2].bias == 0).all())
    init_weights(net, "xavier")  # Xavier-uniform bound sqrt(6 / (fan_in + fan_out)) = sqrt(6 / 12) for 4 -> 8
    assert net[0].weight.abs().max().item() <= (6 / 12) ** 0.5
    bias = net[0].bias.clone()
    init_weights(net, "custom")  # my_init leaves biases as they were
    assert torch.equal(net[0].bias, bias)
    assert bool(((net[0].weight == 0) | (net[0].weight.abs() >= 5)).all())


def test_shared_parameter_is_initialised_once():
    shared = nn.Linear(8, 8)
    net = nn.Sequential(nn.Linear(4, 8), shared, shared)
    torch.manual_seed(0)
    init_weights(net, "custom")
    torch.manual_seed(0)  # the same draws in the same order: one for the first layer, one for the shared one
    book_custom_(torch.empty(8, 4))
    expected = book_custom_(torch.empty(8, 8))  # a second draw for the shared layer would differ
    assert torch.equal(net[1].weight, expected)


@pytest.mark.parametrize("scheme", INIT_SCHEMES)
def test_every_model_offers_every_scheme(scheme):
    for spec in all_specs():
        if spec.task in ("value-iteration", "q-learning"):  # a table of values, no weights to initialise
            assert "init" not in spec.knobs
            continue
        assert spec.knobs["init"].choices == INIT_SCHEMES, spec.name
        assert resolve_knobs(spec, {"init": scheme})["init"] == scheme


@pytest.mark.parametrize("name", ["mlp", "lenet", "gru-lm", "seq2seq", "transformer"])
def test_every_family_takes_the_scheme(name):
    spec = get_spec(name)
    torch.manual_seed(0)
    model = build_model(spec, resolve_knobs(spec, {"init": "constant"}))
    matrices = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.RNNBase))]
    assert matrices
    for m in matrices:
        for pname, p in m.named_parameters(recurse=False):
            if pname.startswith("weight"):
                assert bool((p == 1).all()), f"{name}: {pname} of {type(m).__name__}"
            elif pname.startswith("bias"):
                assert bool((p == 0).all()), f"{name}: {pname} of {type(m).__name__}"
