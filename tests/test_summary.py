"""The meta-device summary: rows, depth, params, FLOPs, receptive fields, failures, and the real zoo."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, strategies as st
from torch import nn

from d2ltui.errors import UserError
from d2ltui.inspector.receptive import ReceptiveFieldMode
from d2ltui.format import format_shape, format_shapes, parse_shapes
from d2ltui.inspector.summary import construct, flows, summarize
from d2ltui.zoo.build import build_model, example_inputs
from d2ltui.zoo.registry import Knob, ModelSpec, all_specs, get_spec, resolve_knobs


# ---- tiny fixture models (built through specs pointing at this module) ----

class Branches(nn.Module):
    """Inception-like: four parallel paths with receptive fields 1, 3, 5 and 3 (pool) on top of the input."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.p1 = nn.Conv2d(c, 2, 1)
        self.p2 = nn.Sequential(nn.Conv2d(c, 2, 1), nn.Conv2d(2, 2, 3, padding=1))
        self.p3 = nn.Sequential(nn.Conv2d(c, 2, 1), nn.Conv2d(2, 2, 5, padding=2))
        self.p4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(c, 2, 1))

    def forward(self, x):
        return torch.cat([self.p1(x), self.p2(x), self.p3(x), self.p4(x)], dim=1)


class Residual(nn.Module):
    def __init__(self, c: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, stride, 1)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1)
        self.shortcut = nn.Conv2d(c, c, 1, stride)

    def forward(self, x):
        return torch.relu(self.conv2(torch.relu(self.conv1(x))) + self.shortcut(x))


class TinyNet(nn.Module):
    def __init__(self, num_classes: int, in_channels: int, width: int) -> None:
        super().__init__()
        if width % 2:
            raise ValueError("width must be even")
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 4, 3, padding=1), nn.MaxPool2d(2), Branches(4), Residual(8, 2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LazyLinear(num_classes))
        self.net[0].requires_grad_(False)  # a frozen stem: 40 frozen parameters

    def forward(self, x):
        return self.net(x)


def tiny_net(num_classes=10, in_channels=1, width=2):
    return TinyNet(num_classes, in_channels, width)


class CharLM(nn.Module):
    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.rnn = nn.LSTM(vocab_size, 16)
        self.out = nn.Linear(16, vocab_size)

    def forward(self, x):
        y, _ = self.rnn(nn.functional.one_hot(x.T, self.vocab_size).float())
        return self.out(y)


def char_lm(vocab_size=12):
    return CharLM(vocab_size)


class DotAttention(nn.Module):
    def forward(self, q, k, v):
        return torch.bmm(torch.softmax(torch.bmm(q, k.transpose(1, 2)), dim=-1), v)


class EncDec(nn.Module):
    """Two token inputs; a decoder loop calls `step` once per target position."""

    def __init__(self, src_vocab: int, tgt_vocab: int) -> None:
        super().__init__()
        self.src_emb, self.tgt_emb = nn.Embedding(src_vocab, 8), nn.Embedding(tgt_vocab, 8)
        self.attn = DotAttention()
        self.step = nn.Linear(8, 8)
        self.out = nn.Linear(8, tgt_vocab)

    def forward(self, src, tgt):
        q = self.tgt_emb(tgt)
        q = torch.stack([self.step(q[:, t]) for t in range(q.shape[1])], dim=1)
        mem = self.src_emb(src)
        return self.out(self.attn(q, mem, mem))


def enc_dec(src_vocab=10, tgt_vocab=7):
    return EncDec(src_vocab, tgt_vocab)


TINY = ModelSpec("tiny", "test", "classification", "image", ((1, 1, 16, 16),), f"{__name__}:tiny_net",
                 {"num_classes": Knob("num_classes", int, 10, min=1), "in_channels": Knob("in_channels", int, 1, min=1, max=64),
                  "width": Knob("width", int, 2, min=1)})
LM = ModelSpec("char", "test", "language-model", "tokens", ((2, 5),), f"{__name__}:char_lm",
               {"vocab_size": Knob("vocab_size", int, 12, min=2)})
ENCDEC = ModelSpec("encdec", "test", "seq2seq", "seq2seq", ((1, 6), (1, 4)), f"{__name__}:enc_dec",
                   {"src_vocab": Knob("src_vocab", int, 10), "tgt_vocab": Knob("tgt_vocab", int, 7)})


def rows(summary):
    return {r.name: r for r in summary.layers}


