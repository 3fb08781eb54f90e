"""Gaussian process regression (section 18.3): the book's data, an RBF kernel, prior samples, the posterior.

Closed form with torch in float64: the posterior mean and variance of the noise-free function, and on request
the hyperparameters that maximise the marginal likelihood (L-BFGS from torch.optim on their logarithms).
"""

from __future__ import annotations

import math

import torch

from d2ltui.data.shapes import one_thread
from d2ltui.labs.figure import Curves, Figure, Table, rounded

NOISE = 0.25  # the book's noise standard deviation
NUM_TRAIN, NUM_TEST = 50, 500


def truth(x: torch.Tensor) -> torch.Tensor:
    """The book's noise-free function sin x + sin(4x) / 2."""
    return torch.sin(x) + 0.5 * torch.sin(4 * x)


def book_data(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """50 training points on linspace(0, 5) with N(0, 0.25^2) noise, and 500 test points on linspace(0, 5)."""
    x = torch.linspace(0, 5, NUM_TRAIN, dtype=torch.float64)
    noise = torch.randn(NUM_TRAIN, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x, truth(x) + NOISE * noise, torch.linspace(0, 5, NUM_TEST, dtype=torch.float64)


def rbf(a: torch.Tensor, b: torch.Tensor, length_scale, amplitude) -> torch.Tensor:
    """k(x, x') = amplitude^2 exp(-(x - x')^2 / (2 length_scale^2)) (the book's d2l.rbfkernel at amplitude 1)."""
    return amplitude**2 * torch.exp(-((a[:, None] - b[None, :]) ** 2) / (2 * length_scale**2))


def posterior(x, y, x_star, length_scale, amplitude, noise) -> tuple[torch.Tensor, torch.Tensor]:
    """The posterior mean and covariance of f at x_star given y = f(x) + N(0, noise^2)."""
    k = rbf(x, x, length_scale, amplitude) + noise**2 * torch.eye(len(x), dtype=x.dtype)
    k_star = rbf(x, x_star, length_scale, amplitude)
    chol = torch.linalg.cholesky(k)
    mean = k_star.T @ torch.cholesky_solve(y[:, None], chol)[:, 0]
    cov = rbf(x_star, x_star, length_scale, amplitude) - k_star.T @ torch.cholesky_solve(k_star, chol)
    return mean, cov


def log_marginal_likelihood(x, y, length_scale, amplitude, noise) -> torch.Tensor:
    """log p(y | X) = -y^T (K + noise^2 I)^-1 y / 2 - log|K + noise^2 I| / 2 - n log(2 pi) / 2."""
    k = rbf(x, x, length_scale, amplitude) + noise**2 * torch.eye(len(x), dtype=x.dtype)
    chol = torch.linalg.cholesky(k)
    fit = (y[:, None] * torch.cholesky_solve(y[:, None], chol)).sum()
    return -0.5 * fit - torch.log(torch.diagonal(chol)).sum() - 0.5 * len(x) * math.log(2 * math.pi)


def fit_hypers(x, y, length_scale, amplitude, noise, which: str) -> tuple[float, float, float]:
    """Maximise the marginal likelihood over the length-scale and noise (the book), or all three ("all")."""
    logs = torch.tensor([length_scale, amplitude, noise], dtype=torch.float64).log().requires_grad_()
    free = torch.tensor([1.0, 1.0 if which == "all" else 0.0, 1.0], dtype=torch.float64)
    fixed = logs.detach().clone()
    optimizer = torch.optim.LBFGS([logs], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        values = (free * logs + (1 - free) * fixed).clamp(-6, 4).exp()
        loss = -log_marginal_likelihood(x, y, *values)
        loss.backward()
        return loss
    optimizer.step(closure)
    values = (free * logs + (1 - free) * fixed).clamp(-6, 4).exp()
    return tuple(float(v) for v in values.detach())  # type: ignore[return-value]


def prior_samples(x_star, length_scale, amplitude, count: int, seed: int) -> torch.Tensor:
    """`count` draws of f at x_star from the zero-mean prior (a jitter of 1e-6 on the diagonal, as the book advises)."""
    k = rbf(x_star, x_star, length_scale, amplitude)
    jitter = 1e-6 * amplitude**2
    chol, info = torch.linalg.cholesky_ex(k + jitter * torch.eye(len(x_star), dtype=k.dtype))
    while int(info):
        jitter *= 10
        chol, info = torch.linalg.cholesky_ex(k + jitter * torch.eye(len(x_star), dtype=k.dtype))
    z = torch.randn(len(x_star), count, generator=torch.Generator().manual_seed(seed + 1), dtype=k.dtype)
    return (chol @ z).T


def compute(length_scale: float = 0.2, amplitude: float = 1.0, noise: float = NOISE, fit: str = "none",
            samples: int = 5, seed: int = 0) -> Figure:
    knobs = {"length_scale": length_scale, "amplitude": amplitude, "noise": noise, "fit": fit, "samples": samples,
             "seed": seed}
    with one_thread():  # small matrices: a busy CPU's thread pool costs more than it gives
        return _figure(knobs, length_scale, amplitude, noise, fit, samples, seed)


def _figure(knobs, length_scale, amplitude, noise, fit, samples, seed) -> Figure:
    x, y, x_star = book_data(seed)
    notes = [f"RBF kernel, length-scale {length_scale:g}, amplitude {amplitude:g}, noise {noise:g}: log marginal "
             f"likelihood {float(log_marginal_likelihood(x, y, length_scale, amplitude, noise)):.3f}"]
    if fit != "none":
        length_scale, amplitude, noise = fit_hypers(x, y, length_scale, amplitude, noise, fit)
        notes.append(f"the marginal-likelihood optimum: length-scale {length_scale:.3f}, amplitude {amplitude:.3f}, "
                     f"noise {noise:.3f}: log marginal likelihood "
                     f"{float(log_marginal_likelihood(x, y, length_scale, amplitude, noise)):.3f}")
    mean, cov = posterior(x, y, x_star, length_scale, amplitude, noise)
    sd = torch.diagonal(cov).clamp_min(0).sqrt()
    draws = prior_samples(x_star, length_scale, amplitude, samples, seed)
    xs = rounded(x_star.tolist(), 4)
    prior = Curves("prior samples", xs, {f"sample {i + 1}": rounded(d.tolist(), 4) for i, d in enumerate(draws)}
                   | {"+2 sd": [round(2 * amplitude, 4)] * len(xs), "-2 sd": [round(-2 * amplitude, 4)] * len(xs)},
                   xlabel="x", ylabel="f(x)")
    post = Curves("posterior mean with its 95% band", xs,
                  {"truth": rounded(truth(x_star).tolist(), 4), "mean": rounded(mean.tolist(), 4),
                   "+2 sd": rounded((mean + 2 * sd).tolist(), 4), "-2 sd": rounded((mean - 2 * sd).tolist(), 4)},
                  {"data": {"x": rounded(x.tolist(), 6), "y": rounded(y.tolist(), 6)}}, xlabel="x", ylabel="y")
    inside = float(((truth(x_star) - mean).abs() <= 2 * sd).double().mean())
    notes.append(f"the band holds the true function at {inside:.0%} of the {NUM_TEST} test points")
    table = Table("hyperparameters", ["length-scale", "amplitude", "noise"],
                  [[round(length_scale, 6), round(amplitude, 6), round(noise, 6)]])
    return Figure("gaussian-process", knobs, [prior, post, table], notes)
