"""K-fold cross-validation splits of a DataModule, as the book's k_fold_data cuts them."""

from __future__ import annotations

import dataclasses

import torch

from d2ltui.data.base import DataModule
from d2ltui.errors import UserError


def fold_indices(n: int, i: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, val) row indices of fold i of k: rows i*s..(i+1)*s validate (s = n // k), the rest train."""
    size = n // k
    if size < 1 or n - size < 1:
        raise UserError(f"data.folds: {k} folds need at least {k + 1} examples, the data has {n}")
    rows = torch.arange(n)
    val = (rows >= i * size) & (rows < (i + 1) * size)
    return rows[~val], rows[val]


def fold_data(data: DataModule, i: int, k: int) -> DataModule:
    """The DataModule of fold i of k over every example of `data` (its train split, then its val split)."""
    whole = tuple(torch.cat([a, b]) for a, b in zip(data.train, data.val))
    train, val = fold_indices(len(whole[0]), i, k)
    return dataclasses.replace(data, train=tuple(t[train.to(t.device)] for t in whole),
                               val=tuple(t[val.to(t.device)] for t in whole),
                               info={**data.info, "fold": i + 1, "folds": k})
