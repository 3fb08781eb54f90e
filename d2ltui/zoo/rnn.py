"""Recurrent language models the book's way: one-hot characters, an RNN/GRU/LSTM, a dense output."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class OneHot(nn.Module):
    """Token ids (steps, batch) -> one-hot float vectors (steps, batch, vocab_size), as in section 9.5."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.vocab_size = vocab_size

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return F.one_hot(X, self.vocab_size).float()

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}"


CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class RNNLM(nn.Module):
    """A character language model: one-hot input, a (deep, bidirectional) recurrent layer, dense output.

    forward(X) takes ids (batch, num_steps) and returns logits (batch, num_steps, vocab_size).
    Dropout acts between stacked layers (inside the recurrent layer) and on the recurrent
    outputs before the output layer, so it is honoured with a single layer too.
    """

    def __init__(self, cell: str, vocab_size: int, num_hiddens: int, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0):
        super().__init__()
        self.vocab_size = vocab_size
        self.one_hot = OneHot(vocab_size)
        self.rnn = CELLS[cell](vocab_size, num_hiddens, num_layers,
                               dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(num_hiddens * (2 if bidirectional else 1), vocab_size)

    def step(self, X: torch.Tensor, state=None):
        """Ids (batch, steps) and an optional state -> (logits (batch, steps, vocab), new state)."""
        embs = self.one_hot(X.T)  # (steps, batch, vocab)
        outputs, state = self.rnn(embs, state)  # (steps, batch, hiddens * directions)
        return self.linear(self.dropout(outputs)).swapaxes(0, 1), state

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.step(X)[0]

    @torch.no_grad()
    def predict(self, prefix_ids: list[int], num_preds: int) -> list[int]:
        """Greedy continuation: the prefix followed by num_preds predicted ids (dropout off)."""
        if not prefix_ids:
            raise ValueError("predict needs a non-empty prefix")
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        try:
            ids = list(prefix_ids)
            if self.rnn.bidirectional:  # a backward direction sees the whole prefix: re-run it each time
                for _ in range(num_preds):
                    logits = self(torch.tensor([ids], device=device))
                    ids.append(int(logits[0, -1].argmax()))
                return ids
            logits, state = self.step(torch.tensor([ids], device=device))  # warm up on the prefix
            for i in range(num_preds):
                ids.append(int(logits[0, -1].argmax()))
                if i + 1 < num_preds:
                    logits, state = self.step(torch.tensor([[ids[-1]]], device=device), state)
            return ids
        finally:
            self.train(was_training)


def rnn_lm(vocab_size: int = 28, num_hiddens: int = 32, num_layers: int = 1, bidirectional: bool = False,
           dropout: float = 0.0) -> RNNLM:
    """RNN language model (section 9.6)."""
    return RNNLM("rnn", vocab_size, num_hiddens, num_layers, bidirectional, dropout)


def gru_lm(vocab_size: int = 28, num_hiddens: int = 32, num_layers: int = 1, bidirectional: bool = False,
           dropout: float = 0.0) -> RNNLM:
    """GRU language model (Cho et al., 2014; section 10.2)."""
    return RNNLM("gru", vocab_size, num_hiddens, num_layers, bidirectional, dropout)


def lstm_lm(vocab_size: int = 28, num_hiddens: int = 32, num_layers: int = 1, bidirectional: bool = False,
            dropout: float = 0.0) -> RNNLM:
    """LSTM language model (Hochreiter & Schmidhuber, 1997; section 10.1)."""
    return RNNLM("lstm", vocab_size, num_hiddens, num_layers, bidirectional, dropout)
