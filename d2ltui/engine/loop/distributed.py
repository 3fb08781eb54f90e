"""Data-parallel training on torch.distributed: process group from torchrun's env, DDP, sharding, reductions."""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from d2ltui.errors import UserError


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job; a single process is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device | None = None  # None: the config's device decides (single process)
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """Global rank 0: the only process that writes the run directory and prints progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        raise UserError(f"environment variable {name}={raw!r} is not a number") from None


def dist_setup(device: str | None = None) -> DistInfo:
    """Join the job torchrun started (RANK, WORLD_SIZE, LOCAL_RANK); a no-op for one process.

    nccl with one GPU per local rank when CUDA is there (and `device` is not 'cpu'), else gloo.
    """
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        return DistInfo()
    rank, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    use_cuda = torch.cuda.is_available() and not (device or "").startswith(("cpu", "mps"))
    if use_cuda:
        if local >= torch.cuda.device_count():
            raise UserError(f"local rank {local} has no GPU: {torch.cuda.device_count()} visible; "
                            f"use --nproc {torch.cuda.device_count()} or fewer")
        torch.cuda.set_device(local)
        dev, backend = torch.device("cuda", local), "nccl"
    else:
        dev, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        kwargs: dict[str, Any] = {"device_id": dev} if backend == "nccl" else {}
        dist.init_process_group(backend=backend, rank=rank, world_size=world, **kwargs)
    return DistInfo(rank=rank, world_size=world, local_rank=local, device=dev, backend=backend)


def wrap_model(model: nn.Module, info: DistInfo) -> nn.Module:
    """DistributedDataParallel over all ranks (weights broadcast from rank 0), or the model itself."""
    if not info.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [info.device.index] if info.device is not None and info.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def shard_indices(perm: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """This rank's part of an epoch's shuffled index: every rank gets the same count.

    Ranks take every world_size-th entry; when the length does not divide, the index is
    padded by wrapping around (as torch's DistributedSampler does), so each sample is seen.
    """
    if not info.distributed:
        return perm
    n, world = len(perm), info.world_size
    per = -(-n // world)
    if per * world != n:
        reps = -(-(per * world) // n)
        perm = perm.repeat(reps)[: per * world]
    return perm[info.rank :: world]


def reduce_mean(values: dict[str, float], info: DistInfo) -> dict[str, float]:
    """The mean of each value over all ranks (every rank gets the result); unchanged for one process."""
    if not info.distributed or not values:
        return dict(values)
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=_comm_device(info))
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return {k: v / info.world_size for k, v in zip(keys, t.tolist())}


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True on every rank when `flag` is true on any (so all ranks stop at the same step)."""
    if not info.distributed:
        return bool(flag)
    t = torch.tensor([1.0 if flag else 0.0], device=_comm_device(info))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def any_ranks(flags: tuple[bool, ...], info: DistInfo) -> tuple[bool, ...]:
    """`any_rank` for several flags in one collective (e.g. stop and pause, polled every step)."""
    if not info.distributed:
        return tuple(bool(f) for f in flags)
    t = torch.tensor([1.0 if f else 0.0 for f in flags], device=_comm_device(info))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return tuple(bool(v > 0) for v in t.tolist())


def broadcast_object(obj: Any, info: DistInfo, src: int = 0) -> Any:
    """Rank `src`'s `obj` on every rank (e.g. a checkpoint only rank 0 can read)."""
    if not info.distributed:
        return obj
    box = [obj if info.rank == src else None]
    dist.broadcast_object_list(box, src=src, device=_comm_device(info))
    return box[0]


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier(device_ids=[info.device.index]) if info.backend == "nccl" else dist.barrier()


def dist_teardown(info: DistInfo) -> None:
    """Leave the process group (safe to call twice or for one process).

    Collects unreachable DDP wrappers first: a reducer still alive at interpreter shutdown
    can make gloo's threads abort the process after a run that finished well.
    """
    if info.distributed and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def _comm_device(info: DistInfo) -> torch.device:
    return info.device if info.backend == "nccl" and info.device is not None else torch.device("cpu")