# ---- rows and depth ----

def test_depth_one_lists_the_blocks_below_the_wrapper_in_order():
    s = summarize(TINY)
    assert [r.name for r in s.layers] == ["0", "1", "2", "3", "4", "5", "6"]
    assert [r.type for r in s.layers][:4] == ["Conv2d", "MaxPool2d", "Branches", "Residual"]
    assert {r.depth for r in s.layers} == {1}
    assert rows(s)["2"].output_shape == (1, 8, 8, 8)
    assert rows(s)["6"].output_shape == (1, 10) and s.error is None


def test_deeper_rows_are_nested_names_with_their_depth():
    names = [r.name for r in summarize(TINY, depth=2).layers]
    assert names[names.index("2") + 1: names.index("3")] == ["2.p1", "2.p2", "2.p3", "2.p4"]
    deep = rows(summarize(TINY, depth=3))
    assert deep["2.p3.1"].depth == 3 and deep["2.p3.1"].output_shape == (1, 2, 8, 8)


def test_depth_zero_is_one_row_for_the_whole_model():
    s = summarize(TINY, depth=0)
    assert len(s.layers) == 1
    assert (s.layers[0].name, s.layers[0].depth, s.layers[0].output_shape) == ("tiny", 0, (1, 10))
    assert s.layers[0].params == s.total_params


def test_params_trainable_frozen_and_bytes():
    s = summarize(TINY)
    stem = rows(s)["0"]
    assert (stem.params, stem.trainable_params) == (40, 0)
    assert rows(s)["6"].params == 8 * 10 + 10  # the lazy layer materialised by the pass
    assert s.total_params == sum(r.params for r in s.layers)
    assert s.trainable_params == s.total_params - 40
    assert s.param_bytes == 4 * s.total_params


def test_flops_come_per_module_from_the_flop_counter():
    s = summarize(TINY, depth=2)
    assert rows(s)["0"].flops == 2 * 4 * 16 * 16 * 1 * 3 * 3  # 2 x MACs of a 3x3 conv, 1 -> 4 channels
    assert rows(s)["2"].flops == sum(rows(s)[f"2.p{i}"].flops for i in range(1, 5))
    assert s.flops == sum(r.flops for r in s.layers if r.depth == 1)


def test_activation_bytes_are_the_outputs_bytes():
    s = summarize(TINY, depth=3)
    assert rows(s)["0"].activation_bytes == 4 * 16 * 16 * 4
    leaves = [r for r in s.layers if r.type not in ("Branches", "Residual", "Sequential")]
    assert s.activation_bytes == sum(r.activation_bytes for r in leaves)


def test_receptive_field_follows_kernels_strides_and_takes_the_widest_branch():
    rf = {name: r.receptive_field for name, r in rows(summarize(TINY, depth=3)).items()}
    assert rf["0"] == (3, 3) and rf["1"] == (4, 4)  # 3x3 conv, then a 2x2 pool (jump 2)
    assert rf["2.p1"] == (4, 4) and rf["2.p2"] == (8, 8) and rf["2.p3"] == (12, 12) and rf["2.p4"] == (8, 8)
    assert rf["2"] == (12, 12)  # the widest branch
    assert rf["3.conv1"] == (16, 16) and rf["3.conv2"] == (24, 24) and rf["3.shortcut"] == (12, 12)
    assert rf["3"] == (24, 24)  # a residual block: the widest of body and shortcut
    assert rf["4"] == (24 + 3 * 4,) * 2  # global pooling over 4x4 positions 4 pixels apart
    assert rf["5"] is None and rf["6"] is None  # flatten and dense layers end the stack


def test_receptive_field_of_1d_convolution_and_pooling():
    mode = ReceptiveFieldMode()
    x = torch.empty(1, 2, 32, device="meta")
    mode.mark(x)
    with mode:
        y = nn.MaxPool1d(2)(nn.Conv1d(2, 2, 3, dilation=2, device="meta")(x))
    assert mode.field(y) == (1 + 2 * 2 + 1,)  # dilated 3-tap conv sees 5, a 2-wide pool adds 1


def test_in_channels_follows_the_input_unless_set():
    s = summarize(TINY, shapes=((2, 3, 16, 16),))
    assert s.error is None and s.knobs["in_channels"] == 3 and rows(s)["0"].output_shape == (2, 4, 16, 16)
    s = summarize(TINY, {"in_channels": "1"}, ((2, 3, 16, 16),))
    assert s.failure.layer == "0" and s.failure.suggestion[0][:2] == (2, 1)
    assert summarize(TINY, {"in_channels": 1}, s.failure.suggestion).error is None


