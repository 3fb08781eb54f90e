"""Attention weights in samples.json: queries x keys with token labels, rows summing to 1, masked cells zero."""

from __future__ import annotations

import json
import math

import pytest
import torch

from d2ltui.rundir.writer import RunWriter
from d2ltui.config.schema import dump_toml, from_dict
from d2ltui.tasks import attention_maps
from d2ltui.engine.loop.trainer import fit
from d2ltui.rundir.store import DATA_CARD, SAMPLES, RunDir
from d2ltui.zoo.build import BOS, EOS, PAD
from d2ltui.zoo.nadaraya import NWKernelRegression
from d2ltui.zoo.seq2seq import seq2seq_attention
from d2ltui.zoo.transformer import transformer, vit

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TOL = 0.5 * 10 ** -attention_maps.DECIMALS  # one rounding error per weight


def check_map(heat: dict) -> None:
    """Shaped queries x keys, every row a distribution (within rounding), every masked cell 0."""
    matrix = heat["matrix"]
    assert len(matrix) == len(heat["rows"]) and all(len(row) == len(heat["cols"]) for row in matrix)
    for row in matrix:
        assert min(row) >= 0 and abs(sum(row) - 1) <= TOL * len(row) + 1e-9, row
    for r, c in heat["masked"]:
        assert matrix[r][c] == 0


def test_transformer_maps_per_layer_and_head_with_causal_mask():
    torch.manual_seed(0)
    model = transformer(src_vocab=12, tgt_vocab=12, num_hiddens=8, ffn_num_hiddens=16, num_heads=2, num_blks=2,
                        dropout=0.0)
    src = torch.tensor([[5, 6, 7, EOS, PAD, PAD], [8, 9, EOS, PAD, PAD, PAD]])
    maps = attention_maps.seq2seq_maps(model, src, [[4, 5, 6], [7]], [str(i) for i in range(12)],
                                       [f"t{i}" for i in range(12)])
    assert len(maps) == 2 * 3 * 2 * 2  # samples x (encoder self, decoder self, cross) x layers x heads
    for heat in maps:
        check_map(heat)
    first = [m for m in maps if m["sample"] == 0]
    enc = next(m for m in first if m["group"] == "encoder self-attention")
    assert enc["cols"] == ["5", "6", "7", "2"] and enc["rows"] == enc["cols"]  # padding is never a key
    dec = next(m for m in first if m["group"] == "decoder self-attention")
    assert dec["rows"] == ["t1", "t4", "t5", "t6"]  # <bos> then the prediction
    assert sorted(map(tuple, dec["masked"])) == [(r, c) for r in range(4) for c in range(r + 1, 4)]
    assert dec["matrix"][0] == [1.0, 0.0, 0.0, 0.0]  # the first step sees only itself
    cross = next(m for m in first if m["group"] == "decoder cross-attention")
    assert len(cross["rows"]) == 4 and cross["cols"] == enc["cols"]
    assert {(m["layer"], m["head"]) for m in first if m["group"] == "decoder cross-attention"} == {
        (0, 0), (0, 1), (1, 0), (1, 1)}


def test_padded_keys_get_zero_weight_in_the_model():
    """The masked softmax zeroes the padding keys of a batch; the maps drop those columns."""
    torch.manual_seed(0)
    model = transformer(src_vocab=12, tgt_vocab=12, num_hiddens=8, ffn_num_hiddens=16, num_heads=2, num_blks=1,
                        dropout=0.0).eval()
    src = torch.tensor([[5, 6, EOS, PAD, PAD]])
    model(src, torch.tensor([[BOS, 4]]))
    weights = attention_maps.head_weights(model.encoder.blks[0].attention)  # (1, heads, 5, 5)
    assert weights.shape == (1, 2, 5, 5)
    assert torch.all(weights[..., 3:] == 0) and torch.allclose(weights.sum(-1), torch.ones(1, 2, 5))


def test_bahdanau_map_is_decoder_steps_by_source_tokens():
    torch.manual_seed(0)
    model = seq2seq_attention(src_vocab=10, tgt_vocab=10, embed_size=4, num_hiddens=8, num_layers=1)
    src = torch.tensor([[4, 5, 6, 7, EOS, PAD, PAD]])
    (heat,) = attention_maps.seq2seq_maps(model, src, [[8, 9]], list("0123456789"), list("abcdefghij"))
    check_map(heat)
    assert heat["cols"] == ["4", "5", "6", "7", "2"] and len(heat["rows"]) == 3  # emits 2 tokens, then one more


def test_vit_class_token_maps_cover_every_patch():
    torch.manual_seed(0)
    model = vit(num_classes=3, in_channels=1, patch_size=4, num_hiddens=8, mlp_num_hiddens=16, num_heads=2,
                num_blks=2, dropout=0.0).eval()
    model(torch.randn(5, 1, 16, 16))
    out = attention_maps.vit_maps(model, count=2)
    assert out["grid"] == [4, 4] and len(out["maps"]) == 2 * 2 * 2  # layers x images x heads
    for heat in out["maps"]:
        check_map(heat)
        assert heat["cols"][0] == "cls" and len(heat["cols"]) == 17


