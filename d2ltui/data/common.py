"""Helpers the loaders share: seeded generators, split sizes, shuffled splits, vocabularies."""

from __future__ import annotations

from collections import Counter
from typing import Iterable

import torch

from d2ltui.errors import UserError


def generator(seed: int, salt: int = 0) -> torch.Generator:
    """A CPU generator fixed by the data seed (salt separates independent streams)."""
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + salt)


def sizes(cfg, default_train: int, default_val: int) -> tuple[int, int]:
    """(num_train, num_val) from the config, 0 meaning the dataset's default."""
    return cfg.num_train or default_train, cfg.num_val or default_val


def split(tensors: tuple[torch.Tensor, ...], num_train: int, num_val: int, seed: int,
          shuffle: bool = True) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """Train and val parts of equal-length tensors, shuffled by the seed, capped to what exists."""
    n = len(tensors[0])
    if n < 2:
        raise UserError(f"data: only {n} example(s), need at least 2 to split train and val")
    num_val = min(num_val, max(1, n // 5)) if num_train + num_val > n else num_val
    num_train = min(num_train, n - num_val)
    order = torch.randperm(n, generator=generator(seed, 7)) if shuffle else torch.arange(n)
    tr, va = order[:num_train], order[num_train:num_train + num_val]
    return tuple(t[tr] for t in tensors), tuple(t[va] for t in tensors)


def build_vocab(tokens: Iterable[str], reserved: list[str], min_freq: int = 1) -> list[str]:
    """id -> token: the reserved tokens first, then the others with count >= min_freq, sorted."""
    counts = Counter(tokens)
    rest = sorted(t for t, c in counts.items() if c >= min_freq and t not in reserved)
    return list(reserved) + rest
