"""Data-parallel helpers on two CPU processes (gloo), sharding, and the torchrun command line."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from d2ltui.engine.distributed import DistInfo, dist_setup, reduce_mean, shard_indices, unwrap_model, wrap_model
from d2ltui.engine.launch import torchrun_command
from d2ltui.errors import UserError


@pytest.mark.parametrize("n,world", [(10, 2), (11, 2), (7, 3), (1, 2), (64, 4), (5, 8)])
def test_shards_are_equal_and_cover_every_sample(n, world):
    perm = torch.randperm(n)
    shards = [shard_indices(perm, DistInfo(rank=r, world_size=world)) for r in range(world)]
    assert len({len(s) for s in shards}) == 1
    assert len(shards[0]) == -(-n // world)
    assert set(torch.cat(shards).tolist()) == set(perm.tolist())
    if n % world == 0:
        assert sorted(torch.cat(shards).tolist()) == sorted(perm.tolist())  # no repeats


def test_one_process_is_a_no_op(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info = dist_setup()
    assert (info.rank, info.world_size, info.is_main, info.distributed) == (0, 1, True, False)
    model = torch.nn.Linear(2, 2)
    assert wrap_model(model, info) is model and unwrap_model(model) is model
    perm = torch.arange(5)
    assert shard_indices(perm, info) is perm
    assert reduce_mean({"loss": 2.0}, info) == {"loss": 2.0}
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(UserError, match="WORLD_SIZE"):
        dist_setup()


def test_torchrun_command_lines():
    single = torchrun_command(["train", "mlp", "--nproc", "2", "--set", "train.epochs=1"], 2)
    assert single[1:] == ["-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone",
                          "-m", "d2ltui", "train", "mlp", "--set", "train.epochs=1"]
    multi = torchrun_command(["mlp", "--nnodes", "2", "--rdzv-endpoint", "h:29400", "--detach"], 4,
                             nnodes="2", rdzv_endpoint="h:29400", rdzv_id="job7")
    assert multi[3:13] == ["--nproc-per-node", "4", "--nnodes", "2", "--rdzv-backend", "c10d",
                           "--rdzv-endpoint", "h:29400", "--rdzv-id", "job7"]
    assert multi[13:] == ["-m", "d2ltui", "train", "mlp"]
    with pytest.raises(UserError, match="rdzv-endpoint"):
        torchrun_command(["mlp"], 2, nnodes="2")
    with pytest.raises(UserError, match="nproc"):
        torchrun_command(["mlp"], 0)


WORKER = textwrap.dedent("""
    import json, os, sys
    import torch
    from d2ltui.engine.distributed import (any_rank, barrier, broadcast_object, dist_setup, dist_teardown,
                                           reduce_mean, shard_indices, unwrap_model, wrap_model)
    info = dist_setup(device="cpu")
    torch.manual_seed(info.rank)  # different initial weights: DDP must broadcast rank 0's
    model = wrap_model(torch.nn.Linear(4, 1), info)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(20, 4, generator=g), torch.randn(20, 1, generator=g)
    idx = shard_indices(torch.randperm(20, generator=g), info)
    loss = torch.nn.functional.mse_loss(model(X[idx]), y[idx])
    loss.backward()
    opt.step()
    out = {"rank": info.rank, "world": info.world_size, "backend": info.backend, "idx": idx.tolist(),
           "weight": unwrap_model(model).weight.detach().tolist(),
           "mean": reduce_mean({"loss": float(info.rank + 1), "acc": 0.5}, info),
           "any": any_rank(info.rank == 1, info), "none": any_rank(False, info),
           "obj": broadcast_object({"ckpt": info.rank} if info.is_main else None, info)}
    barrier(info)
    dist_teardown(info)
    with open(os.path.join(sys.argv[1], f"rank{info.rank}.json"), "w") as f:
        json.dump(out, f)
""")


def test_two_gloo_processes_agree(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           str(script), str(tmp_path)], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert (r0["world"], r0["backend"], r1["rank"]) == (2, "gloo", 1)
    assert sorted(r0["idx"] + r1["idx"]) == list(range(20)) and len(r0["idx"]) == len(r1["idx"]) == 10
    assert r0["weight"] == r1["weight"]  # same start (broadcast) and averaged gradients
    assert r0["mean"] == r1["mean"] == {"acc": 0.5, "loss": 1.5}
    assert r0["any"] is r1["any"] is True and r0["none"] is r1["none"] is False
    assert r0["obj"] == r1["obj"] == {"ckpt": 0}
    torch.manual_seed(0)  # rank 0's start, one full-batch step in one process
    model = torch.nn.Linear(4, 1)
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(20, 4, generator=g), torch.randn(20, 1, generator=g)
    torch.nn.functional.mse_loss(model(X), y).backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert torch.allclose(torch.tensor(r0["weight"]), model.weight.detach(), atol=1e-6)
