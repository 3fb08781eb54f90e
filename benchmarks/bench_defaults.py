"""Time, for every catalog model, until a run with its default settings has clearly learned.

Usage: python benchmarks/bench_defaults.py [--device cpu] [--cap 120] [--threads 1] [--models lenet,mlp]

Each model trains in a child process with the settings Start uses (`train_defaults` for the
device's kind, on the embedded data) on `--threads` torch threads (1, as the runs the TUI starts),
for up to `--cap` seconds of the process's CPU time, validating at every epoch end as a run does.
The times reported run from loading the data (data rendering and model building included) to the
first validation beyond the bar of its task (`Task.learning_bar`), as CPU seconds of the process (on one thread,
what the wall time is on an idle machine) and as wall seconds (which grow with the load): accuracy at
least twice chance (halfway to perfect for two classes), perplexity at most half the
vocabulary, BLEU at least 0.3, a regression loss below a twentieth of the target's variance.
A model that does not get there within the cap, or whose default budget ends first, says so.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time


def one(name: str, device: str, cap: float, threads: int) -> dict:
    """Train `name` with its defaults on `device`; the time to the bar (None when not reached)."""
    import torch

    from d2ltui.tasks.defaults import clears, device_kind, train_defaults
    from d2ltui.tasks.spec import task_spec
    from d2ltui.tasks.resolve import validate
    from d2ltui.config.schema import from_dict
    from d2ltui.data.registry import load_data
    from d2ltui.engine.loop import events as ev
    from d2ltui.engine.loop.control import Control
    from d2ltui.engine.loop.trainer import fit
    from d2ltui.zoo.registry import get_spec

    if threads:
        torch.set_num_threads(threads)
    spec = get_spec(name)
    cfg = from_dict(train_defaults(spec, device_kind(device)))
    cfg.train.device = device
    validate(cfg)
    control, seen = Control(), {"at": None, "cpu": None, "value": None, "epochs": 0}
    start, cpu0 = time.perf_counter(), time.process_time()
    data = load_data(cfg.data, spec.task)
    metric, threshold = task_spec(data.task).task_class().learning_bar(data)

    def watch(event) -> None:
        if isinstance(event, ev.Metrics) and event.record.get("split") == "val":
            seen["epochs"], seen["value"] = event.record["epoch"], event.record.get(metric)
            if seen["at"] is None and seen["value"] is not None and clears(metric, threshold, seen["value"]):
                seen["at"], seen["cpu"] = time.perf_counter() - start, time.process_time() - cpu0
                control.stop.set()
        if time.process_time() - cpu0 > cap:
            control.stop.set()

    fit(cfg, subscribers=[watch], control=control, data=data)
    return {"model": name, "device": device, "threads": torch.get_num_threads(), "metric": metric,
            "bar": round(threshold, 4), "seconds": None if seen["at"] is None else round(seen["at"], 1),
            "cpu_seconds": None if seen["cpu"] is None else round(seen["cpu"], 1),
            "value": seen["value"], "epochs": seen["epochs"], "budget": cfg.train.epochs,
            "cpu_elapsed": round(time.process_time() - cpu0, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="train.device of every run (default cpu)")
    parser.add_argument("--cap", type=float, default=120.0, help="CPU seconds per model before giving up")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (0: torch's default)")
    parser.add_argument("--models", default="", help="comma list (default: the whole catalog)")
    parser.add_argument("--one", default="", help=argparse.SUPPRESS)  # the child process's model
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.device, args.cap, args.threads)))
        return
    from d2ltui.zoo.registry import all_specs

    names = [n for n in args.models.split(",") if n] or [s.name for s in all_specs()]
    print(f"{'model':20} {'metric':6} {'bar':>8} {'CPU s to bar':>16} {'wall s':>7} {'reached':>9} {'epochs':>7}")
    for name in names:
        cmd = [sys.executable, __file__, "--one", name, "--device", args.device, "--cap", str(args.cap),
               "--threads", str(args.threads)]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.cap * 20 + 300)
            row = json.loads(out.stdout.strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, IndexError, json.JSONDecodeError):
            print(f"{name:20} failed or hung (cap {args.cap:.0f} s)")
            continue
        wall = "-" if row["seconds"] is None else f"{row['seconds']:.1f}"
        if row["cpu_seconds"] is not None:
            when = f"{row['cpu_seconds']:.1f}"
        elif row["cpu_elapsed"] >= args.cap:
            when = f"not within {args.cap:.0f} s"
        else:
            when = f"not in {row['budget']} epochs"
        value = "-" if row["value"] is None else f"{row['value']:.3g}"
        print(f"{name:20} {row['metric']:6} {row['bar']:>8.4g} {when:>16} {wall:>7} {value:>9} "
              f"{row['epochs']:>3}/{row['budget']:<3}", flush=True)


if __name__ == "__main__":
    main()
