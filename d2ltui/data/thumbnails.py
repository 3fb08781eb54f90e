"""Images as small JSON-friendly grids for the views: grey values in [0, 1], or '#rrggbb' cells in colour."""

from __future__ import annotations

import torch
import torch.nn.functional as F

Grid = list[list[float]] | list[list[str]]


def thumbnails(X: torch.Tensor, side: int = 28, stretch: bool = True) -> list[Grid]:
    """Images (N, C, H, W) as side x side (or smaller) grids: 1 channel gives rows of values in [0, 1] (2
    decimals), 3 channels rows of '#rrggbb' strings. With `stretch` each image is scaled to its own range
    (normalised inputs), else values are clamped to [0, 1]."""
    X = X.detach().float().cpu()
    if X.shape[1] not in (1, 3):
        X = X.mean(1, keepdim=True)
    if X.shape[-1] > side or X.shape[-2] > side:
        X = F.adaptive_avg_pool2d(X, (min(side, X.shape[-2]), min(side, X.shape[-1])))
    if stretch:
        lo, hi = X.amin((1, 2, 3), keepdim=True), X.amax((1, 2, 3), keepdim=True)
        X = (X - lo) / (hi - lo).clamp_min(1e-6)
    X = X.clamp(0, 1)
    if X.shape[1] == 1:
        return [[[round(v, 2) for v in row] for row in image] for image in X.squeeze(1).tolist()]
    levels = (X * 255).round().to(torch.int64).permute(0, 2, 3, 1)  # N, H, W, 3
    return [[["#%02x%02x%02x" % tuple(px) for px in row] for row in image] for image in levels.tolist()]
