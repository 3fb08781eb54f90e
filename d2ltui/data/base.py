"""The DataModule contract between datasets and the trainer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

Batch = tuple[torch.Tensor, ...]


def identity(batch: Batch, train: bool) -> Batch:
    return batch


@dataclass
class DataModule:
    """A dataset held whole as tensors.

    `train` and `val` are tuples of equal-length tensors, inputs first and target last:
    - regression / classification: (X, y)      X float (N, F) or images uint8/float (N, C, H, W)
    - language-model:               (X, Y)      int64 (N, num_steps), Y is X shifted by one
    - seq2seq:                      (src, tgt)  int64 (N, steps), padded with PAD=0, tgt ends in EOS=2
    - detection:                    (X, Y)      images uint8 (N, 3, H, W); Y float (N, objects, 5) rows of
                                    (class, xmin, ymin, xmax, ymax) in [0, 1], padded with class -1
    `prepare(batch, train)` runs per batch on the device: dtype, resize, augmentation, normalisation.
    `model_knobs` are the knobs the data fixes (num_classes, in_channels, in_features,
    vocab_size, src_vocab, tgt_vocab); `input_shape` is one example's model input shape.
    """

    name: str
    task: str
    train: Batch
    val: Batch
    input_shape: tuple[tuple[int, ...], ...]
    model_knobs: dict[str, Any] = field(default_factory=dict)
    prepare: Callable[[Batch, bool], Batch] = identity
    classes: list[str] = field(default_factory=list)  # class labels (classification)
    vocab: list[str] = field(default_factory=list)  # id -> token (language-model; seq2seq target)
    src_vocab: list[str] = field(default_factory=list)  # id -> token (seq2seq source)
    info: dict[str, Any] = field(default_factory=dict)  # e.g. true_w/true_b, imputation report

    def to(self, device: torch.device | str) -> "DataModule":
        self.train = tuple(t.to(device) for t in self.train)
        self.val = tuple(t.to(device) for t in self.val)
        return self

    @property
    def num_train(self) -> int:
        return len(self.train[0])
