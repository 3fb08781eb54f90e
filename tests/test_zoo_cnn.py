"""Golden tests of the CNN families of the zoo against the book's numbers, and of their knobs."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from d2ltui.errors import UserError
from d2ltui.zoo import get_spec, resolve_knobs
from d2ltui.zoo.build import build_model
from d2ltui.zoo.densenet import DenseBlock, TransitionBlock
from d2ltui.zoo.googlenet import Inception
from d2ltui.zoo.nin import NiNBlock
from d2ltui.zoo.resnet import Residual, ResNeXtBlock
from d2ltui.zoo.vgg import VGGBlock

CNNS = ("lenet", "lenet-bn", "alexnet", "vgg11", "vgg", "nin", "googlenet", "resnet18", "resnext", "densenet")
ELEMENTWISE = (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.Dropout, nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm,
               nn.LayerNorm)

# name, input side, top-level output shapes and parameter total, as in reference/book.md
BOOK = {
    "lenet": (28, "6×28×28 → 6×14×14 → 16×10×10 → 16×5×5 → 400 → 120 → 84 → 10", 61_706),
    "alexnet": (224, "96×54×54 → 96×26×26 → 256×26×26 → 256×12×12 → 384×12×12 → 384×12×12 → 256×12×12 → "
                     "256×5×5 → 6400 → 4096 → 4096 → 10", 46_764_746),
    "vgg11": (224, "64×112² → 128×56² → 256×28² → 512×14² → 512×7² → 25088 → 4096 → 4096 → 10", 128_806_154),
    "vgg": (224, "16×112² → 32×56² → 64×28² → 128×14² → 128×7² → 6272 → 4096 → 4096 → 10", 43_093_322),
    "nin": (224, "96×54² → 96×26² → 256×26² → 256×12² → 384×12² → 384×5² → 10×5² → 10×1² → 10", 1_992_166),
    "googlenet": (96, "64×24² → 192×12² → 480×6² → 832×3² → 1024 → 10", 5_977_530),
    "resnet18": (96, "64×24² → 64×24² → 128×12² → 256×6² → 512×3² → 10", 11_178_378),
    "densenet": (96, "64×24² → 192×24² → 96×12² → 224×12² → 112×6² → 240×6² → 120×3² → 248×3² → 10", 758_226),
}


def parse_shapes(text: str) -> list[tuple[int, ...]]:
    """'6×28×28 → 96×26² → 400' as [(6, 28, 28), (96, 26, 26), (400,)]."""
    shapes = []
    for part in text.split("→"):
        dims = []
        for dim in part.strip().split("×"):
            side = re.fullmatch(r"(\d+)²", dim)
            dims += [int(side[1])] * 2 if side else [int(dim)]
        shapes.append(tuple(dims))
    return shapes


def build(name: str, shape: tuple[int, ...] | None = None, device: str = "meta", **overrides) -> nn.Module:
    spec = get_spec(name)
    return build_model(spec, resolve_knobs(spec, overrides), (shape,) if shape else None, device=device)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def top_level_shapes(model: nn.Module, x: torch.Tensor) -> list[tuple[int, ...]]:
    """Output shapes (batch dropped) of the model's children, skipping activations, norms and dropout."""
    shapes: list[tuple[int, ...]] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape[1:])))
             for m in model.children() if not isinstance(m, ELEMENTWISE)]
    model.eval()
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return shapes


def types_in(model: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, kind)]


# ---- the book's totals and shapes (meta device: no memory) ----

@pytest.mark.parametrize("name", BOOK)
def test_book_parameter_total(name):
    side, _, total = BOOK[name]
    assert n_params(build(name, (1, 1, side, side))) == total


@pytest.mark.parametrize("name", BOOK)
def test_book_top_level_shapes(name):
    side, shapes, _ = BOOK[name]
    model = build(name, (1, 1, side, side))
    assert top_level_shapes(model, torch.empty(1, 1, side, side, device="meta")) == parse_shapes(shapes)