def test_kernel_regression_weights_are_the_gaussian_softmax():
    """The book's NW pooling, written out here: softmax_i(-((q - x_i) w)^2 / 2)."""
    model = NWKernelRegression()
    with torch.no_grad():
        model.w.fill_(2.0)
    keys = torch.tensor([[0.0, 1.0, 2.0]])
    values = torch.tensor([[1.0, 2.0, 3.0]])
    q = 0.5
    scores = [-((q - k) * 2.0) ** 2 / 2 for k in (0.0, 1.0, 2.0)]
    expected = [math.exp(s) / sum(math.exp(t) for t in scores) for s in scores]
    y = model(torch.tensor([[q]]), keys, values)
    assert float(y.detach()) == pytest.approx(sum(e * v for e, v in zip(expected, (1.0, 2.0, 3.0))), rel=1e-5)
    out = attention_maps.kernel_regression(model, (torch.tensor([[q]]), keys, values, torch.tensor([[0.0]])))
    assert out["width"] == pytest.approx(0.5) and out["w"] == pytest.approx(2.0)
    (heat,) = out["attention"]["maps"]
    check_map(heat)
    assert heat["matrix"][0] == pytest.approx(expected, abs=TOL)


def train(tmp_path, run_id: str, raw: dict):
    cfg = from_dict(raw)
    run = RunWriter.create(tmp_path / "runs", dump_toml(cfg), run_id)
    result = fit(cfg, run)
    assert result.state == "finished", result.message
    return run.path


def test_a_transformer_run_writes_bounded_maps_to_samples_json(tmp_path):
    path = train(tmp_path, "tf", {
        "model": {"name": "transformer", "num_hiddens": 8, "ffn_num_hiddens": 16, "num_heads": 2, "num_blks": 1},
        "data": {"name": "reverse", "num_train": 32, "num_val": 4, "batch_size": 16, "num_steps": 8},
        "optim": {"name": "adam", "lr": 0.01}, "train": {"epochs": 1}})
    samples = json.loads((path / SAMPLES).read_text())
    maps = samples["attention"]["maps"]
    assert {m["sample"] for m in maps} == {0, 1, 2}  # a few samples, not the whole val split
    assert {m["group"] for m in maps} == {"encoder self-attention", "decoder self-attention",
                                          "decoder cross-attention"}
    for heat in maps:
        check_map(heat)
        assert all(len(repr(v)) <= 2 + attention_maps.DECIMALS + 1 for row in heat["matrix"] for v in row)
    card = json.loads((path / DATA_CARD).read_text())
    assert card["task"] == "seq2seq" and card["vocab"][:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]


def test_a_nadaraya_watson_run_learns_a_width_and_writes_its_heatmap(tmp_path):
    path = train(tmp_path, "nw", {"model": {"name": "nadaraya-watson"},
                                  "data": {"name": "kernel-regression", "batch_size": 50},
                                  "optim": {"lr": 0.5}, "train": {"epochs": 2}})
    samples = json.loads((path / SAMPLES).read_text())
    assert samples["kind"] == "nadaraya-watson"
    assert samples["width"] == pytest.approx(1 / abs(samples["w"]), rel=1e-3)
    (heat,) = samples["attention"]["maps"]
    assert len(heat["rows"]) == 50 and len(heat["cols"]) == 50  # the book's 50 test queries x 50 training keys
    check_map(heat)


def test_kernel_regression_data_is_the_books_leave_one_out_tiling():
    from d2ltui.data.kernel import truth
    from d2ltui.data.registry import load_data

    dm = load_data(from_dict({"model": {"name": "nadaraya-watson"}, "data": {"name": "kernel-regression"}}).data,
                   "regression")
    q, keys, values, y = dm.train
    assert q.shape == (50, 1) and keys.shape == (50, 49) and values.shape == (50, 49)
    x = q.reshape(-1)
    assert torch.all(x[1:] >= x[:-1]) and 0 <= float(x.min()) and float(x.max()) < 5
    assert torch.equal(keys[3], torch.cat([x[:3], x[4:]]))  # query 3's keys: every other training point
    vq, vkeys, _, vy = dm.val
    assert torch.allclose(vq.reshape(-1), torch.arange(0, 5, 0.1)) and torch.equal(vkeys[0], x)
    assert torch.allclose(vy.reshape(-1), 2 * torch.sin(vq.reshape(-1)) + vq.reshape(-1) ** 0.8)
    assert torch.allclose(truth(torch.tensor([1.0])), torch.tensor([2 * math.sin(1.0) + 1.0]))


def test_the_inspector_shows_attention_weight_shapes_and_their_matmul_flops():
    """Per multi-head layer on a 1x10 source (32 wide, 4 heads of 8): four 32x32 projections of 10 tokens,
    then Q K^T and weights V, each 4 heads x 10 x 10 x 8 multiply-adds (2 FLOPs each)."""
    from d2ltui.inspector.summary import summarize

    summary = summarize("transformer", None, ((1, 10), (1, 10)), depth=5)
    rows = {r.name: r for r in summary.layers}
    mha, inner = rows["encoder.blks.0.attention"], rows["encoder.blks.0.attention.attention"]
    assert mha.attention_shape == (1, 4, 10, 10) and inner.attention_shape == (1, 4, 10, 10)
    matmuls = 2 * (2 * 4 * 10 * 10 * 8)
    assert inner.flops == matmuls and mha.flops == 4 * (2 * 10 * 32 * 32) + matmuls
    assert rows["decoder.blks.0.attention2"].attention_shape == (1, 4, 10, 10)
    assert summary.to_dict()["layers"][[r.name for r in summary.layers].index("encoder.blks.0.attention")][
        "attention_shape"] == [1, 4, 10, 10]
    assert rows["encoder.blks.0.ffn"].attention_shape is None
