"""For every catalog model: what its default settings reach in the first minute, against chance and its preset.

Usage: python benchmarks/bench_defaults.py [--device cpu] [--cap 60] [--ref-cap 180] [--threads 1] [--models lenet,mlp]

Each model trains in a child process with the settings Start uses (`train_defaults` for the
device's kind, on the embedded data) on `--threads` torch threads (1, as the runs the TUI starts),
for up to `--cap` seconds of the process's CPU time (on one thread, what the wall time is on an
idle machine), validating at every epoch end as a run does. Reported per model:

- the time to the first validation beyond its task's bar (`Task.learning_bar`: accuracy at least
  twice chance, perplexity at most half the vocabulary, BLEU at least 0.3, a regression loss below
  a twentieth of the target's variance), as CPU and wall seconds, from loading the data;
- `in cap`: the best validation value reached within the cap (the first minute);
- `chance`: what guessing gives (1 / classes, the vocabulary's size as perplexity, BLEU or AP 0,
  the target's variance as a regression loss);
- `reference`: the best value its reference reaches in a second child process given `--ref-cap`
  CPU seconds: the model's quick preset (`quick` in MODEL_DEFAULTS), else its book preset's training
  settings (batch, optimizer, learning rate, epochs) on the same embedded data at the CPU's input size;
- `half`: the bar halfway from chance to the reference, and whether `in cap` is beyond it.
A model without a headline metric (the GANs) reports its times only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time


def chance(metric: str, data) -> float:
    """What a model that learned nothing scores on `data` for `metric`."""
    if metric == "acc":
        return 1 / (len(data.classes) or data.model_knobs["num_classes"])
    if metric == "ppl":
        return float(len(data.vocab))
    if metric == "loss":
        return float(data.val[-1].float().var())
    return 0.0  # bleu, ap50, success


def reference_config(name: str) -> dict:
    """The TOML-shaped config of `name`'s reference: its quick preset, else its book preset's training settings
    (batch, optimizer, learning rate, epochs) on the CPU defaults' data, else its CPU defaults."""
    from d2ltui.config.presets import load_preset, preset_names
    from d2ltui.tasks.defaults import MODEL_DEFAULTS, book_settings, train_defaults
    from d2ltui.zoo.registry import get_spec

    entry = MODEL_DEFAULTS.get(name, {})
    if entry.get("quick"):
        return load_preset(entry["quick"])
    raw = train_defaults(get_spec(name), "cpu")
    book = entry.get("book") or (name if name in preset_names() else None)
    for section, values in (book_settings(book) if book else {}).items():
        raw.setdefault(section, {}).update({k: v for k, v in values.items() if k != "resize"})
    return raw


def one(name: str, device: str, cap: float, threads: int, reference: bool) -> dict:
    """Train `name` (its defaults, or its reference) on `device` for up to `cap` CPU seconds."""
    import torch

    from d2ltui.tasks.defaults import clears, device_kind, train_defaults
    from d2ltui.tasks.spec import task_spec
    from d2ltui.tasks.resolve import validate
    from d2ltui.config.schema import from_dict
    from d2ltui.data.registry import load_data
    from d2ltui.engine.loop import events as ev
    from d2ltui.engine.loop.control import Control
    from d2ltui.engine.loop.trainer import fit
    from d2ltui.metrics import HIGHER_IS_BETTER
    from d2ltui.zoo.registry import get_spec

    if threads:
        torch.set_num_threads(threads)
    spec = get_spec(name)
    cfg = from_dict(reference_config(name) if reference else train_defaults(spec, device_kind(device)))
    cfg.train.device = device
    validate(cfg)
    control = Control()
    seen = {"at": None, "cpu": None, "value": None, "best": None, "epochs": 0}
    start, cpu0 = time.perf_counter(), time.process_time()
    data = load_data(cfg.data, spec.task)
    bar = task_spec(data.task).task_class().learning_bar(data)
    metric, threshold = bar or (None, None)

    def watch(event) -> None:
        within = time.process_time() - cpu0 <= cap
        if metric and within and isinstance(event, ev.Metrics) and event.record.get("split") == "val":
            seen["epochs"], value = event.record["epoch"], event.record.get(metric)
            seen["value"] = value
            if value is not None and (seen["best"] is None or clears(metric, seen["best"], value)):
                seen["best"] = value
            if seen["at"] is None and value is not None and clears(metric, threshold, value):
                seen["at"], seen["cpu"] = time.perf_counter() - start, time.process_time() - cpu0
        if not within:
            control.stop.set()

    fit(cfg, subscribers=[watch], control=control, data=data)
    return {"model": name, "device": device, "threads": torch.get_num_threads(), "metric": metric,
            "bar": None if threshold is None else round(threshold, 4),
            "chance": None if metric is None else chance(metric, data),
            "higher": HIGHER_IS_BETTER.get(metric, False),
            "seconds": None if seen["at"] is None else round(seen["at"], 1),
            "cpu_seconds": None if seen["cpu"] is None else round(seen["cpu"], 1),
            "value": seen["value"], "best": seen["best"], "epochs": seen["epochs"], "budget": cfg.train.epochs,
            "cpu_elapsed": round(time.process_time() - cpu0, 1)}


