"""Data-parallel helpers on two CPU processes (gloo), sharding, and the torchrun command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from fault_helpers import CHILD_ENV, TINY, cli, curve, group_pids, spawn, wait_for_step

from d2ltui.rundir.checkpoint import load_checkpoint
from d2ltui.engine.loop.distributed import DistInfo, dist_setup, reduce_mean, shard_indices, wrap_model
from d2ltui.engine.launching.processes import Processes
from d2ltui.engine.launching.torchrun import torchrun_command
from d2ltui.rundir.store import read_json
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
    assert wrap_model(model, info) is model
    perm = torch.arange(5)
    assert shard_indices(perm, info) is perm
    assert reduce_mean({"loss": 2.0}, info) == {"loss": 2.0}
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(UserError, match="WORLD_SIZE"):
        dist_setup()


def test_torchrun_command_lines(tmp_path):
    single = torchrun_command(tmp_path / "r", False, True, Processes(2))
    assert single[1:] == ["-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone",
                          "-m", "d2ltui.engine.job", str(tmp_path / "r"), "--plain"]
    multi = torchrun_command(tmp_path / "r", True, False, Processes(4, "2", "h:29400", "job7"))
    assert multi[3:13] == ["--nproc-per-node", "4", "--nnodes", "2", "--rdzv-backend", "c10d",
                           "--rdzv-endpoint", "h:29400", "--rdzv-id", "job7"]
    assert multi[13:] == ["-m", "d2ltui.engine.job", str(tmp_path / "r"), "--resume"]  # the workers run the job alone
    with pytest.raises(UserError, match="rdzv-endpoint"):
        torchrun_command(tmp_path, False, False, Processes(2, nnodes="2"))
    with pytest.raises(UserError, match="nproc"):
        torchrun_command(tmp_path, False, False, Processes(0))


WORKER = textwrap.dedent("""
    import json, os, sys
    import torch
    from d2ltui.engine.loop.distributed import (any_rank, any_ranks, barrier, broadcast_object, dist_setup, dist_teardown,
                                           reduce_mean, shard_indices, wrap_model)
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
           "weight": model.module.weight.detach().tolist(),
           "mean": reduce_mean({"loss": float(info.rank + 1), "acc": 0.5}, info),
           "any": any_rank(info.rank == 1, info), "none": any_rank(False, info),
           "flags": any_ranks((info.rank == 0, False, True), info),
           "obj": broadcast_object({"ckpt": info.rank} if info.is_main else None, info)}
    barrier(info)
    del model, opt
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
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert (r0["world"], r0["backend"], r1["rank"]) == (2, "gloo", 1)
    assert sorted(r0["idx"] + r1["idx"]) == list(range(20)) and len(r0["idx"]) == len(r1["idx"]) == 10
    assert r0["weight"] == r1["weight"]  # same start (broadcast) and averaged gradients
    assert r0["mean"] == r1["mean"] == {"acc": 0.5, "loss": 1.5}
    assert r0["any"] is r1["any"] is True and r0["none"] is r1["none"] is False
    assert r0["obj"] == r1["obj"] == {"ckpt": 0}
    assert r0["flags"] == r1["flags"] == [True, False, True]
    torch.manual_seed(0)  # rank 0's start, one full-batch step in one process
    model = torch.nn.Linear(4, 1)
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(20, 4, generator=g), torch.randn(20, 1, generator=g)
    torch.nn.functional.mse_loss(model(X), y).backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert torch.allclose(torch.tensor(r0["weight"]), model.weight.detach(), atol=1e-6)


# -- whole jobs: `torchrun ... -m d2ltui train` and `d2l-tui train --nproc 2` on two CPU processes ----------

NO_DROPOUT = [a.replace("dropout=0.2", "dropout=0.0") for a in TINY]


def _proc_children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except OSError:
                continue
    return out