def test_lenet_layers_read_well():
    names = [n for n, _ in build("lenet").named_children()]
    assert names == ["conv1", "act1", "pool1", "conv2", "act2", "pool2", "flatten", "fc3", "act3", "fc4", "act4", "fc5"]
    assert isinstance(build("lenet").pool1, nn.AvgPool2d)


def test_lenet_bn_has_a_norm_after_every_conv_and_hidden_dense_layer():
    model = build("lenet-bn")
    assert len(types_in(model, nn.BatchNorm2d)) == 2 and len(types_in(model, nn.BatchNorm1d)) == 2
    # each norm's parameters: 2 x (6 + 16 + 120 + 84)
    assert n_params(model) == 61_706 + 2 * (6 + 16 + 120 + 84)


# ---- block facts stated in the text ----

def test_residual_keeps_shape_and_1x1conv_halves_it():
    x = torch.randn(4, 3, 6, 6)
    assert Residual(3, 3)(x).shape == (4, 3, 6, 6)
    assert Residual(3, 6, use_1x1conv=True, strides=2)(x).shape == (4, 6, 3, 3)


def test_resnext_block_keeps_or_halves():
    x = torch.randn(4, 32, 8, 8)
    block = ResNeXtBlock(32, 32, groups=16, bot_mul=1)
    assert block(x).shape == (4, 32, 8, 8)
    assert block.conv2.groups == 16 and block.shortcut is None
    wide = ResNeXtBlock(32, 64, groups=8, bot_mul=0.5, use_1x1conv=True, strides=2)
    assert wide(x).shape == (4, 64, 4, 4)
    assert wide.conv2.out_channels == 32 and wide.conv2.groups == 8


def test_dense_block_grows_channels_and_transition_halves():
    y = DenseBlock(2, 3, 10)(torch.randn(4, 3, 8, 8))
    assert y.shape == (4, 23, 8, 8)
    assert TransitionBlock(23, 10)(y).shape == (4, 10, 4, 4)


def test_googlenet_inception_outputs():
    model = build("googlenet")
    blocks = types_in(model, Inception)
    out: list[int] = []
    for b in blocks:
        b.register_forward_hook(lambda _m, _i, y: out.append(y.shape[1]))
    model(torch.empty(1, 1, 96, 96, device="meta"))
    assert out == [256, 480, 512, 512, 512, 528, 832, 832, 1024] == [b.out_channels for b in blocks]


@pytest.mark.parametrize("name, block, count", [
    ("vgg11", VGGBlock, 5), ("nin", NiNBlock, 4), ("googlenet", Inception, 9), ("resnet18", Residual, 8),
    ("resnext", ResNeXtBlock, 8), ("densenet", DenseBlock, 4), ("densenet", TransitionBlock, 3),
])
def test_blocks_are_their_own_modules(name, block, count):
    assert len(types_in(build(name), block)) == count


# ---- every knob changes the model ----

ALTERNATIVES = {
    "hidden": (64, 32), "growth_rate": 16, "groups": 8, "bot_mul": 0.5,
    "arch": {"vgg11": ((1, 8), (2, 16)), "vgg": ((1, 8), (2, 16)), "resnet18": ((1, 32), (1, 64)),
             "resnext": ((1, 32), (1, 64)), "densenet": (2, 2)},
}


def other_value(name: str, knob) -> object:
    if knob.name in ALTERNATIVES:
        alt = ALTERNATIVES[knob.name]
        return alt[name] if isinstance(alt, dict) else alt
    if knob.choices:
        return next(c for c in knob.choices if c != knob.default)
    if knob.kind is float:
        return 0.3 if knob.default != 0.3 else 0.2
    return knob.default + 2  # num_classes, in_channels


@pytest.mark.parametrize("name", CNNS)
def test_every_knob_changes_the_model(name):
    spec = get_spec(name)
    base = repr(build(name))
    for knob in spec.knobs.values():
        if knob.name == "init":
            continue
        value = other_value(name, knob)
        side = spec.default_input[0][-1]
        channels = value if knob.name == "in_channels" else 1
        model = build(name, (1, channels, side, side), **{knob.name: value})
        assert repr(model) != base, f"{name}: knob {knob.name}={value!r} left the model unchanged"