def child(name: str, args, reference: bool) -> dict | None:
    cap = args.ref_cap if reference else args.cap
    cmd = [sys.executable, __file__, "--one", name, "--device", args.device, "--cap", str(cap),
           "--threads", str(args.threads)] + (["--reference"] if reference else [])
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=cap * 20 + 300)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, IndexError, json.JSONDecodeError):
        return None


def halfway(row: dict, ref: dict | None) -> tuple[float | None, str]:
    """The bar halfway from chance to the reference's best, and 'yes'/'NO' for the first minute's best."""
    if not row["metric"] or ref is None or ref["best"] is None:
        return None, "-"
    half = row["chance"] + (ref["best"] - row["chance"]) / 2
    best = row["best"]
    ok = best is not None and (best >= half if row["higher"] else best <= half)
    return half, "yes" if ok else "NO"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="train.device of every run (default cpu)")
    parser.add_argument("--cap", type=float, default=60.0, help="CPU seconds of the defaults' run (the first minute)")
    parser.add_argument("--ref-cap", type=float, default=180.0, help="CPU seconds of the reference's run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (0: torch's default)")
    parser.add_argument("--models", default="", help="comma list (default: the whole catalog)")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference runs")
    parser.add_argument("--one", default="", help=argparse.SUPPRESS)  # the child process's model
    parser.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)  # the child runs the reference
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.device, args.cap, args.threads, args.reference)))
        return
    from d2ltui.zoo.registry import all_specs

    names = [n for n in args.models.split(",") if n] or [s.name for s in all_specs()]
    print(f"{'model':20} {'metric':6} {'CPU s to bar':>16} {'wall s':>7} {'in cap':>8} {'epochs':>7} "
          f"{'chance':>8} {'reference':>9} {'half':>8} {'ok':>3}")
    for name in names:
        row = child(name, args, reference=False)
        if row is None:
            print(f"{name:20} failed or hung (cap {args.cap:.0f} s)")
            continue
        ref = None if args.no_reference or not row["metric"] else child(name, args, reference=True)
        wall = "-" if row["seconds"] is None else f"{row['seconds']:.1f}"
        if row["cpu_seconds"] is not None:
            when = f"{row['cpu_seconds']:.1f}"
        elif not row["metric"]:
            when = "no metric"
        elif row["cpu_elapsed"] >= args.cap:
            when = f"not within {args.cap:.0f} s"
        else:
            when = f"not in {row['budget']} epochs"
        half, ok = halfway(row, ref)
        fmt = lambda v: "-" if v is None else f"{v:.3g}"  # noqa: E731
        print(f"{name:20} {row['metric'] or '-':6} {when:>16} {wall:>7} {fmt(row['best']):>8} "
              f"{row['epochs']:>3}/{row['budget']:<3} {fmt(row['chance']):>8} "
              f"{fmt(None if ref is None else ref['best']):>9} {fmt(half):>8} {ok:>3}", flush=True)


if __name__ == "__main__":
    main()