def _wait_state(run, state: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (status := read_json(run / "status.json")) and status["state"] == state:
            return status
        time.sleep(0.02)
    raise TimeoutError(f"{run.name} never became {state}")


def _dead(pid: int) -> bool:
    """Gone, or a zombie (exited; nothing left holding memory or a device)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


@pytest.mark.slow
def test_torchrun_job_writes_one_run_with_reduced_metrics(tmp_path):
    """Two ranks of batch 16 see the same samples per step as one process of batch 32: same curve."""
    runs = tmp_path / "runs"
    args = [*NO_DROPOUT, "--set", "train.epochs=2", "--runs-dir", str(runs), "--run-id", "ddp"]
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "-m", "d2ltui", "train", *args], env=CHILD_ENV, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[-1500:]
    assert proc.stdout.count("finished at step 64") == 1  # only rank 0 reports
    assert [p.name for p in runs.iterdir()] == ["ddp"]
    status = read_json(runs / "ddp" / "status.json")
    assert (status["state"], status["world_size"], status["steps_per_epoch"]) == ("finished", 2, 32)

    code, out, err = cli("train", *[a.replace("batch_size=16", "batch_size=32") for a in NO_DROPOUT],
                         "--set", "train.epochs=2", "--runs-dir", str(tmp_path / "one"), "--run-id", "one")
    assert code == 0, out + err
    ddp, one = curve(runs / "ddp"), curve(tmp_path / "one" / "one")
    assert [r[:3] for r in ddp] == [r[:3] for r in one] and len(ddp) == 66
    for a, b in zip(ddp, one):  # the logged loss and accuracy are the mean over both ranks
        assert a[3] == pytest.approx(b[3], rel=1e-4, abs=1e-6) and a[4] == pytest.approx(b[4], abs=1e-6)
    wa = torch.load(runs / "ddp" / "checkpoint.pt", weights_only=True)["model"]
    wb = torch.load(tmp_path / "one" / "one" / "checkpoint.pt", weights_only=True)["model"]
    for key in wa:
        assert torch.allclose(wa[key], wb[key], atol=1e-5), key


@pytest.mark.slow
def test_pausing_then_stopping_a_two_process_job_leaves_no_process_behind(tmp_path):
    args = [*TINY, "--set", "train.epochs=30", "--set", "train.checkpoint_every=10", "--runs-dir", str(tmp_path),
            "--run-id", "job", "--nproc", "2"]
    launcher = spawn("train", *args, log=tmp_path / "launcher.log")
    try:
        assert wait_for_step(launcher, tmp_path / "job", 20) is not None, (tmp_path / "launcher.log").read_text()
        (torchrun,) = _proc_children(launcher.pid)
        workers = _proc_children(torchrun)  # torchrun starts each worker in a session of its own
        members = [torchrun, *workers]
        assert len(workers) == 2 and all(os.getsid(w) == w for w in workers), workers
        rank0 = read_json(tmp_path / "job" / "status.json")["pid"]
        assert rank0 in workers
        os.kill(rank0, signal.SIGUSR1)  # a view pauses the job through rank 0: every rank waits
        paused = _wait_state(tmp_path / "job", "paused")
        os.kill(rank0, signal.SIGUSR2)
        assert wait_for_step(launcher, tmp_path / "job", paused["step"] + 3) is not None
        launcher.send_signal(signal.SIGTERM)
        code = launcher.wait(timeout=90)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert code == 128 + signal.SIGTERM
    log = (tmp_path / "launcher.log").read_text()
    assert "Traceback" not in log and "stopped: stopped at step" in log
    assert all(group_pids(pid) == [] for pid in members) and all(_dead(pid) for pid in members)
    status = read_json(tmp_path / "job" / "status.json")
    assert status["state"] == "stopped", (tmp_path / "launcher.log").read_text()[-2000:]
    assert load_checkpoint(tmp_path / "job" / "checkpoint.pt")["step"] == status["step"] < 30 * 32

    code, out, err = cli("train", "--resume", "job", "--set", "train.epochs=3", "--runs-dir", str(tmp_path),
                         "--nproc", "2")
    assert code == 0, out + err
    assert read_json(tmp_path / "job" / "status.json")["state"] == "finished"
    steps = [r[0] for r in curve(tmp_path / "job") if r[2] == "train"]
    assert steps == list(range(1, 3 * 32 + 1)) if status["step"] < 96 else steps[-1] == status["step"]


def test_process_tree_kills_a_stubborn_orphan_in_its_own_session(tmp_path):
    """A worker that ignores SIGTERM, in a session of its own, orphaned when its parent dies, is still killed."""
    from d2ltui.engine.launching.torchrun import ProcessTree

    pidfile = tmp_path / "worker.pid"
    code = ("import os, signal, subprocess, sys, time\n"
            "w = subprocess.Popen([sys.executable, '-c', 'import signal, time; "
            "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)'], start_new_session=True)\n"
            f"open({str(pidfile)!r}, 'w').write(str(w.pid))\n"
            "time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        for _ in range(400):
            if pidfile.exists() and pidfile.read_text():
                break
            time.sleep(0.02)
        worker = int(pidfile.read_text())
        tree = ProcessTree(parent.pid)
        assert list(tree.known) == [worker]
        parent.kill()
        parent.wait()
        assert not _dead(worker)  # orphaned, alive, and not in the parent's group
        tree.finish(grace=0.3)
        for _ in range(100):
            if _dead(worker):
                break
            time.sleep(0.02)
        assert _dead(worker)
    finally:
        if parent.poll() is None:
            parent.kill()


TORCHRUN_STDERR = """\
W1127 08:47:10.829000 9307 site-packages/torch/distributed/elastic/agent/server/api.py:753] Received 15 death signal
d2l-tui: error: a worker's own one-line error
Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "/x/torch/distributed/run.py", line 1129, in run
    elastic_launch(
torch.distributed.elastic.multiprocessing.errors.ChildFailedError: 
============================================================
d2ltui FAILED
------------------------------------------------------------
Failures:
[1]:
  rank      : 1 (local_rank: 1)
  exitcode  : -9 (pid: 26703)
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  rank      : 0 (local_rank: 0)
  exitcode  : 2 (pid: 26702)
============================================================
Traceback (most recent call last):
  File "/x/d2ltui/engine/trainer.py", line 1, in fit
ValueError: a worker's real crash
"""


def test_torchrun_noise_is_condensed_and_worker_output_kept():
    import io

    from d2ltui.engine.launching.torchrun import TorchrunFilter

    out = io.StringIO()
    quiet = TorchrunFilter(io.BytesIO(TORCHRUN_STDERR.encode()), out)
    quiet.run()
    assert out.getvalue() == ("d2l-tui: error: a worker's own one-line error\n"
                              "Traceback (most recent call last):\n"
                              '  File "/x/d2ltui/engine/trainer.py", line 1, in fit\n'
                              "ValueError: a worker's real crash\n")
    assert quiet.failures == [("1", "-9"), ("0", "2")]
