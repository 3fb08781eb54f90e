"""Training throughput on Fashion-MNIST files: the engine vs a bare tensor loop vs the book's DataLoader style.

A full-size Fashion-MNIST (IDX files in torchvision's raw layout, random pixels) is written to a
temporary folder; all three read those same files:

- book:   torchvision.datasets.FashionMNIST(root, train=True, transform=Compose([Resize?, ToTensor()]))
          through DataLoader(dataset, batch_size, shuffle=True, num_workers=W), as the book's
          FashionMNIST data module does (a PIL image and ToTensor per sample, in worker processes);
- bare:   the same files preloaded as float tensors, a shuffled index sliced per batch, no logging;
- engine: `fit` on d2ltui's own fashion-mnist loader (data.root = the folder, download off), with
          its run directory (metrics, status, checkpoints, samples) written as `train` does.

Same model, optimizer (d2ltui's SGD from the same optim config), loss and batch size; every loop
trains --epochs epochs. Only training steps are timed, after the first --warmup steps: the
engine's rate is what its metrics report (samples_per_s of each logged window; the epoch-end
validation, checkpoint and samples fall outside those windows); the bare and book rates span
every step after the warm-up, epoch boundaries included (the book's workers restart per epoch).
Time to first step: from "files on disk" (dataset read, model built) to the end of the first
optimizer step. Repeats are interleaved; medians are reported.

    python benchmarks/bench_train.py                                  # LeNet at 28, batch 256, CPU
    python benchmarks/bench_train.py --model resnet18 --size 96 --device cuda
    python benchmarks/bench_train.py --model resnet18 --size 32 --device cuda --precision bf16-mixed --compile

With --precision and --compile the bare loop runs at the same precision (autocast; fp16 with a GradScaler)
and compiled too, channels-last on CUDA as the engine; the book's loop stays fp32. The last line,
`RESULT {...}`, holds the medians, the ratios and the engine's median MFU (where the device is in
d2ltui.devices' table) for scripts (benchmarks/gpu_check.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import warnings

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from d2ltui.rundir.writer import RunWriter
from d2ltui.config.schema import dump_toml, from_dict
from d2ltui.engine.loop import events as ev
from d2ltui.devices import resolve_device
from d2ltui.optim import make_optimizer
from d2ltui.tasks.batches import steps_per_epoch
from d2ltui.engine.loop.precision import autocast_for, grad_scaler, resolve_precision
from d2ltui.engine.loop.trainer import fit
from d2ltui.zoo.build import build_model
from d2ltui.zoo.registry import get_spec


def write_fashion_mnist(root: Path, n_train: int, n_test: int, seed: int = 0) -> None:
    """Uncompressed IDX files (big-endian header, ubyte data) in <root>/FashionMNIST/raw."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        (raw / f"{split}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x0803, n, 28, 28) + images.tobytes())
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x0801, n) + labels.tobytes())


def config(args, root: str, device) -> object:
    return from_dict({"model": {"name": args.model},
                      "data": {"name": "fashion-mnist", "root": root, "download": False,
                               "batch_size": args.batch_size, "resize": 0 if args.size == 28 else args.size},
                      "optim": {"name": "sgd", "lr": args.lr},
                      "train": {"epochs": args.epochs, "device": str(device), "log_every": args.warmup,
                                "precision": args.precision, "compile": args.compile, "layer_stats_every": 0}})


