"""Attention scoring the book's way: masked softmax, additive, dot-product and multi-head attention, positions."""

from __future__ import annotations

import math

import torch
from torch import nn

from d2ltui.errors import UserError


def masked_softmax(X: torch.Tensor, valid_lens: torch.Tensor | None) -> torch.Tensor:
    """Softmax over the last axis of X (batch, queries, keys) keeping only the first valid_lens keys.

    valid_lens is None (no mask), (batch,) (one length per example) or (batch, queries)
    (one length per query, e.g. the decoder's causal mask). Built from torch ops only, so it
    runs on the meta device; a masked score becomes a very large negative number, not -inf,
    so a fully masked row stays finite.
    """
    if valid_lens is None:
        return nn.functional.softmax(X, dim=-1)
    lens = valid_lens[:, None, None] if valid_lens.dim() == 1 else valid_lens[:, :, None]
    keep = torch.arange(X.shape[-1], device=X.device)[None, None, :] < lens  # (batch, 1 or queries, keys)
    fill = -1e6 if torch.finfo(X.dtype).max > 1e6 else torch.finfo(X.dtype).min
    return nn.functional.softmax(X.masked_fill(~keep, fill), dim=-1)


class AdditiveAttention(nn.Module):
    """Bahdanau's additive scoring: w_v^T tanh(W_q q + W_k k), section 11.3."""

    def __init__(self, key_size: int, query_size: int, num_hiddens: int, dropout: float = 0.0):
        super().__init__()
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.attention_weights: torch.Tensor | None = None

    def forward(self, queries, keys, values, valid_lens=None):
        queries, keys = self.W_q(queries), self.W_k(keys)
        # (batch, queries, 1, hiddens) + (batch, 1, keys, hiddens) -> (batch, queries, keys, hiddens)
        features = torch.tanh(queries.unsqueeze(2) + keys.unsqueeze(1))
        scores = self.w_v(features).squeeze(-1)  # (batch, queries, keys)
        weights = masked_softmax(scores, valid_lens)
        self.attention_weights = weights.detach()
        return torch.bmm(self.dropout(weights), values)  # (batch, queries, value_dim)


class DotProductAttention(nn.Module):
    """Scaled dot-product scoring: softmax(Q K^T / sqrt(d)) V, section 11.3."""

    def __init__(self, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.attention_weights: torch.Tensor | None = None

    def forward(self, queries, keys, values, valid_lens=None):
        d = queries.shape[-1]
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)  # (batch, queries, keys)
        weights = masked_softmax(scores, valid_lens)
        self.attention_weights = weights.detach()
        return torch.bmm(self.dropout(weights), values)


class MultiHeadAttention(nn.Module):
    """num_heads dot-product attentions in parallel on learned projections, concatenated (section 11.5)."""

    def __init__(self, num_hiddens: int, num_heads: int, dropout: float = 0.0, bias: bool = False,
                 query_size: int | None = None, key_size: int | None = None, value_size: int | None = None):
        super().__init__()
        if num_hiddens % num_heads:
            raise UserError(f"knob num_heads: {num_heads} heads do not divide num_hiddens {num_hiddens}")
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.Linear(query_size or num_hiddens, num_hiddens, bias=bias)
        self.W_k = nn.Linear(key_size or num_hiddens, num_hiddens, bias=bias)
        self.W_v = nn.Linear(value_size or num_hiddens, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    def transpose_qkv(self, X: torch.Tensor) -> torch.Tensor:
        """(batch, steps, hiddens) -> (batch * heads, steps, hiddens / heads)."""
        X = X.reshape(X.shape[0], X.shape[1], self.num_heads, -1).permute(0, 2, 1, 3)
        return X.reshape(-1, X.shape[2], X.shape[3])

    def transpose_output(self, X: torch.Tensor) -> torch.Tensor:
        """(batch * heads, steps, hiddens / heads) -> (batch, steps, hiddens)."""
        X = X.reshape(-1, self.num_heads, X.shape[1], X.shape[2]).permute(0, 2, 1, 3)
        return X.reshape(X.shape[0], X.shape[1], -1)

    def forward(self, queries, keys, values, valid_lens=None):
        queries = self.transpose_qkv(self.W_q(queries))
        keys = self.transpose_qkv(self.W_k(keys))
        values = self.transpose_qkv(self.W_v(values))
        if valid_lens is not None:  # one copy per head, head index fastest as in transpose_qkv
            valid_lens = torch.repeat_interleave(valid_lens, repeats=self.num_heads, dim=0)
        output = self.attention(queries, keys, values, valid_lens)
        return self.W_o(self.transpose_output(output))  # (batch, queries, num_hiddens)


class PositionalEncoding(nn.Module):
    """Fixed sinusoidal positions added to the input, then dropout (section 11.6)."""

    def __init__(self, num_hiddens: int, dropout: float = 0.0):
        super().__init__()
        self.num_hiddens = num_hiddens
        self.dropout = nn.Dropout(dropout)

    def encoding(self, num_steps: int, device=None, dtype=torch.float32) -> torch.Tensor:
        """P of shape (1, num_steps, num_hiddens): sin on even columns, cos on odd ones."""
        pos = torch.arange(num_steps, dtype=torch.float32, device=device)[:, None]
        freq = torch.pow(10000, torch.arange(0, self.num_hiddens, 2, dtype=torch.float32, device=device)
                         / self.num_hiddens)
        angles = pos / freq  # (steps, ceil(hiddens / 2))
        P = torch.stack((torch.sin(angles), torch.cos(angles)), dim=-1).reshape(num_steps, -1)
        return P[None, :, :self.num_hiddens].to(dtype)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.dropout(X + self.encoding(X.shape[1], X.device, X.dtype))