@pytest.mark.parametrize("name", ["lenet", "alexnet", "vgg", "nin"])
def test_dropout_value_reaches_dropout_modules(name):
    drops = types_in(build(name, dropout=0.25), nn.Dropout)
    assert drops and all(d.p == 0.25 for d in drops)
    assert not types_in(build(name, dropout=0.0), nn.Dropout)


@pytest.mark.parametrize("name", CNNS)
def test_norm_knob(name):
    batch = build(name, norm="batch")
    layer = build(name, norm="layer")
    none = build(name, norm="none")
    assert types_in(batch, nn.BatchNorm2d) and not types_in(none, (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm))
    assert types_in(layer, nn.GroupNorm) and not types_in(layer, (nn.BatchNorm2d, nn.BatchNorm1d))
    assert all(g.num_groups == 1 for g in types_in(layer, nn.GroupNorm))
    assert n_params(batch) == n_params(layer) > n_params(none)
    if name in ("lenet", "alexnet", "vgg"):  # dense hidden layers get the dense norms
        assert types_in(batch, nn.BatchNorm1d) and types_in(layer, nn.LayerNorm)


@pytest.mark.parametrize("name, act, kind", [("lenet", "relu", nn.ReLU), ("lenet", "tanh", nn.Tanh),
                                             ("alexnet", "gelu", nn.GELU), ("alexnet", "sigmoid", nn.Sigmoid)])
def test_activation_knob(name, act, kind):
    model = build(name, activation=act)
    others = tuple(t for t in (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.GELU) if t is not kind)
    assert len(types_in(model, kind)) == (4 if name == "lenet" else 7)
    assert not types_in(model, others)


def test_arch_knobs_shape_the_networks():
    vgg = build("vgg", (1, 1, 64, 64), arch=((1, 8), (2, 16), (1, 32)))
    assert [len(types_in(b, nn.Conv2d)) for b in types_in(vgg, VGGBlock)] == [1, 2, 1]
    assert vgg.fc1.in_features == 32 * 8 * 8
    resnet = build("resnet18", arch=((1, 32), (3, 64), (1, 128)))
    assert [n for n, _ in resnet.named_children()] == ["b1", "b2", "b3", "b4", "head"]
    assert len(types_in(resnet.b3, Residual)) == 3 and resnet.head.fc.in_features == 128
    assert resnet.b2.block1.shortcut is not None  # 64 stem channels to 32 needs the 1x1 conv
    dense = build("densenet", growth_rate=8, arch=(2, 3))
    assert dense.head.fc.in_features == (64 + 2 * 8) // 2 + 3 * 8


def test_resnext_groups_and_bottleneck():
    model = build("resnext", groups=4, bot_mul=0.5)
    convs = [b.conv2 for b in types_in(model, ResNeXtBlock)]
    assert all(c.groups == 4 for c in convs) and convs[0].out_channels == 32 and convs[-1].out_channels == 256
    with pytest.raises(UserError, match="knob groups"):
        build("resnext", groups=48)


def test_knob_a_model_does_not_honour_is_an_error():
    with pytest.raises(UserError, match="googlenet does not honour knob 'dropout'"):
        resolve_knobs(get_spec("googlenet"), {"dropout": 0.3})


# ---- real forward (and backward) passes on the CPU ----

@pytest.mark.parametrize("name, side", [("lenet", 28), ("lenet-bn", 28), ("alexnet", 67), ("vgg11", 32), ("vgg", 32),
                                        ("nin", 67), ("googlenet", 32), ("resnet18", 32), ("resnext", 32),
                                        ("densenet", 32)])
def test_cpu_forward_and_backward(name, side):
    torch.manual_seed(0)
    model = build(name, (2, 3, side, side), device="cpu", num_classes=7, in_channels=3)
    y = model(torch.randn(2, 3, side, side))
    assert y.shape == (2, 7) and torch.isfinite(y).all()
    y.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, side, side)).shape == (1, 7)
