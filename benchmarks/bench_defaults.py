"""Time, for every catalog model, until a run with its default settings has clearly learned.

Usage: python benchmarks/bench_defaults.py [--device cpu] [--cap 120] [--models lenet,mlp]

Each model trains in a child process with the settings Start uses (`train_defaults` for the
device's kind, on the embedded data) for up to `--cap` seconds of wall time, validating at
every epoch end as a run does. The time reported runs from the start of `fit` (data loading and
model building included) to the first validation beyond the bar of `learning_bar`: accuracy at
least twice chance (halfway to perfect for two classes), perplexity at most half the
vocabulary, BLEU at least 0.3, a regression loss below a twentieth of the target's variance.
A model that does not get there within the cap, or whose default budget ends first, says so.
Run it with `nice` on a shared machine; the figures depend on the load.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time


def one(name: str, device: str, cap: float) -> dict:
    """Train `name` with its defaults on `device`; the time to the bar (None when not reached)."""
    import torch

    from d2ltui.config.defaults import clears, device_kind, learning_bar, train_defaults
    from d2ltui.config.resolve import validate
    from d2ltui.config.schema import from_dict
    from d2ltui.data.registry import load_data
    from d2ltui.engine import events as ev
    from d2ltui.engine.control import Control
    from d2ltui.engine.trainer import fit
    from d2ltui.zoo.registry import get_spec

    spec = get_spec(name)
    cfg = from_dict(train_defaults(spec, device_kind(device)))
    cfg.train.device = device
    validate(cfg)
    control, seen = Control(), {"at": None, "value": None, "epochs": 0}
    start = time.perf_counter()
    data = load_data(cfg.data, spec.task)
    metric, threshold = learning_bar(data)

    def watch(event) -> None:
        if isinstance(event, ev.Metrics) and event.record.get("split") == "val":
            seen["epochs"], seen["value"] = event.record["epoch"], event.record.get(metric)
            if seen["at"] is None and seen["value"] is not None and clears(metric, threshold, seen["value"]):
                seen["at"] = time.perf_counter() - start
                control.stop.set()
        if time.perf_counter() - start > cap:
            control.stop.set()

    fit(cfg, subscribers=[watch], control=control, data=data)
    return {"model": name, "device": device, "threads": torch.get_num_threads(), "metric": metric,
            "bar": round(threshold, 4), "seconds": None if seen["at"] is None else round(seen["at"], 1),
            "value": seen["value"], "epochs": seen["epochs"], "budget": cfg.train.epochs,
            "elapsed": round(time.perf_counter() - start, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="train.device of every run (default cpu)")
    parser.add_argument("--cap", type=float, default=120.0, help="seconds per model before giving up")
    parser.add_argument("--models", default="", help="comma list (default: the whole catalog)")
    parser.add_argument("--one", default="", help=argparse.SUPPRESS)  # the child process's model
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.device, args.cap)))
        return
    from d2ltui.zoo.registry import all_specs

    names = [n for n in args.models.split(",") if n] or [s.name for s in all_specs()]
    print(f"{'model':20} {'metric':6} {'bar':>8} {'time to bar':>16} {'reached':>9} {'epochs':>7}")
    for name in names:
        cmd = [sys.executable, __file__, "--one", name, "--device", args.device, "--cap", str(args.cap)]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.cap + 120)
            row = json.loads(out.stdout.strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, IndexError, json.JSONDecodeError):
            print(f"{name:20} failed or hung (cap {args.cap:.0f} s)")
            continue
        if row["seconds"] is not None:
            when = f"{row['seconds']:.1f} s"
        elif row["elapsed"] >= args.cap:
            when = f"not within {args.cap:.0f} s"
        else:
            when = f"not in {row['budget']} epochs"
        value = "-" if row["value"] is None else f"{row['value']:.3g}"
        print(f"{name:20} {row['metric']:6} {row['bar']:>8.4g} {when:>16} {value:>9} "
              f"{row['epochs']:>3}/{row['budget']:<3}", flush=True)


if __name__ == "__main__":
    main()
