"""Batches of a dataset held whole on the device: a seeded shuffled order per epoch, sliced per step."""

from __future__ import annotations

from typing import Callable

import torch

from d2ltui.data.base import Batch, DataModule


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Batches per epoch: the last partial batch is kept unless it would hold a single example."""
    full, rest = divmod(n, batch_size)
    return max(1, full + (1 if rest > 1 or full == 0 else 0))


class DatasetBatches:
    """The default source of a task's training batches: `order` draws an epoch's permutation from the
    loop's generator, `start` fixes it (this rank's shard), `get(b)` is batch b of the epoch, prepared."""

    def __init__(self, data: DataModule, batch_size: int, shard: Callable[[torch.Tensor], torch.Tensor],
                 device: torch.device, channels_last: bool = False) -> None:
        self.data, self.batch_size, self.shard, self.device = data, batch_size, shard, device
        self.channels_last = channels_last
        self.steps_per_epoch = steps_per_epoch(len(shard(torch.arange(data.num_train))), batch_size)
        self.index: torch.Tensor | None = None

    def order(self, generator: torch.Generator) -> torch.Tensor:
        return torch.randperm(self.data.num_train, generator=generator)

    def start(self, order: torch.Tensor) -> None:
        self.index = self.shard(order).to(self.device)

    def get(self, b: int) -> Batch:
        bs = self.batch_size
        idx = self.index[b * bs:(b + 1) * bs]
        rows = tuple(t.index_select(0, idx) for t in self.data.train)  # whole-row copies: faster than t[idx]
        batch = self.data.prepare(rows, True)
        if self.channels_last:
            batch = (batch[0].contiguous(memory_format=torch.channels_last), *batch[1:])
        return batch
