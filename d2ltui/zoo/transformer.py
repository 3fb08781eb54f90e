"""Transformers the book's way: the encoder-decoder of section 11.7 and the Vision Transformer of 11.8."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin

from d2ltui.zoo.attention import MultiHeadAttention, PositionalEncoding
from d2ltui.zoo.seq2seq import EncoderDecoder


class BlockStack(nn.ModuleList):
    """Blocks applied in turn, each given the running X and the same extra arguments (masks, memory)."""

    def forward(self, X, *args):
        for blk in self:
            X = blk(X, *args)
        return X


class PositionWiseFFN(nn.Module):
    """The same two-layer MLP applied at every position."""

    def __init__(self, num_hiddens: int, ffn_num_hiddens: int):
        super().__init__()
        self.dense1 = nn.Linear(num_hiddens, ffn_num_hiddens)
        self.relu = nn.ReLU()
        self.dense2 = nn.Linear(ffn_num_hiddens, num_hiddens)

    def forward(self, X):
        return self.dense2(self.relu(self.dense1(X)))


class AddNorm(nn.Module):
    """Residual connection followed by layer normalisation: LayerNorm(X + dropout(Y))."""

    def __init__(self, num_hiddens: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.ln = nn.LayerNorm(num_hiddens)

    def forward(self, X, Y):
        return self.ln(self.dropout(Y) + X)


class TransformerEncoderBlock(nn.Module):
    """Multi-head self-attention and a position-wise FFN, each wrapped in AddNorm; keeps the shape."""

    def __init__(self, num_hiddens: int, ffn_num_hiddens: int, num_heads: int, dropout: float, use_bias=False):
        super().__init__()
        self.attention = MultiHeadAttention(num_hiddens, num_heads, dropout, use_bias)
        self.addnorm1 = AddNorm(num_hiddens, dropout)
        self.ffn = PositionWiseFFN(num_hiddens, ffn_num_hiddens)
        self.addnorm2 = AddNorm(num_hiddens, dropout)

    def forward(self, X, valid_lens=None):
        Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))
        return self.addnorm2(Y, self.ffn(Y))


class TransformerEncoder(nn.Module):
    """Scaled embedding plus positions, then num_blks encoder blocks: ids (batch, steps) -> (batch, steps, hiddens)."""

    def __init__(self, vocab_size: int, num_hiddens: int, ffn_num_hiddens: int, num_heads: int, num_blks: int,
                 dropout: float, use_bias=False):
        super().__init__()
        self.num_hiddens = num_hiddens
        self.embedding = nn.Embedding(vocab_size, num_hiddens)
        self.pos_encoding = PositionalEncoding(num_hiddens, dropout)
        self.blks = BlockStack(TransformerEncoderBlock(num_hiddens, ffn_num_hiddens, num_heads, dropout, use_bias)
                               for _ in range(num_blks))

    def forward(self, X, valid_lens=None):
        X = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))
        return self.blks(X, valid_lens)


class TransformerDecoderBlock(nn.Module):
    """Causal self-attention, attention over the encoder outputs, and an FFN, each with AddNorm."""

    def __init__(self, num_hiddens: int, ffn_num_hiddens: int, num_heads: int, dropout: float):
        super().__init__()
        self.attention1 = MultiHeadAttention(num_hiddens, num_heads, dropout)
        self.addnorm1 = AddNorm(num_hiddens, dropout)
        self.attention2 = MultiHeadAttention(num_hiddens, num_heads, dropout)
        self.addnorm2 = AddNorm(num_hiddens, dropout)
        self.ffn = PositionWiseFFN(num_hiddens, ffn_num_hiddens)
        self.addnorm3 = AddNorm(num_hiddens, dropout)

    def forward(self, X, enc_outputs, enc_valid_lens=None):
        batch, steps = X.shape[0], X.shape[1]
        # position t attends to positions 0..t, in training and in decoding alike (the whole target is re-run)
        dec_valid_lens = torch.arange(1, steps + 1, device=X.device).expand(batch, steps)
        Y = self.addnorm1(X, self.attention1(X, X, X, dec_valid_lens))
        Z = self.addnorm2(Y, self.attention2(Y, enc_outputs, enc_outputs, enc_valid_lens))
        return self.addnorm3(Z, self.ffn(Z))


class TransformerDecoder(nn.Module):
    """Scaled embedding plus positions, num_blks decoder blocks, and a dense layer to the vocabulary."""

    def __init__(self, vocab_size: int, num_hiddens: int, ffn_num_hiddens: int, num_heads: int, num_blks: int,
                 dropout: float):
        super().__init__()
        self.num_hiddens = num_hiddens
        self.embedding = nn.Embedding(vocab_size, num_hiddens)
        self.pos_encoding = PositionalEncoding(num_hiddens, dropout)
        self.blks = BlockStack(TransformerDecoderBlock(num_hiddens, ffn_num_hiddens, num_heads, dropout)
                               for _ in range(num_blks))
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_outputs, enc_valid_lens=None):
        return enc_outputs, enc_valid_lens

    def forward(self, X, state):
        enc_outputs, enc_valid_lens = state
        X = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))
        return self.dense(self.blks(X, enc_outputs, enc_valid_lens)), state


def transformer(src_vocab: int = 10, tgt_vocab: int = 10, num_hiddens: int = 32, ffn_num_hiddens: int = 64,
                num_heads: int = 4, num_blks: int = 2, dropout: float = 0.2) -> EncoderDecoder:
    """Transformer encoder-decoder (Vaswani et al., 2017; section 11.7)."""
    return EncoderDecoder(
        TransformerEncoder(src_vocab, num_hiddens, ffn_num_hiddens, num_heads, num_blks, dropout),
        TransformerDecoder(tgt_vocab, num_hiddens, ffn_num_hiddens, num_heads, num_blks, dropout))


class PatchEmbedding(nn.Module):
    """Non-overlapping patches as tokens: a strided conv, (batch, C, H, W) -> (batch, patches, hiddens)."""

    def __init__(self, in_channels: int, patch_size: int, num_hiddens: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, num_hiddens, kernel_size=patch_size, stride=patch_size)

    def forward(self, X):
        return self.conv(X).flatten(2).transpose(1, 2)


class PositionEmbedding(LazyModuleMixin, nn.Module):
    """A learnable position embedding added to the tokens, sized by the first input it sees.

    The number of tokens depends on the image size, which is not a knob: the first forward
    pass (build_model's materialisation) fixes it; a later input of another length is refused.
    """

    def __init__(self, num_hiddens: int):
        super().__init__()
        self.num_hiddens = num_hiddens
        self.weight = nn.UninitializedParameter()

    def initialize_parameters(self, X) -> None:
        if self.has_uninitialized_params():
            with torch.no_grad():
                self.weight.materialize((1, X.shape[1], self.num_hiddens))
                nn.init.normal_(self.weight, std=0.02)

    def forward(self, X):
        if X.shape[1] != self.weight.shape[1]:
            raise ValueError(f"position embedding holds {self.weight.shape[1]} tokens (1 class token + patches), "
                             f"got {X.shape[1]}: build the model for this image size")
        return X + self.weight


class ViTMLP(nn.Module):
    """The ViT block's MLP: dense, GELU, dropout, dense, dropout."""

    def __init__(self, num_hiddens: int, mlp_num_hiddens: int, dropout: float):
        super().__init__()
        self.dense1 = nn.Linear(num_hiddens, mlp_num_hiddens)
        self.gelu = nn.GELU()
        self.dropout1 = nn.Dropout(dropout)
        self.dense2 = nn.Linear(mlp_num_hiddens, num_hiddens)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, X):
        return self.dropout2(self.dense2(self.dropout1(self.gelu(self.dense1(X)))))


