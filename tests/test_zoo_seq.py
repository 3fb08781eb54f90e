"""Sequence and attention families of the zoo: the book's golden numbers, knobs, masking, meta device, decoding."""

from __future__ import annotations

import math

import pytest
import torch

from d2ltui.errors import UserError
from d2ltui.zoo.attention import AdditiveAttention, MultiHeadAttention, PositionalEncoding, masked_softmax
from d2ltui.zoo.build import BOS, EOS, PAD, build_model, example_inputs
from d2ltui.zoo.registry import get_spec, resolve_knobs
from d2ltui.zoo.seq2seq import Seq2SeqDecoder, Seq2SeqEncoder, StackedGRU
from d2ltui.zoo.transformer import PatchEmbedding, TransformerEncoder, TransformerEncoderBlock

LMS = ("rnn-lm", "gru-lm", "lstm-lm")
SEQ2SEQ = ("seq2seq", "seq2seq-attention", "transformer")
SMALL_VIT = {"num_hiddens": 32, "mlp_num_hiddens": 64, "num_heads": 4, "patch_size": 8}
VIT_INPUT = ((2, 1, 32, 32),)


def make(name: str, shapes=None, device="cpu", **overrides):
    spec = get_spec(name)
    knobs = resolve_knobs(spec, overrides)
    torch.manual_seed(0)
    model = build_model(spec, knobs, shapes, device)
    return model, spec, knobs


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


# --- the book's golden numbers --------------------------------------------------------------

@pytest.mark.parametrize("name,overrides,total", [
    ("rnn-lm", {}, 2908), ("gru-lm", {}, 6876), ("lstm-lm", {}, 8860), ("gru-lm", {"num_layers": 2}, 13212)])
def test_language_model_param_totals(name, overrides, total):
    model, _, _ = make(name, **overrides)
    assert n_params(model) == total


def test_rnn_lm_splits_into_recurrent_and_output_params():
    model, _, _ = make("rnn-lm")
    assert n_params(model.rnn) == 1984 and n_params(model.linear) == 924


def test_bidirectional_lm_output_layer_takes_both_directions():
    model, _, _ = make("rnn-lm", bidirectional=True)
    assert model.linear.in_features == 64
    assert n_params(model) == 2 * 1984 + 64 * 28 + 28


def test_seq2seq_encoder_and_decoder_shapes():
    encoder, decoder = Seq2SeqEncoder(10, 8, 16, 2), Seq2SeqDecoder(10, 8, 16, 2)
    X = torch.zeros((4, 9), dtype=torch.long)
    enc_outputs, enc_state = encoder(X)
    assert enc_outputs.shape == (9, 4, 16) and enc_state.shape == (2, 4, 16)
    dec_outputs, (_, dec_state) = decoder(X, decoder.init_state((enc_outputs, enc_state)))
    assert dec_outputs.shape == (4, 9, 10) and dec_state.shape == (2, 4, 16)
    model, _, _ = make("seq2seq")  # the catalog's defaults are the book's setting
    assert model.encoder(X)[1].shape == (2, 4, 16)
    assert model(X + 3, X + 3).shape == (4, 9, 10)


def test_multi_head_attention_shape():
    attention = MultiHeadAttention(100, 5, 0.5).eval()
    X, Y = torch.ones((2, 4, 100)), torch.ones((2, 6, 100))
    assert attention(X, Y, Y, torch.tensor([3, 2])).shape == (2, 4, 100)


def test_transformer_encoder_block_and_encoder_shapes():
    X, valid_lens = torch.ones((2, 100, 24)), torch.tensor([3, 2])
    assert TransformerEncoderBlock(24, 48, 8, 0.5).eval()(X, valid_lens).shape == (2, 100, 24)
    encoder = TransformerEncoder(200, 24, 48, 8, 2, 0.5).eval()
    assert encoder(torch.ones((2, 100), dtype=torch.long), valid_lens).shape == (2, 100, 24)


