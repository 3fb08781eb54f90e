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


def class_index(dm, item) -> int:
    """A class of the data by index (an int or a string of digits) or by name."""
    names = list(dm.classes)
    index = int(item) if isinstance(item, int) or str(item).isdigit() else (names.index(item) if item in names else -1)
    count = len(names) or int(dm.model_knobs.get("num_classes", 0))
    if not 0 <= index < count:
        raise UserError(f"data.classes: {item!r} is not a class of {dm.name} "
                        f"(0..{count - 1}{': ' + ', '.join(names) if names else ''})")
    return index


def keep_classes(dm, classes: list):
    """Only the examples of `classes`, relabelled 0.. in the order given (data.classes)."""
    if dm.task != "classification":
        raise UserError(f"data.classes: keeps classes of classification data, not {dm.task}")
    keep = [class_index(dm, c) for c in classes]
    if len(set(keep)) != len(keep):
        raise UserError(f"data.classes: {classes!r} names a class twice")
    count = max(len(dm.classes), int(dm.model_knobs.get("num_classes", 0)), max(keep) + 1)
    relabel = torch.full((count,), -1, dtype=torch.long)
    relabel[torch.tensor(keep)] = torch.arange(len(keep))

    def part(tensors):
        y = tensors[-1]
        new = relabel.to(y.device)[y]
        mask = new >= 0
        return (*(t[mask] for t in tensors[:-1]), new[mask])

    dm.train, dm.val = part(dm.train), part(dm.val)
    if len(dm.train[0]) < 1 or len(dm.val[0]) < 1:
        raise UserError(f"data.classes: no examples of {classes!r} in {dm.name}'s train or val split")
    dm.classes = [dm.classes[i] if i < len(dm.classes) else str(i) for i in keep]
    dm.model_knobs["num_classes"] = len(keep)
    dm.info["classes_kept"] = keep
    return dm