class ViTBlock(nn.Module):
    """Pre-norm Transformer encoder block: X + MHA(LN(X)), then X + MLP(LN(X))."""

    def __init__(self, num_hiddens: int, mlp_num_hiddens: int, num_heads: int, dropout: float, use_bias=False):
        super().__init__()
        self.ln1 = nn.LayerNorm(num_hiddens)
        self.attention = MultiHeadAttention(num_hiddens, num_heads, dropout, use_bias)
        self.ln2 = nn.LayerNorm(num_hiddens)
        self.mlp = ViTMLP(num_hiddens, mlp_num_hiddens, dropout)

    def forward(self, X, valid_lens=None):
        Y = self.ln1(X)
        X = X + self.attention(Y, Y, Y, valid_lens)
        return X + self.mlp(self.ln2(X))


class ViT(nn.Module):
    """Vision Transformer: patch tokens and a class token, ViT blocks, a head on the class token."""

    def __init__(self, num_classes: int, in_channels: int, patch_size: int, num_hiddens: int, mlp_num_hiddens: int,
                 num_heads: int, num_blks: int, dropout: float, use_bias=False):
        super().__init__()
        self.patch_embedding = PatchEmbedding(in_channels, patch_size, num_hiddens)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, num_hiddens))
        self.pos_embedding = PositionEmbedding(num_hiddens)
        self.dropout = nn.Dropout(dropout)
        self.blks = nn.Sequential(*(ViTBlock(num_hiddens, mlp_num_hiddens, num_heads, dropout, use_bias)
                                    for _ in range(num_blks)))
        self.head = nn.Sequential(nn.LayerNorm(num_hiddens), nn.Linear(num_hiddens, num_classes))

    def forward(self, X):
        X = self.patch_embedding(X)  # (batch, patches, hiddens)
        X = torch.cat((self.cls_token.expand(X.shape[0], -1, -1), X), dim=1)
        X = self.dropout(self.pos_embedding(X))
        X = self.blks(X)
        return self.head(X[:, 0])  # (batch, num_classes)


def vit(num_classes: int = 10, in_channels: int = 1, patch_size: int = 16, num_hiddens: int = 512,
        mlp_num_hiddens: int = 2048, num_heads: int = 8, num_blks: int = 2, dropout: float = 0.1) -> ViT:
    """Vision Transformer (Dosovitskiy et al., 2021; section 11.8)."""
    return ViT(num_classes, in_channels, patch_size, num_hiddens, mlp_num_hiddens, num_heads, num_blks, dropout)