@pytest.mark.parametrize("img,patch,hiddens", [(96, 16, 512), (28, 7, 24), (32, 8, 32)])
def test_vit_patch_embedding_shape(img, patch, hiddens):
    embed = PatchEmbedding(3, patch, hiddens)
    assert embed(torch.zeros((4, 3, img, img))).shape == (4, (img // patch) ** 2, hiddens)


def test_vit_patches_follow_the_built_image_size():
    model, _, _ = make("vit", shapes=((1, 3, 64, 64),), in_channels=3, **SMALL_VIT)
    assert model.pos_embedding.weight.shape == (1, (64 // 8) ** 2 + 1, 32)
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 10)
    with pytest.raises(ValueError, match="position embedding holds 65 tokens"):
        model(torch.randn(2, 3, 32, 32))


# --- attention scoring -----------------------------------------------------------------------

def test_masked_softmax_zeroes_keys_beyond_the_valid_length():
    X = torch.rand(2, 2, 4)
    P = masked_softmax(X, torch.tensor([2, 3]))
    assert torch.all(P[0, :, 2:] == 0) and torch.all(P[1, :, 3:] == 0) and torch.all(P[0, :, :2] > 0)
    assert torch.allclose(P.sum(-1), torch.ones(2, 2))
    P2 = masked_softmax(X, torch.tensor([[1, 3], [2, 4]]))
    assert torch.all(P2[0, 0, 1:] == 0) and torch.all(P2[1, 1] > 0) and torch.all(P2[1, 0, 2:] == 0)
    assert torch.allclose(masked_softmax(X, None), torch.softmax(X, -1))


def test_additive_attention_matches_the_books_example():
    queries, keys = torch.normal(0, 1, (2, 1, 20)), torch.ones((2, 10, 2))
    values = torch.arange(40, dtype=torch.float32).reshape(1, 10, 4).repeat(2, 1, 1)
    attention = AdditiveAttention(2, 20, 8, 0.1).eval()
    out = attention(queries, keys, values, torch.tensor([2, 6]))
    assert out.shape == (2, 1, 4)
    # identical keys give uniform weights over the valid ones: the mean of the first 2 (6) value rows
    assert torch.allclose(out[0, 0], values[0, :2].mean(0)) and torch.allclose(out[1, 0], values[1, :6].mean(0))


def test_attention_ignores_keys_and_values_past_the_valid_length():
    attention = MultiHeadAttention(16, 4).eval()
    q, kv = torch.randn(2, 3, 16), torch.randn(2, 5, 16)
    changed = kv.clone()
    changed[0, 2:], changed[1, 4:] = torch.randn(3, 16), torch.randn(1, 16)
    valid_lens = torch.tensor([2, 4])
    assert torch.allclose(attention(q, kv, kv, valid_lens), attention(q, changed, changed, valid_lens))
    assert not torch.allclose(attention(q, kv, kv), attention(q, changed, changed))


def test_positional_encoding_is_the_books_sinusoid():
    P = PositionalEncoding(7).encoding(50)
    assert P.shape == (1, 50, 7)
    pos = torch.arange(50, dtype=torch.float32)
    assert torch.allclose(P[0, :, 0], torch.sin(pos)) and torch.allclose(P[0, :, 1], torch.cos(pos))
    assert torch.allclose(P[0, :, 6], torch.sin(pos / 10000 ** (6 / 7)), atol=1e-6)


def test_heads_must_divide_the_width():
    with pytest.raises(UserError, match="num_heads"):
        make("transformer", num_heads=3)


# --- knobs -------------------------------------------------------------------------------------

LM_KNOBS = {"vocab_size": 40, "num_hiddens": 20, "num_layers": 2, "bidirectional": True}
S2S_KNOBS = {"src_vocab": 20, "tgt_vocab": 15, "embed_size": 12, "num_hiddens": 24, "num_layers": 3}
KNOB_CHANGES = {
    **{name: LM_KNOBS for name in LMS},
    "seq2seq": S2S_KNOBS, "seq2seq-attention": S2S_KNOBS,
    "transformer": {"src_vocab": 20, "tgt_vocab": 15, "num_hiddens": 48, "ffn_num_hiddens": 32, "num_blks": 3},
    "vit": {"num_classes": 7, "in_channels": 3, "patch_size": 16, "num_hiddens": 48, "mlp_num_hiddens": 16,
            "num_blks": 3},
}
SHAPES = {"vit": VIT_INPUT}
BASE = {"vit": SMALL_VIT}


@pytest.mark.parametrize("name", list(KNOB_CHANGES))
def test_every_knob_is_covered_here(name):
    covered = set(KNOB_CHANGES[name]) | {"dropout", "init"} | ({"num_heads"} if "num_heads" in get_spec(name).knobs else set())
    assert covered == set(get_spec(name).knobs)


@pytest.mark.parametrize("name,knob", [(n, k) for n, ks in KNOB_CHANGES.items() for k in ks])
def test_each_structural_knob_changes_the_model(name, knob):
    shapes = SHAPES.get(name) or get_spec(name).default_input
    shapes2 = ((2, 3, 32, 32),) if knob == "in_channels" else shapes
    base, spec, knobs = make(name, shapes, **BASE.get(name, {}))
    changed, _, knobs2 = make(name, shapes2, **{**BASE.get(name, {}), knob: KNOB_CHANGES[name][knob]})
    out_base = base.eval()(*example_inputs(spec, knobs, shapes))
    out_changed = changed.eval()(*example_inputs(spec, knobs2, shapes2))
    assert n_params(base) != n_params(changed) or out_base.shape != out_changed.shape


@pytest.mark.parametrize("name", ["transformer", "vit"])
def test_num_heads_changes_the_computation(name):
    base, spec, knobs = make(name, SHAPES.get(name), **BASE.get(name, {}))
    other, _, _ = make(name, SHAPES.get(name), **{**BASE.get(name, {}), "num_heads": 2})
    other.load_state_dict(base.state_dict())  # same weights, different split into heads
    torch.manual_seed(1)
    inputs = example_inputs(spec, knobs, SHAPES.get(name) or spec.default_input)
    assert not torch.allclose(base.eval()(*inputs), other.eval()(*inputs))


@pytest.mark.parametrize("name", [*LMS, *SEQ2SEQ, "vit"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_dropout_is_honoured_in_training_only(name, num_layers):
    extra = {"num_layers": num_layers} if "num_layers" in get_spec(name).knobs else {"num_blks": num_layers}
    model, spec, knobs = make(name, SHAPES.get(name), dropout=0.5, **BASE.get(name, {}), **extra)
    inputs = example_inputs(spec, knobs, SHAPES.get(name) or spec.default_input)
    model.train()
    assert not torch.allclose(model(*inputs), model(*inputs))
    model.eval()
    assert torch.equal(model(*inputs), model(*inputs))
    still, _, _ = make(name, SHAPES.get(name), dropout=0.0, **BASE.get(name, {}), **extra)
    still.train()
    assert torch.equal(still(*inputs), still(*inputs))


# --- forward on the CPU and on the meta device ------------------------------------------------

CASES = [
    ("rnn-lm", {}, ((3, 7),), (3, 7, 28)),
    ("gru-lm", {"num_layers": 2, "bidirectional": True}, ((3, 7),), (3, 7, 28)),
    ("lstm-lm", {"vocab_size": 50}, ((3, 7),), (3, 7, 50)),
    ("seq2seq", {"tgt_vocab": 13}, ((3, 6), (3, 5)), (3, 5, 13)),
    ("seq2seq-attention", {"src_vocab": 11, "tgt_vocab": 13}, ((3, 6), (3, 5)), (3, 5, 13)),
    ("transformer", {"tgt_vocab": 13}, ((3, 6), (3, 5)), (3, 5, 13)),
    ("vit", {**SMALL_VIT, "num_classes": 5}, ((3, 1, 32, 32),), (3, 5)),
    ("vit", {}, ((2, 1, 96, 96),), (2, 10)),
]


@pytest.mark.parametrize("name,overrides,shapes,expected", CASES)
def test_forward_shapes_on_cpu_and_meta(name, overrides, shapes, expected):
    model, spec, knobs = make(name, shapes, **overrides)
    out = model(*example_inputs(spec, knobs, shapes))
    assert out.shape == expected and out.dtype == torch.float32 and torch.isfinite(out).all()
    out.float().pow(2).mean().backward()  # autograd goes through (no broken in-place views)
    assert all(p.grad is not None for p in model.parameters())
    meta, _, _ = make(name, shapes, device="meta", **overrides)
    assert all(p.device.type == "meta" for p in meta.parameters())
    assert meta(*example_inputs(spec, knobs, shapes, device="meta")).shape == expected
    assert n_params(meta) == n_params(model)


# --- padding and decoding -----------------------------------------------------------------------

@pytest.mark.parametrize("name", SEQ2SEQ)
def test_source_padding_does_not_change_the_output(name):
    model, _, _ = make(name, src_vocab=12, num_layers=2) if name != "transformer" else make(name, src_vocab=12)
    model.eval()
    tgt = torch.tensor([[BOS, 4, 5, 6]])
    short = model(torch.tensor([[5, 6, 7, 8]]), tgt)
    batch = torch.tensor([[5, 6, 7, 8, PAD, PAD, PAD], [9, 10, 11, 3, 4, 5, 6]])
    padded = model(batch, tgt.expand(2, -1))
    assert torch.allclose(short[0], padded[0], atol=1e-5)
    other = model(torch.tensor([[5, 6, 7, 8, 9, 3]]), tgt)  # a real token where the padding was does matter
    assert not torch.allclose(short, other, atol=1e-4)
    assert torch.isfinite(model(torch.zeros((1, 5), dtype=torch.long), tgt)).all()  # an all-padding source


def test_stacked_gru_equals_a_multi_layer_gru():
    stacked, reference = StackedGRU(5, 7, 3), torch.nn.GRU(5, 7, 3)
    with torch.no_grad():
        for name, p in reference.named_parameters():  # weight_ih_l1 -> gru1.weight_ih_l0
            base, layer = name.rsplit("_l", 1)
            p.copy_(stacked.get_parameter(f"gru{layer}.{base}_l0"))
    X = torch.randn(6, 2, 5)
    outputs, state = stacked(X)
    ref_outputs, ref_state = reference(X)
    assert torch.allclose(outputs, ref_outputs, atol=1e-6) and torch.allclose(state, ref_state, atol=1e-6)
    _, short_state = stacked(X, torch.tensor([4, 6]))  # the state after the valid steps of each sequence
    assert torch.allclose(short_state[:, 0], reference(X[:4, :1])[1][:, 0], atol=1e-6)
    assert torch.allclose(short_state[:, 1], ref_state[:, 1], atol=1e-6)


@pytest.mark.parametrize("name", SEQ2SEQ)
def test_seq2seq_predict_is_greedy_and_stops_at_eos(name):
    model, _, _ = make(name, tgt_vocab=9)
    src = torch.tensor([[5, 6, 7, PAD]])
    ids = model.predict(src, max_len=6)
    assert all(isinstance(i, int) and 0 <= i < 9 and i != EOS for i in ids) and len(ids) <= 6
    logits = model.eval()(src, torch.tensor([[BOS, *ids]]))
    assert logits[0, :-1].argmax(-1).tolist() == ids  # each id is the argmax after its prefix
    assert len(ids) == 6 or int(logits[0, -1].argmax()) == EOS
    with torch.no_grad():
        model.decoder.dense.bias[EOS] = 1e4
    assert model.predict(src, max_len=6) == []


@pytest.mark.parametrize("name,overrides", [("rnn-lm", {}), ("lstm-lm", {"num_layers": 2}),
                                            ("gru-lm", {"bidirectional": True})])
def test_language_model_predict_is_greedy(name, overrides):
    model, _, _ = make(name, **overrides)
    model.train()
    ids = model.predict([3, 4, 5], 8)
    assert model.training  # restored
    assert ids[:3] == [3, 4, 5] and len(ids) == 11 and all(isinstance(i, int) and 0 <= i < 28 for i in ids)
    model.eval()
    for t in range(3, 11):  # the same as re-running forward on the growing prefix
        assert int(model(torch.tensor([ids[:t]]))[0, -1].argmax()) == ids[t]


def test_transformer_decoder_is_causal():
    model, _, _ = make("transformer")
    model.eval()
    src = torch.tensor([[5, 6, 7]])
    full = model(src, torch.tensor([[BOS, 4, 5, 6]]))
    changed = model(src, torch.tensor([[BOS, 4, 9, 9]]))
    assert torch.allclose(full[0, :2], changed[0, :2], atol=1e-5)
    assert not torch.allclose(full[0, 2:], changed[0, 2:], atol=1e-4)
    assert math.isclose(float(full.detach().softmax(-1).sum()), 4.0, rel_tol=1e-5)
