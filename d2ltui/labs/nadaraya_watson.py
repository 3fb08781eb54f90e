"""Nadaraya-Watson attention pooling (section 11.2): the book's data, four kernels, a width knob."""

from __future__ import annotations

import torch

from d2ltui.labs.figure import Curves, Figure, Heatmap, rounded

NUM_TRAIN = 40


def truth(x: torch.Tensor) -> torch.Tensor:
    """The book's f(x) = 2 sin(x) + x."""
    return 2 * torch.sin(x) + x


def book_data(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x_train: 40 sorted uniform draws in [0, 5); y_train = f(x) + N(0, 1) noise; x_test = 0, 0.1, ..., 4.9."""
    gen = torch.Generator().manual_seed(seed)
    x_train, _ = torch.sort(torch.rand(NUM_TRAIN, generator=gen) * 5)
    y_train = truth(x_train) + torch.randn(NUM_TRAIN, generator=gen)
    return x_train, y_train, torch.arange(0, 5, 0.1)


def kernel_values(kernel: str, dists: torch.Tensor, width: float) -> torch.Tensor:
    """alpha(q, k) of the distances q - k scaled by `width` (the book's kernels at width 1)."""
    u = dists / width
    if kernel == "gaussian":
        return torch.exp(-u**2 / 2)
    if kernel == "boxcar":
        return (u.abs() < 1.0).to(dists.dtype)
    if kernel == "constant":
        return torch.ones_like(u)
    if kernel == "epanechikov":
        return torch.clamp(1 - u.abs(), min=0.0)
    raise ValueError(f"unknown kernel {kernel!r}")


def pool(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, kernel: str, width: float):
    """Attention weights (queries, keys), normalised over the keys, and the pooled estimates y_hat.

    A query with no key inside the kernel (boxcar or Epanechikov, narrow width) has all-zero
    weights and an undefined estimate (NaN) rather than the book's 0/0.
    """
    alpha = kernel_values(kernel, x_test[:, None] - x_train[None, :], width)  # (queries, keys)
    total = alpha.sum(dim=1, keepdim=True)
    weights = torch.where(total > 0, alpha / total.clamp_min(1e-30), torch.zeros_like(alpha))
    y_hat = torch.where(total[:, 0] > 0, weights @ y_train, torch.full_like(total[:, 0], float("nan")))
    return weights, y_hat


def compute(kernel: str = "gaussian", width: float = 0.5, seed: int = 0) -> Figure:
    x_train, y_train, x_test = book_data(seed)
    weights, y_hat = pool(x_train, y_train, x_test, kernel, width)
    uncovered = int(torch.isnan(y_hat).sum())
    notes = [f"{kernel} kernel, width {width}: mean squared error against the truth "
             f"{float(torch.nanmean((y_hat - truth(x_test)) ** 2)):.3f}"]
    if uncovered:
        notes.append(f"{uncovered} of {len(x_test)} queries have no key within the width (no estimate)")
    curves = Curves("fit", rounded(x_test.tolist()),
                    {"truth": rounded(truth(x_test).tolist()), "estimate": rounded(y_hat.tolist())},
                    {"train": {"x": rounded(x_train.tolist()), "y": rounded(y_train.tolist())}},
                    xlabel="x", ylabel="y")
    heat = Heatmap("attention weights", rounded(weights.tolist()),
                   rows=[f"{q:.1f}" for q in x_test.tolist()], cols=[f"{k:.2f}" for k in x_train.tolist()],
                   xlabel="keys x_i", ylabel="queries")
    return Figure("nadaraya-watson", {"kernel": kernel, "width": width, "seed": seed}, [curves, heat], notes)