def build(args, cfg, device):
    spec = get_spec(args.model)
    knobs = {**spec.defaults(), "num_classes": 10, "in_channels": 1}
    model = build_model(spec, knobs, ((1, 1, args.size, args.size),), device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model, make_optimizer(cfg.optim, model.parameters())


def warm_up(args, cfg, device) -> None:
    """One training step before anything is timed: torch's one-off imports, thread pools, autograd start."""
    model, opt = build(args, cfg, device)
    x = torch.rand(args.batch_size, 1, args.size, args.size, device=device)
    F.cross_entropy(model(x), torch.zeros(args.batch_size, dtype=torch.long, device=device)).backward()
    opt.step()


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_loop(args, cfg, device, batches, t0: float, fp32: bool = False) -> dict:
    """Train on `batches()`; the rate over the steps after the warm-up, the rates of its windows of
    --warmup steps (as the engine logs them) and the time to the first step."""
    model, opt = build(args, cfg, device)
    model.train()
    step_model = torch.compile(model) if args.compile and not fp32 else model  # the book's loop: fp32, eager
    autocast = autocast_for("32" if fp32 else args.precision, device)
    scaler = None if fp32 else grad_scaler(args.precision, device)
    first, done, t_start, windows, mark = None, 0, None, [], (0, 0.0)
    for i, (x, y) in enumerate(batches()):
        if i >= args.warmup and (i - args.warmup) % args.warmup == 0:
            sync(device)
            now = time.perf_counter()
            if i == args.warmup:
                t_start, done = now, 0
            else:
                windows.append((done - mark[0]) / (now - mark[1]))
            mark = (done, now)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast():
            loss = F.cross_entropy(step_model(x), y)
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        done += len(y)
        if first is None:
            sync(device)
            first = time.perf_counter() - t0
    sync(device)
    rate = done / (time.perf_counter() - t_start)
    return {"rate": rate, "window": statistics.median(windows or [rate]), "samples": done, "first": first}


def bare(args, cfg, device, root) -> dict:
    t0 = time.perf_counter()
    ds = datasets.FashionMNIST(root, train=True, download=False)
    X, y = (ds.data.unsqueeze(1).float() / 255).to(device), ds.targets.to(device)
    if args.size != 28:
        X = F.interpolate(X, size=(args.size, args.size), mode="bilinear", align_corners=False)

    def batches():
        for _ in range(args.epochs):
            perm = torch.randperm(len(X), device=device)
            for b in range(0, len(X), args.batch_size):
                idx = perm[b:b + args.batch_size]
                yield X[idx], y[idx]
    return timed_loop(args, cfg, device, batches, t0)


def book(args, cfg, device, root) -> dict:
    t0 = time.perf_counter()
    trans = [transforms.ToTensor()]
    if args.size != 28:
        trans.insert(0, transforms.Resize(args.size))
    ds = datasets.FashionMNIST(root, train=True, transform=transforms.Compose(trans), download=False)
    loader = DataLoader(ds, args.batch_size, shuffle=True, num_workers=args.workers)

    def batches():
        for _ in range(args.epochs):
            yield from loader
    return timed_loop(args, cfg, device, batches, t0, fp32=True)


def engine(args, cfg, device, root) -> dict:
    """`fit` loading fashion-mnist itself; the rate from its logged windows after the first (warm-up) one."""
    records: list[dict] = []

    def watch(event):
        if isinstance(event, ev.Metrics) and event.record["split"] == "train":
            records.append(event.record)
    with tempfile.TemporaryDirectory() as tmp:
        run = RunWriter.create(tmp, dump_toml(cfg), "bench")
        result = fit(cfg, run, [watch])
    n = len(datasets.FashionMNIST(root, train=True).targets)
    spe = steps_per_epoch(n, args.batch_size)

    def samples(lo: int, hi: int) -> int:  # examples in steps lo+1..hi (the last batch of an epoch is smaller)
        return sum(min(args.batch_size, n - ((k - 1) % spe) * args.batch_size) for k in range(lo + 1, hi + 1))
    total, seconds, previous, windows = 0, 0.0, 0, []
    for i, r in enumerate(records):
        start = max(previous, (r["epoch"] - 1) * spe)  # a window starts with its epoch at the latest
        previous = r["step"]
        if i == 0:
            continue
        count = samples(start, r["step"])
        total, seconds = total + count, seconds + count / r["samples_per_s"]
        windows.append(r["samples_per_s"])
    if not windows:
        raise SystemExit("bench_train: too few steps to time the engine after its warm-up window; "
                         "raise --num-train or --epochs")
    mfu = [r["mfu"] for r in records[1:] if "mfu" in r]
    return {"rate": total / seconds, "window": statistics.median(windows), "samples": total,
            "first": result.first_step_s, "mfu": statistics.median(mfu) if mfu else None}


def cold_start(args, root: str) -> float:
    """Seconds from launching `python -m d2ltui train` to its first train metrics line (imports included)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "d2ltui", "train", args.model, "--set", "data.name=fashion-mnist",
               "--set", f"data.root={root}", "--set", "data.download=false", "--set", "train.log_every=1",
               "--set", f"data.batch_size={args.batch_size}", "--set", "train.max_steps=2",
               "--set", f"data.resize={0 if args.size == 28 else args.size}",
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
    p.add_argument("--num-train", type=int, default=60000, help="training images written (Fashion-MNIST: 60000)")
    p.add_argument("--num-test", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--workers", type=int, default=4, help="the book's DataLoader workers (its default: 4)")
    p.add_argument("--warmup", type=int, default=10, help="untimed first steps (also the engine's log_every)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--only", default="bare,engine,book", help="comma-separated subset to run")
    p.add_argument("--precision", default="32", help="train.precision of the engine and the bare loop")
    p.add_argument("--compile", action="store_true", help="torch.compile in the engine and the bare loop")
    p.add_argument("--no-cold", action="store_true", help="skip the cold-start measurement")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*worker processes in total")  # more workers than cores: as asked
    device = resolve_device(args.device)
    args.precision = resolve_precision(args.precision, device)[0]  # auto: what the engine picks here
    names = [n for n in ("bare", "engine", "book") if n in args.only.split(",")]
    with tempfile.TemporaryDirectory() as root:
        write_fashion_mnist(Path(root), args.num_train, args.num_test)
        cfg = config(args, root, device)
        warm_up(args, cfg, device)
        print(f"{args.model} at {args.size}x{args.size}, batch {args.batch_size}, Fashion-MNIST files "
              f"({args.num_train} train images, random pixels) x {args.epochs} epochs on {device} "
              f"({torch.get_num_threads()} threads, {os.cpu_count()} cores), book style with {args.workers} "
              f"workers, median of {args.repeats}; load {os.getloadavg()[0]:.2f}")
        runs: dict[str, list[dict]] = {n: [] for n in names}
        for r in range(args.repeats):
            for name in names:
                out = globals()[name](args, cfg, device, root)
                runs[name].append(out)
                print(f"  run {r + 1} {name:<6} {out['rate']:9,.0f} samples/s over {out['samples']:,} samples "
                      f"(median window {out['window']:,.0f})  "
                      f"first step {out['first']:.3f} s  (load {os.getloadavg()[0]:.2f})", flush=True)
        med = {n: {k: statistics.median(o[k] for o in runs[n]) for k in ("rate", "window", "first")} for n in names}
        print("median samples/s: " + ", ".join(f"{n} {med[n]['rate']:,.0f}" for n in names))
        print("median of the median window rates (robust to bursts of load): "
              + ", ".join(f"{n} {med[n]['window']:,.0f}" for n in names))
        print("best samples/s (the least disturbed repeat; a busy machine only slows runs down): "
              + ", ".join(f"{n} {max(o['rate'] for o in runs[n]):,.0f}" for n in names))
        for other, target in (("bare", 0.95), ("book", 1.5)):
            if "engine" in med and other in med:  # ratios within each repeat (neighbours in time), then their median
                paired = statistics.median(e["rate"] / o["rate"] for e, o in zip(runs["engine"], runs[other]))
                print(f"engine/{other} (target >= {target}): {med['engine']['rate'] / med[other]['rate']:.3f} of the "
                      f"medians, {paired:.3f} median of the per-repeat ratios, "
                      f"{med['engine']['window'] / med[other]['window']:.3f} of the window medians")
        print("median time to first step (in process, imports paid): "
              + ", ".join(f"{n} {med[n]['first']:.3f} s" for n in names))
        if not args.no_cold:
            print(f"time to first step from a cold `python -m d2ltui train {args.model}` on these files "
                  f"(imports, data, model): {cold_start(args, root):.2f} s; load {os.getloadavg()[0]:.2f}")
        result = {"model": args.model, "size": args.size, "precision": args.precision, "compile": args.compile,
                  "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                  **{f"{n}_rate": round(med[n]["rate"], 1) for n in names}}
        for other in ("bare", "book"):
            if "engine" in med and other in med:
                result[f"engine_vs_{other}"] = round(statistics.median(
                    e["rate"] / o["rate"] for e, o in zip(runs["engine"], runs[other])), 3)
        mfus = [o["mfu"] for o in runs.get("engine", []) if o.get("mfu") is not None]
        result["engine_mfu"] = statistics.median(mfus) if mfus else None
        print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
