"""TinySSD training throughput on the embedded bananas: the engine's `fit` vs a bare loop of the same model.

Both train the same TinySSD with the book's SGD (lr 0.2, weight decay 5e-4) and loss on the same
rendered bananas held as uint8 tensors (the engine's `bananas` loader, seed 0):

- bare:   a shuffled index sliced per batch, images to float on the fly, forward, the book's labelling
          (`multibox_target`) and loss, backward, step; no logging, no validation;
- engine: `fit` with its run directory (metrics, status, checkpoints, samples), as `d2l-tui train` does.

Only training steps are timed, after the first --warmup steps: the engine's rate is what its metrics
report (samples_per_s of each logged window, validation and checkpoints outside them); the bare rate
spans every step after the warm-up. Repeats are interleaved; medians are printed with the ratio.

    python benchmarks/bench_detect.py                          # 64 px, batch 32, CPU
    python benchmarks/bench_detect.py --size 256 --device cuda --steps 200
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from d2ltui.rundir.writer import RunWriter
from d2ltui.config.schema import DataConfig, dump_toml, from_dict
from d2ltui.data import load_data
from d2ltui.tasks.detection import ssd_loss
from d2ltui.devices import resolve_device
from d2ltui.engine.loop.trainer import fit
from d2ltui.zoo.ssd import tiny_ssd


def config(args, device):
    return from_dict({"model": {"name": "tiny-ssd"},
                      "data": {"name": "bananas", "resize": args.size, "num_train": args.num_train, "num_val": 32,
                               "batch_size": args.batch_size},
                      "optim": {"name": "sgd", "lr": 0.2, "weight_decay": 5e-4},
                      "train": {"epochs": 1, "max_steps": args.steps, "device": str(device),
                                "log_every": args.warmup, "amp": "off"}})


def bare(args, data, device) -> float:
    torch.manual_seed(0)
    net = tiny_ssd().to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.2, weight_decay=5e-4)
    images, labels = data.train
    order = torch.randperm(len(images), device=device)
    bs, t0 = args.batch_size, None
    for step in range(args.steps):
        if step == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        idx = order[(step * bs) % len(images):][:bs]
        X, Y = images[idx].float().div_(255), labels[idx]
        anchors, cls_preds, bbox_preds = net(X)
        loss = ssd_loss(cls_preds, bbox_preds, Y, anchors)[0].mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (args.steps - args.warmup) * bs / (time.perf_counter() - t0)


def engine(args, cfg) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        run = RunWriter.create(Path(tmp), dump_toml(cfg), "bench")
        result = fit(cfg, run)
        assert result.state == "finished", result.message
        rates = [r["samples_per_s"] for r in run.metrics() if r.get("split") == "train"][1:]
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-train", type=int, default=320)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = resolve_device(args.device)
    cfg = config(args, device)
    data = load_data(DataConfig(name="bananas", resize=args.size, num_train=args.num_train, num_val=32),
                     "detection", device)
    results = {"bare": [], "engine": []}
    for _ in range(args.repeats):
        results["bare"].append(bare(args, data, device))
        results["engine"].append(engine(args, cfg))
    bare_rate, engine_rate = statistics.median(results["bare"]), statistics.median(results["engine"])
    pairs = [e / b for e, b in zip(results["engine"], results["bare"])]
    print(f"TinySSD at {args.size}px, batch {args.batch_size}, {device}: engine {engine_rate:.1f} samples/s, "
          f"bare loop {bare_rate:.1f}; engine/bare {statistics.median(pairs):.3f} (median of paired repeats; "
          f"repeats engine {[round(r, 1) for r in results['engine']]}, bare {[round(r, 1) for r in results['bare']]})")


if __name__ == "__main__":
    main()
