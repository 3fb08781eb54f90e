"""The book's masked softmax (section 11.3) on random (2, 2, 4) scores, with the valid lengths as a knob."""

from __future__ import annotations

import torch

from d2ltui.labs.figure import Figure, Grid, Heatmap, rounded
from d2ltui.zoo.attention import masked_softmax


def book_scores(seed: int) -> torch.Tensor:
    """torch.rand(2, 2, 4) under `seed`: two examples, two queries each, four keys."""
    return torch.rand(2, 2, 4, generator=torch.Generator().manual_seed(seed))


def compute(valid_lens: tuple = (2, 3), seed: int = 0) -> Figure:
    X = book_scores(seed)
    lens = torch.tensor(valid_lens)
    weights = masked_softmax(X, lens)
    per_query = lens if lens.dim() == 2 else lens[:, None].expand(2, 2)  # (examples, queries)
    rows = [f"ex{b} q{q}" for b in range(2) for q in range(2)]
    masked = [[b * 2 + q, k] for b in range(2) for q in range(2) for k in range(4) if k >= int(per_query[b, q])]
    heat = Heatmap("weights", rounded(weights.reshape(4, 4).tolist()), rows, [f"k{k}" for k in range(4)], masked,
                   xlabel="keys", ylabel="example, query")
    scores = Grid("scores X", {f"example {b}": rounded(X[b].tolist(), 4) for b in range(2)})
    notes = [f"valid_lens {tuple(valid_lens)}: "
             + ("one length per example, repeated for each of its queries" if lens.dim() == 1
                else "one length per query")]
    return Figure("masked-softmax", {"valid_lens": valid_lens, "seed": seed}, [heat, scores], notes)
