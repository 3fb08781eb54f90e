"""Attention weights as heatmaps for samples.json: queries x keys with token labels, bounded and rounded.

A heatmap is a plain dict with the fields of a lab's Heatmap panel (title, matrix, rows, cols,
masked, xlabel, ylabel) plus where it comes from (sample, group, layer, head). Rows are
queries, columns keys; each row is a softmax over the keys, so it sums to 1 up to the rounding
to DECIMALS places; `masked` lists the [row, col] cells a mask zeroed (the decoder's causal mask).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from d2ltui.zoo.build import BOS, PAD
from d2ltui.zoo.nadaraya import NWKernelRegression
from d2ltui.zoo.seq2seq import EncoderDecoder, Seq2SeqAttentionDecoder
from d2ltui.zoo.transformer import TransformerDecoder, TransformerEncoder, ViT

DECIMALS = 3  # three places: a row of up to MAX_TOKENS weights still sums to 1 within 0.016
MAX_SAMPLES = 3  # samples whose attention is kept
MAX_TOKENS = 32  # queries and keys kept per map (a longer sequence is cut, and says so in its title)
MAX_HEADS = 8  # heads kept per layer


def rounded(matrix: torch.Tensor) -> list[list[float]]:
    return [[round(v, DECIMALS) for v in row] for row in matrix.float().cpu().tolist()]


def heatmap(matrix: torch.Tensor, rows: list[str], cols: list[str], title: str, causal: bool = False,
            limit: int = MAX_TOKENS, **where: Any) -> dict[str, Any]:
    """One map: matrix (queries, keys) cut to `limit` each way; with `causal`, the cells above the
    diagonal (keys after the query, which the decoder's mask removed) are listed in `masked`."""
    q, k = min(matrix.shape[0], limit), min(matrix.shape[1], limit)
    cut = " (cut)" if (q, k) != tuple(matrix.shape) else ""
    masked = [[r, c] for r in range(q) for c in range(r + 1, k)] if causal else []
    return {"title": title + cut, "matrix": rounded(matrix[:q, :k]), "rows": rows[:q], "cols": cols[:k],
            "masked": masked, "xlabel": "keys", "ylabel": "queries", **where}


def tokens(ids: list[int], vocab: list[str]) -> list[str]:
    return [vocab[i] if 0 <= i < len(vocab) else str(i) for i in ids]


@torch.no_grad()
def seq2seq_maps(model: nn.Module, src: torch.Tensor, preds: list[list[int]], src_vocab: list[str],
                 tgt_vocab: list[str]) -> list[dict[str, Any]]:
    """Heatmaps of a seq2seq model's attention for each of the first MAX_SAMPLES sources and their
    greedy predictions (the decoder re-run once on <bos> + prediction): Bahdanau's decoder steps x
    source tokens, or a Transformer's encoder self-, decoder self- and cross-attention per layer and head.
    Models without attention give []."""
    if not isinstance(model, EncoderDecoder) or not isinstance(
            model.decoder, (Seq2SeqAttentionDecoder, TransformerDecoder)):
        return []
    was_training = model.training
    model.eval()
    maps: list[dict[str, Any]] = []
    try:
        for n, (row, pred) in enumerate(zip(src[:MAX_SAMPLES], preds)):
            valid = int((row != PAD).sum())
            src_row = row[:valid][None]  # no padding: every key is a real token (or <eos>)
            dec_in = torch.tensor([[BOS, *pred]], device=src.device)
            produced = model(src_row, dec_in)[0].argmax(-1).tolist()  # the token each decoder step emits
            src_labels = tokens(src_row[0].tolist(), src_vocab)
            dec_labels = tokens(dec_in[0].tolist(), tgt_vocab)
            out_labels = tokens(produced, tgt_vocab)
            maps.extend(_model_maps(model, n, src_labels, dec_labels, out_labels))
    finally:
        model.train(was_training)
    return maps


def _model_maps(model: EncoderDecoder, n: int, src_labels, dec_labels, out_labels) -> list[dict[str, Any]]:
    decoder = model.decoder
    if isinstance(decoder, Seq2SeqAttentionDecoder):  # one (1, 1, keys) weight per decoder step
        weights = torch.cat([w[0] for w in decoder.attention_weights], 0)  # (steps, keys)
        return [heatmap(weights, out_labels, src_labels, f"sample {n + 1}: decoder steps x source tokens",
                        sample=n, group="decoder attention", layer=0, head=0)]
    maps = []
    groups = []
    if isinstance(model.encoder, TransformerEncoder):
        groups += [("encoder self-attention", blk.attention, src_labels, src_labels, False, i)
                  for i, blk in enumerate(model.encoder.blks)]
        groups += [("decoder self-attention", blk.attention1, dec_labels, dec_labels, True, i)
                   for i, blk in enumerate(decoder.blks)]
        groups += [("decoder cross-attention", blk.attention2, out_labels, src_labels, False, i)
                   for i, blk in enumerate(decoder.blks)]
    for group, mha, rows, cols, causal, layer in groups:
        weights = head_weights(mha)[0]  # (heads, queries, keys) of the one example
        for head in range(min(len(weights), MAX_HEADS)):
            maps.append(heatmap(weights[head], rows, cols, f"sample {n + 1}: {group}, layer {layer + 1}, "
                                f"head {head + 1}", sample=n, group=group, layer=layer, head=head, causal=causal))
    return maps


def head_weights(mha: nn.Module) -> torch.Tensor:
    """A MultiHeadAttention's last weights as (batch, heads, queries, keys)."""
    w = mha.attention.attention_weights
    return w.reshape(-1, mha.num_heads, w.shape[-2], w.shape[-1])


@torch.no_grad()
def vit_maps(model: nn.Module, count: int = MAX_SAMPLES) -> dict[str, Any] | None:
    """The class token's attention to [cls] + every patch, per layer and head, for the first `count`
    images of the model's last forward pass; `grid` is the patches' (rows, cols) for an overlay."""
    if not isinstance(model, ViT) or not len(model.blks):
        return None
    tokens_n = model.pos_embedding.weight.shape[1]
    side = int(round((tokens_n - 1) ** 0.5))
    cols = ["cls", *(f"p{i}" for i in range(tokens_n - 1))]
    maps = []
    for layer, blk in enumerate(model.blks):
        weights = head_weights(blk.attention)[:count, :MAX_HEADS, :1]  # (images, heads, 1, tokens)
        for n, per_image in enumerate(weights):
            for head, row in enumerate(per_image):
                maps.append({"title": f"image {n + 1}: class token, layer {layer + 1}, head {head + 1}",
                             "matrix": rounded(row), "rows": ["cls"], "cols": cols, "masked": [],
                             "xlabel": "keys (cls, then patches row by row)", "ylabel": "query",
                             "sample": n, "group": "class token attention", "layer": layer, "head": head})
    return {"grid": [side, (tokens_n - 1) // max(side, 1)], "maps": maps}


@torch.no_grad()
def kernel_regression(model: nn.Module, val: tuple[torch.Tensor, ...]) -> dict[str, Any] | None:
    """For a Nadaraya-Watson model: its learned w and Gaussian width, the fitted curve against the
    truth on the val queries, and the queries x training keys attention heatmap (None for other models)."""
    if not isinstance(model, NWKernelRegression):
        return None
    queries, keys, values, y = val
    predicted = model(queries, keys, values).reshape(-1)
    x = queries.reshape(-1).tolist()
    title = f"test queries x training keys, width {model.width:.3f}"
    return {"kind": "nadaraya-watson", "w": round(float(model.w), 5), "width": round(model.width, 5),
            "curve": {"x": [round(v, 3) for v in x], "truth": [round(v, 4) for v in y.reshape(-1).tolist()],
                      "predicted": [round(v, 4) for v in predicted.tolist()]},
            "attention": {"maps": [heatmap(model.attention_weights, [f"{q:.1f}" for q in x],
                                           [f"{k:.2f}" for k in keys[0].tolist()], title, limit=len(x) + len(keys[0]),
                                           sample=0, group="attention pooling", layer=0, head=0)]}}