def test_recurrent_layer_shows_its_first_output():
    s = summarize(LM)
    assert rows(s)["rnn"].type == "LSTM" and rows(s)["rnn"].output_shape == (5, 2, 16)
    assert rows(s)["out"].output_shape == (5, 2, 12)
    assert rows(s)["rnn"].flops > 0 and rows(s)["rnn"].receptive_field is None


def test_two_inputs_attention_matmuls_and_repeated_calls():
    s = summarize(ENCDEC)
    r = rows(s)
    assert r["out"].output_shape == (1, 4, 7) and r["src_emb"].output_shape == (1, 6, 8)
    assert r["attn"].flops == 2 * (2 * 1 * 4 * 6 * 8)  # two batched matmuls, no parameters
    assert r["step"].calls == 4 and r["step"].flops == 4 * 2 * 8 * 8
    assert r["step"].output_shape == (1, 8)


def test_construct_puts_every_parameter_on_the_meta_device():
    model = construct(get_spec("vgg11"), resolve_knobs(get_spec("vgg11")))
    assert all(p.is_meta for p in model.parameters())


# ---- failures ----

def test_failing_layer_keeps_rows_and_suggests_an_input_that_works():
    s = summarize(TINY, shapes=((1, 1, 1, 1),))
    assert [r.name for r in s.layers] == ["0", "1"]
    assert s.layers[0].output_shape == (1, 4, 1, 1) and s.layers[1].output_shape is None
    f = s.failure
    assert (f.layer, f.layer_type, f.input_shape) == ("1", "MaxPool2d", (1, 4, 1, 1))
    assert "\n" not in s.error and "Output size is too small" in s.error
    assert f.suggestion == ((1, 1, 2, 2),) and summarize(TINY, shapes=f.suggestion).error is None
    assert "1 (MaxPool2d)" in s.error and "1x4x1x1" in s.error and "1x1x2x2" in s.error


def test_alexnet_on_fashion_mnist_size_names_the_layer_and_a_working_size():
    s = summarize("alexnet", shapes=((1, 1, 28, 28),))
    f = s.failure
    assert f is not None and f.input_shape is not None and f.layer in s.error and f.layer_type in s.error
    assert s.layers and all(r.output_shape is not None for r in s.layers[:-1])
    (n, c, h, w), = f.suggestion
    assert (n, c) == (1, 1) and h == w > 28
    assert summarize("alexnet", shapes=f.suggestion).error is None
    knobs = resolve_knobs(get_spec("alexnet"), {"in_channels": 1})
    assert not flows(get_spec("alexnet"), knobs, ((1, 1, h - 1, w - 1),))


def test_bad_requests_are_user_errors():
    with pytest.raises(UserError, match="takes 2 input"):
        summarize(ENCDEC, shapes=((1, 6),))
    with pytest.raises(UserError, match="4 dimensions"):
        summarize(TINY, shapes=((1, 16, 16),))
    with pytest.raises(UserError, match="does not honour knob 'depth'"):
        summarize(TINY, {"depth": 3})
    with pytest.raises(UserError, match="width must be even"):
        summarize(TINY, {"width": 3})
    with pytest.raises(UserError, match="100 channels"):
        summarize(TINY, shapes=((1, 100, 16, 16),))


# ---- shapes text ----

def test_parse_shapes():
    assert parse_shapes("1x1x28x28") == ((1, 1, 28, 28),)
    assert parse_shapes(" 1x9, 1X9 ") == ((1, 9), (1, 9))
    for bad, word in [("", "empty"), ("1x", "empty dimension"), ("1xa", "'a'"), ("0x3", "zero"),
                      ("1x-2", "'-2'"), ("1x9,", "empty"), ("1x99999999999", "above")]:
        with pytest.raises(UserError, match=word):
            parse_shapes(bad)


@given(st.lists(st.lists(st.integers(1, 10**6), min_size=1, max_size=5).map(tuple), min_size=1, max_size=3))
def test_shapes_round_trip(shapes):
    assert parse_shapes(format_shapes(tuple(shapes))) == tuple(shapes)


# ---- the real zoo ----

