"""Nadaraya-Watson kernel regression with a learnable Gaussian width (the book's earlier edition, section 10.2)."""

from __future__ import annotations

import torch
from torch import nn


class GaussianPooling(nn.Module):
    """Attention pooling sum_i softmax_i(-((q - k_i) w)^2 / 2) v_i with one learned w (width 1 / |w|).

    forward(queries (batch, 1), keys (batch, n), values (batch, n)) -> (batch, 1); `attention_weights`
    keeps the last (batch, n) weights.
    """

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.rand(1))
        self.attention_weights: torch.Tensor | None = None

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        scores = -((queries.reshape(-1, 1) - keys) * self.w) ** 2 / 2  # (batch, n) by broadcasting
        weights = nn.functional.softmax(scores, dim=1)
        self.attention_weights = weights.detach()
        return torch.bmm(weights.unsqueeze(1), values.unsqueeze(-1)).reshape(-1, 1)


class NWKernelRegression(nn.Module):
    """Nadaraya-Watson regression: Gaussian attention pooling of the training values, its width learned."""

    def __init__(self) -> None:
        super().__init__()
        self.attention = GaussianPooling()

    @property
    def w(self) -> nn.Parameter:
        return self.attention.w

    @property
    def attention_weights(self) -> torch.Tensor | None:
        return self.attention.attention_weights

    @property
    def width(self) -> float:
        return 1.0 / max(abs(float(self.w)), 1e-12)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        return self.attention(queries, keys, values)


def nadaraya_watson() -> NWKernelRegression:
    """Nadaraya-Watson kernel regression (Nadaraya, 1964; Watson, 1964) with a learned width."""
    return NWKernelRegression()
