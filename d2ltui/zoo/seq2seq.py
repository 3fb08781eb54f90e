"""RNN encoder-decoders the book's way: a GRU encoder, a GRU decoder, optionally Bahdanau attention."""

from __future__ import annotations

import torch
from torch import nn

from d2ltui.zoo.attention import AdditiveAttention
from d2ltui.zoo.build import BOS, EOS, PAD


class EncoderDecoder(nn.Module):
    """An encoder and a decoder (section 10.6): forward(src, tgt_in) -> logits (batch, tgt_steps, tgt_vocab).

    Source valid lengths are counted from `src != PAD`, so padding never reaches the output.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        valid_lens = (src != PAD).sum(dim=1)
        state = self.decoder.init_state(self.encoder(src, valid_lens), valid_lens)
        return self.decoder(tgt_in, state)[0]

    @torch.no_grad()
    def predict(self, src: torch.Tensor, max_len: int) -> list[int]:
        """Greedy decoding of one source (1, steps) from BOS; the ids before EOS, at most max_len."""
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        try:
            src = src.to(device)
            valid_lens = (src != PAD).sum(dim=1)
            enc_outputs = self.encoder(src, valid_lens)
            tgt = [BOS]
            for _ in range(max_len):  # the decoder is causal: re-running it on the longer target is exact
                state = self.decoder.init_state(enc_outputs, valid_lens)
                logits = self.decoder(torch.tensor([tgt], device=device), state)[0]
                token = int(logits[0, -1].argmax())
                if token == EOS:
                    break
                tgt.append(token)
            return tgt[1:]
        finally:
            self.train(was_training)


class StackedGRU(nn.Module):
    """GRU layers stacked with dropout between them, returning each layer's state after the valid steps.

    Parameter-for-parameter the same as nn.GRU(num_layers=...); running the layers one by
    one lets the final state of every layer be taken at the last non-padding step.
    """

    def __init__(self, input_size: int, num_hiddens: int, num_layers: int, dropout: float = 0.0):
        super().__init__()
        self.num_layers = num_layers
        for i in range(num_layers):  # gru0, gru1, ...: direct children, so a layer table lists each one
            self.add_module(f"gru{i}", nn.GRU(input_size if i == 0 else num_hiddens, num_hiddens))
        self.dropout = nn.Dropout(dropout)

    def forward(self, X: torch.Tensor, valid_lens: torch.Tensor | None = None):
        """X (steps, batch, input) -> outputs (steps, batch, hiddens), state (layers, batch, hiddens)."""
        states = []
        for i in range(self.num_layers):
            if i:
                X = self.dropout(X)
            X, _ = getattr(self, f"gru{i}")(X)
            if valid_lens is None:
                states.append(X[-1])
            else:  # the output at step valid_len - 1 is the state after the last real token
                last = (valid_lens - 1).clamp(min=0)[None, :, None].expand(1, X.shape[1], X.shape[2])
                states.append(X.gather(0, last)[0])
        return X, torch.stack(states)


class Seq2SeqEncoder(nn.Module):
    """Embedding, dropout and stacked GRUs over the source (section 10.7)."""

    def __init__(self, vocab_size: int, embed_size: int, num_hiddens: int, num_layers: int, dropout: float = 0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.dropout = nn.Dropout(dropout)
        self.rnn = StackedGRU(embed_size, num_hiddens, num_layers, dropout)

    def forward(self, X: torch.Tensor, valid_lens: torch.Tensor | None = None):
        """Ids (batch, steps) -> outputs (steps, batch, hiddens), state (layers, batch, hiddens)."""
        embs = self.dropout(self.embedding(X.T))  # (steps, batch, embed)
        return self.rnn(embs, valid_lens)


class Seq2SeqDecoder(nn.Module):
    """A GRU decoder fed the target embedding and the encoder's final top-layer state as context."""

    def __init__(self, vocab_size: int, embed_size: int, num_hiddens: int, num_layers: int, dropout: float = 0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers,
                          dropout=dropout if num_layers > 1 else 0.0)
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_all_outputs, enc_valid_lens=None):
        _, enc_state = enc_all_outputs
        return enc_state[-1], enc_state  # (context, hidden state)

    def forward(self, X: torch.Tensor, state):
        """Ids (batch, steps) -> logits (batch, steps, vocab), (context, new hidden state)."""
        context, hidden = state
        embs = self.dropout(self.embedding(X.T))  # (steps, batch, embed)
        context_steps = context.unsqueeze(0).expand(embs.shape[0], -1, -1)
        outputs, hidden = self.rnn(torch.cat((embs, context_steps), dim=-1), hidden)
        return self.dense(outputs).swapaxes(0, 1), (context, hidden)


class Seq2SeqAttentionDecoder(nn.Module):
    """A GRU decoder that attends (additively) over the encoder outputs at every step (section 11.4)."""

    def __init__(self, vocab_size: int, embed_size: int, num_hiddens: int, num_layers: int, dropout: float = 0.0):
        super().__init__()
        self.attention = AdditiveAttention(num_hiddens, num_hiddens, num_hiddens, dropout)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers,
                          dropout=dropout if num_layers > 1 else 0.0)
        self.dense = nn.Linear(num_hiddens, vocab_size)
        self.attention_weights: list[torch.Tensor] = []

    def init_state(self, enc_all_outputs, enc_valid_lens=None):
        outputs, hidden = enc_all_outputs
        return outputs.permute(1, 0, 2), hidden, enc_valid_lens  # enc outputs as (batch, steps, hiddens)

    def forward(self, X: torch.Tensor, state):
        enc_outputs, hidden, enc_valid_lens = state
        embs = self.dropout(self.embedding(X.T))  # (steps, batch, embed)
        outputs, self.attention_weights = [], []
        for x in embs:
            query = hidden[-1].unsqueeze(1)  # (batch, 1, hiddens)
            context = self.attention(query, enc_outputs, enc_outputs, enc_valid_lens)  # (batch, 1, hiddens)
            x = torch.cat((context, x.unsqueeze(1)), dim=-1)
            out, hidden = self.rnn(x.permute(1, 0, 2), hidden)
            outputs.append(out)
            self.attention_weights.append(self.attention.attention_weights)
        outputs = self.dense(torch.cat(outputs, dim=0))  # (steps, batch, vocab)
        return outputs.swapaxes(0, 1), (enc_outputs, hidden, enc_valid_lens)


def seq2seq(src_vocab: int = 10, tgt_vocab: int = 10, embed_size: int = 8, num_hiddens: int = 16,
            num_layers: int = 2, dropout: float = 0.0) -> EncoderDecoder:
    """RNN encoder-decoder (Sutskever et al., 2014; section 10.7)."""
    return EncoderDecoder(Seq2SeqEncoder(src_vocab, embed_size, num_hiddens, num_layers, dropout),
                          Seq2SeqDecoder(tgt_vocab, embed_size, num_hiddens, num_layers, dropout))


def seq2seq_attention(src_vocab: int = 10, tgt_vocab: int = 10, embed_size: int = 8, num_hiddens: int = 16,
                      num_layers: int = 2, dropout: float = 0.0) -> EncoderDecoder:
    """Encoder-decoder with Bahdanau attention (Bahdanau et al., 2014; section 11.4)."""
    return EncoderDecoder(Seq2SeqEncoder(src_vocab, embed_size, num_hiddens, num_layers, dropout),
                          Seq2SeqAttentionDecoder(tgt_vocab, embed_size, num_hiddens, num_layers, dropout))
