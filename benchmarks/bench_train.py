"""Training throughput: the engine's loop (as `d2l-tui train` runs it) vs a bare loop vs the book's DataLoader style.

Same model, data and batch size for all three, measured in one process and interleaved
(best of --repeats). Prints samples/s, the ratios the engine is held to (>= 0.95 of the
bare loop, >= 1.5x the book's style for LeNet at 28x28, batch 256, on the CPU) and the time
to the first optimizer step.

    python benchmarks/bench_train.py                       # LeNet at 28, batch 256, CPU
    python benchmarks/bench_train.py --model resnet18 --size 96 --device cuda
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from d2ltui.config import dump_toml, from_dict
from d2ltui.data.base import DataModule
from d2ltui.engine import events as ev
from d2ltui.engine.devices import resolve_device
from d2ltui.engine.rundir import RunDir
from d2ltui.engine.trainer import fit
from d2ltui.zoo.build import build_model
from d2ltui.zoo.registry import get_spec


def make_data(n: int, n_val: int, size: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    X = torch.rand(n + n_val, 1, size, size, generator=g)
    y = torch.randint(0, 10, (n + n_val,), generator=g)
    return X[:n], y[:n], X[n:], y[n:]


def build(args, device):
    spec = get_spec(args.model)
    knobs = {**spec.defaults(), "num_classes": 10, "in_channels": 1}
    model = build_model(spec, knobs, ((1, 1, args.size, args.size),), device)
    return model, torch.optim.SGD(model.parameters(), lr=args.lr)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (DataLoader workers)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def timed_loop(args, device, batches) -> tuple[float, float, float]:
    """(samples/s after the warm-up steps, samples per CPU second, seconds to the end of the first step)."""
    t0 = time.perf_counter()
    model, opt = build(args, device)
    model.train()
    first = None
    done, t_start, c_start = 0, None, None
    for i, (x, y) in enumerate(batches()):
        if i == args.warmup:
            sync(device)
            t_start, c_start, done = time.perf_counter(), cpu_seconds(), 0
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done += len(y)
        if first is None:
            sync(device)
            first = time.perf_counter() - t0
    sync(device)
    return done / (time.perf_counter() - t_start), done / (cpu_seconds() - c_start), first


def bare(args, device, data):
    X, y = data[0].to(device), data[1].to(device)

    def batches():
        for _ in range(args.epochs):
            perm = torch.randperm(len(X), device=device)
            for b in range(0, len(X), args.batch_size):
                idx = perm[b:b + args.batch_size]
                yield X[idx], y[idx]
    return timed_loop(args, device, batches)


def book(args, device, data):
    loader = DataLoader(TensorDataset(data[0], data[1]), batch_size=args.batch_size, shuffle=True,
                        num_workers=args.workers, pin_memory=device.type == "cuda", persistent_workers=False)

    def batches():
        for _ in range(args.epochs):
            yield from loader
    return timed_loop(args, device, batches)


def engine(args, device, data):
    """`fit` with the run directory written (metrics, status, checkpoints, samples), as `train` does."""
    cfg = from_dict({"model": {"name": args.model}, "data": {"name": "bench", "batch_size": args.batch_size},
                     "optim": {"name": "sgd", "lr": args.lr},
                     "train": {"epochs": args.epochs, "device": str(device), "log_every": 10}})
    dm = DataModule("bench", "classification", data[:2], data[2:], ((1, 1, args.size, args.size),),
                    {"num_classes": 10, "in_channels": 1})
    marks: list[tuple[float, float, int]] = []

    def watch(event):
        if isinstance(event, ev.Metrics) and event.record["split"] == "train":
            marks.append((time.perf_counter(), cpu_seconds(), event.record["step"]))
    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir.create(tmp, dump_toml(cfg), "bench")
        result = fit(cfg, run, [watch], data=dm)
    (t_a, c_a, s_a), (t_b, c_b, s_b) = marks[0], marks[-1]  # from the first log line (warm) to the last
    samples = (s_b - s_a) * args.batch_size
    return samples / (t_b - t_a), samples / (c_b - c_a), result.first_step_s


def cold_start(args) -> float:
    """Seconds from launching `python -m d2ltui train` to its first train metrics line (imports included)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "d2ltui", "train", args.model, "--set", "data.name=shapes",
               "--set", f"data.num_train={4 * args.batch_size}", "--set", "data.num_val=64", "--set", "train.log_every=1",
               "--set", f"data.batch_size={args.batch_size}", "--set", "train.max_steps=2", "--set", f"data.resize={args.size}",
               "--device", args.device, "--runs-dir", tmp, "--run-id", "cold", "--plain"]
        metrics = Path(tmp) / "cold" / "metrics.jsonl"
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while proc.poll() is None or metrics.exists():
                if metrics.exists() and any(json.loads(line).get("split") == "train"
                                            for line in metrics.read_text().splitlines() if line.strip()):
                    return time.perf_counter() - t0
                time.sleep(0.005)
        finally:
            proc.wait()
    return float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="lenet")
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--num-train", type=int, default=60000)  # Fashion-MNIST's size
    p.add_argument("--num-val", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data = make_data(args.num_train, args.num_val, args.size)
    build(args, device)  # pay torch's one-off imports (optimizer, dynamo) before timing anything
    print(f"{args.model} at {args.size}x{args.size}, batch {args.batch_size}, {args.num_train} samples x "
          f"{args.epochs} epochs on {device} ({torch.get_num_threads()} threads), best of {args.repeats}")
    best = {name: [0.0, 0.0, 0.0] for name in ("engine", "bare", "book")}  # wall rate, CPU rate, first step
    paired: dict[str, list[float]] = {"bare": [], "book": []}  # engine / other within one repeat
    for r in range(args.repeats):
        rates = {}
        for name, fn in (("bare", bare), ("engine", engine), ("book", book)):
            sps, per_cpu, first = fn(args, device, data)
            rates[name] = sps
            print(f"  run {r + 1} {name:<6} {sps:10,.0f} samples/s  {per_cpu:10,.0f} samples/CPU-s  "
                  f"first step {first:.3f} s", flush=True)
            best[name] = [max(best[name][0], sps), max(best[name][1], per_cpu),
                          min(best[name][2], first) if best[name][2] else first]
        for other in paired:
            paired[other].append(rates["engine"] / rates[other])
    for i, label in ((0, "samples/s (wall clock)"), (1, "samples per CPU second (all processes)")):
        e, b, k = best["engine"][i], best["bare"][i], best["book"][i]
        print(f"{label}: engine {e:,.0f} | bare loop {b:,.0f} | book style (DataLoader, {args.workers} workers) "
              f"{k:,.0f}  ->  engine/bare {e / b:.3f} (target >= 0.95), engine/book {e / k:.2f} (target >= 1.5)")
    med = {k: sorted(v)[len(v) // 2] for k, v in paired.items()}
    print(f"median of the per-repeat ratios (robust to a busy machine): engine/bare {med['bare']:.3f}, "
          f"engine/book {med['book']:.2f}")
    print("time to first step (in process, imports paid): "
          + ", ".join(f"{n} {best[n][2]:.3f} s" for n in ("engine", "bare", "book")))
    print(f"time to first step from a cold `python -m d2ltui train {args.model}` (imports, data, model): "
          f"{cold_start(args):.2f} s")


if __name__ == "__main__":
    main()