GOLDEN = {"lenet": 61_706, "alexnet": 46_764_746, "vgg11": 128_806_154, "vgg": 43_093_322, "nin": 1_992_166,
          "googlenet": 5_977_530, "resnet18": 11_178_378, "densenet": 758_226,
          "rnn-lm": 2_908, "gru-lm": 6_876, "lstm-lm": 8_860}


@pytest.mark.parametrize("name", [s.name for s in all_specs()])
def test_every_model_summarises_at_its_default_input(name):
    s = summarize(name, depth=2)
    tabular = get_spec(name).task in ("value-iteration", "q-learning")  # a table lookup counts no FLOPs
    assert s.error is None and s.layers and (s.flops > 0 or tabular)
    assert s.total_params == GOLDEN.get(name, s.total_params)
    assert all(r.output_shape is not None for r in s.layers if r.calls)
    assert all(r.calls for r in s.layers if r.depth == 1)


def test_a_container_looped_by_hand_sits_before_its_children_with_their_flops():
    s = summarize("densenet", depth=3)
    names = [r.name for r in s.layers]
    looped = [r for r in s.layers if r.calls == 0]
    assert looped, "DenseNet's blocks iterate their nn.Sequential without calling it"
    for row in looped:
        kids = [r for r in s.layers if r.name.startswith(row.name + ".") and r.depth == row.depth + 1]
        assert names.index(kids[0].name) == names.index(row.name) + 1
        assert row.output_shape is None and row.flops == sum(k.flops for k in kids) > 0


SMALL = {"alexnet": ((1, 1, 96, 96),), "vgg11": ((1, 1, 32, 32),), "vgg": ((1, 1, 32, 32),), "nin": ((1, 1, 96, 96),),
         **{name: ((1, 1, 64, 64),) for name in ("googlenet", "resnet18", "resnext", "densenet")}}


@pytest.mark.parametrize("name", [s.name for s in all_specs()])
def test_meta_shapes_equal_a_real_cpu_pass(name):
    spec = get_spec(name)
    shapes = SMALL.get(name, spec.default_input)
    s = summarize(spec, shapes=shapes, depth=2)
    torch.manual_seed(0)
    model = build_model(spec, s.knobs, shapes, "cpu").eval()
    prefix = "net." if isinstance(getattr(model, "net", None), nn.Sequential) and len(list(model.children())) == 1 else ""
    seen = {}

    def record(name):
        def hook(module, args, out):
            seen.setdefault(name, out[0] if isinstance(out, tuple) else out)  # returns None: output unchanged
        return hook

    hooks = [m.register_forward_hook(record(n)) for n, m in model.named_modules()]
    with torch.no_grad():
        model(*example_inputs(spec, s.knobs, shapes, "cpu"))
    for h in hooks:
        h.remove()
    for row in (r for r in s.layers if r.calls):
        key = "" if row.name == name and not list(model.children()) else prefix + row.name  # a one-layer model
        assert format_shape(tuple(seen[key].shape)) == format_shape(row.output_shape), row.name
    assert s.total_params == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", ["googlenet", "resnet18", "resnext"])
def test_branching_blocks_report_their_widest_branch(name):
    s = summarize(name, depth=4)
    blocks = [r for r in s.layers if r.type in ("Inception", "Residual", "ResNeXtBlock")]
    assert blocks
    for block in blocks:
        kids = [r.receptive_field[0] for r in s.layers
                if r.name.startswith(block.name + ".") and r.depth == block.depth + 1 and r.receptive_field]
        assert block.receptive_field[0] == max(kids), block.name


def test_transformer_flops_include_attention_matmuls():
    s = summarize("transformer", depth=8)
    dense = sum(r.flops for r in s.layers if r.type == "Linear")
    assert s.flops > dense > 0


IMAGE_MODELS = [s.name for s in all_specs() if s.input_kind == "image"]


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_any_failing_image_size_gets_a_smallest_suggestion_that_works(name):
    spec = get_spec(name)
    s = summarize(spec, shapes=((2, 1, 3, 3),))
    if s.failure is None:  # flat models and padded stems (GoogLeNet, ResNet) take even 3x3
        assert s.layers[-1].output_shape == (2, 10)
        return
    (n, c, h, w), = s.failure.suggestion
    assert (n, c) == (2, 1) and h == w > 3
    assert summarize(spec, shapes=s.failure.suggestion).error is None
    assert not flows(spec, s.knobs, ((2, 1, h - 1, h - 1),))
