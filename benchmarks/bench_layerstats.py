"""The cost of per-layer statistics: training samples/s with layer statistics at a cadence vs off, in one run.

The same config trains with train.layer_stats_every = 0 (off), the default, and any other cadences
given, repeats interleaved, every other repeat in reverse order. A rate is the training samples
over the training time of every logged window (the harmonic mean of the windows' samples_per_s:
each window has as many steps, so the steps that record statistics count in full); validation and
checkpoints fall outside. Printed: each cadence's median rate and its ratio to "off". The target:
at the default cadence, ratio >= 0.95.

On a shared machine whole runs differ by more than the cost measured, so each cadence of at least
two logging windows also gets a paired estimate from inside its runs: the extra time of a window
holding a recorded step over the mean of the windows just before and after it (seconds apart, under
the same load), set against the cadence's steps at the median step time of the windows without one:
ratio = 1 / (1 + extra / (every * step time)). Printed with the medians over every recorded window,
and for "off" at the default cadence's steps, where nothing is recorded: the noise floor.

    python benchmarks/bench_layerstats.py                                   # LeNet on shapes, CPU
    python benchmarks/bench_layerstats.py --model resnet18 --set data.resize=96 --device cuda --steps 300
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from d2ltui.rundir.writer import RunWriter
from d2ltui.tasks.resolve import resolve
from d2ltui.config.schema import TrainConfig, dump_toml
from d2ltui.engine.loop.trainer import fit

LOG_EVERY = 10  # steps per logging window


def rate(args, every: int, root: Path, tag: str) -> tuple[float, list[dict]]:
    sets = [f"model.name={args.model}", f"data.name={args.data}", f"data.batch_size={args.batch_size}",
            f"train.max_steps={args.steps}", "train.epochs=1000", f"train.log_every={LOG_EVERY}",
            f"train.layer_stats_every={every}", f"train.device={args.device}", *args.set]
    cfg, _ = resolve(args.model, sets)
    run = RunWriter.create(root, dump_toml(cfg), tag)
    fit(cfg, run)
    windows = [r for r in run.metrics() if r.get("split") == "train"][1:]  # the first window holds the warm-up
    return len(windows) / sum(1.0 / r["samples_per_s"] for r in windows), windows


def paired(windows: list[dict], every: int, batch: int) -> tuple[list[float], list[float]]:
    """(extra seconds of each recorded window over its neighbours, seconds per step of the unrecorded windows)."""
    spans = [(w["step"] - prev["step"], w) for prev, w in zip(windows, windows[1:])]  # (steps in window, record)
    seconds = [n * batch / w["samples_per_s"] for n, w in spans]
    recorded = [any(s % every == 0 for s in range(w["step"] - n + 1, w["step"] + 1)) for n, w in spans]
    step_s = [t / n for (n, _), t, r in zip(spans, seconds, recorded) if not r and n]
    extras = []
    for i, r in enumerate(recorded):
        near = [j for j in (i - 1, i + 1) if 0 <= j < len(spans) and not recorded[j]]
        if r and near:
            n = spans[i][0]
            extras.append(seconds[i] - n * statistics.mean(seconds[j] / spans[j][0] for j in near))
    return extras, step_s


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
    extras: dict[int, list[float]] = {e: [] for e in cadences}
    step_s: dict[int, list[float]] = {e: [] for e in cadences}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for every in (cadences if r % 2 == 0 else cadences[::-1]):  # ABBA: a load trend favours neither
                value, windows = rate(args, every, Path(tmp), f"r{r}-e{every}")
                rates[every].append(value)
                if (every or default) >= 2 * LOG_EVERY:
                    more, steps = paired(windows, every or default, args.batch_size)
                    extras[every] += more
                    step_s[every] += steps
    off = statistics.median(rates[0])
    print(f"{args.model} on {args.data}, batch {args.batch_size}, {args.steps} steps, {args.device}, "
          f"{args.repeats} repeats (medians)")
    for every in cadences:
        med = statistics.median(rates[every])
        label = "off" if every == 0 else f"every {every}" + (" (default)" if every == default else "")
        print(f"  layer stats {label:<20} {med:10.1f} samples/s   ratio to off {med / off:.3f}")
    for every in cadences:
        if extras[every] and step_s[every]:
            extra, step = statistics.median(extras[every]), statistics.median(step_s[every])
            label = f"every {every}" if every else f"off, at every {default} (noise floor)"
            print(f"  paired, {label}: {len(extras[every])} windows, extra {extra * 1e3:.1f} ms per recording, "
                  f"step {step * 1e3:.2f} ms, ratio {1 / (1 + extra / ((every or default) * step)):.3f}")


if __name__ == "__main__":
    main()
