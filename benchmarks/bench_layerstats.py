"""The cost of per-layer statistics: training samples/s with layer statistics at a cadence vs off, in one run.

The same config trains with train.layer_stats_every = 0 (off), the default, and any other cadences
given, repeats interleaved. A rate is the training samples over the training time of every logged
window (the harmonic mean of the windows' samples_per_s: each window has as many steps, so the steps
that record statistics count in full); validation and checkpoints fall outside. Printed: each
cadence's median rate and its ratio to "off". The target: at the default cadence, ratio >= 0.95.

    python benchmarks/bench_layerstats.py                                   # LeNet on shapes, CPU
    python benchmarks/bench_layerstats.py --model resnet18 --data.resize 96 --device cuda --steps 300
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from d2ltui.config.resolve import resolve
from d2ltui.config.schema import TrainConfig, dump_toml
from d2ltui.engine.trainer import fit
from d2ltui.rundir.store import RunDir


def rate(args, every: int, root: Path, tag: str) -> float:
    sets = [f"model.name={args.model}", f"data.name={args.data}", f"data.batch_size={args.batch_size}",
            f"train.max_steps={args.steps}", "train.epochs=1000", "train.log_every=10",
            f"train.layer_stats_every={every}", f"train.device={args.device}", *args.set]
    cfg, _ = resolve(args.model, sets)
    run = RunDir.create(root, dump_toml(cfg), tag)
    fit(cfg, run)
    windows = [r for r in run.metrics() if r.get("split") == "train"][1:]  # the first window holds the warm-up
    return len(windows) / sum(1.0 / r["samples_per_s"] for r in windows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="lenet")
    parser.add_argument("--data", default="shapes")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--every", type=int, nargs="*", default=[10])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    default = TrainConfig().layer_stats_every
    cadences = [0, default, *[e for e in args.every if e not in (0, default)]]
    rates: dict[int, list[float]] = {e: [] for e in cadences}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for every in cadences:
                rates[every].append(rate(args, every, Path(tmp), f"r{r}-e{every}"))
    off = statistics.median(rates[0])
    print(f"{args.model} on {args.data}, batch {args.batch_size}, {args.steps} steps, {args.device}, "
          f"{args.repeats} repeats (medians)")
    for every in cadences:
        med = statistics.median(rates[every])
        label = "off" if every == 0 else f"every {every}" + (" (default)" if every == default else "")
        print(f"  layer stats {label:<20} {med:10.1f} samples/s   ratio to off {med / off:.3f}")


if __name__ == "__main__":
    main()
