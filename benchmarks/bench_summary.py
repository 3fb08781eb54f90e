"""Time the summary of every catalog model against a plain forward of the same model on the same device.

Usage: python benchmarks/bench_summary.py [--repeat 5]

For each model it reports the best of `repeat` runs of `summarize(name)` at the default
input (build, hooks, FLOP counting, receptive fields; on real CPU tensors for a small model,
else on meta: see `pass_device`) and of the reference: build the same model on the same
device and run one forward pass without hooks or counting. The ratio says what the summary's
bookkeeping costs over torch's own pass. The first summary of a process (LeNet, on the CPU)
is printed on its own line; on meta, the first pass also pays torch's lazy imports of its
meta machinery (torch._dynamo, symbolic shapes), printed on a line of its own too.
"""

from __future__ import annotations

import argparse
import time


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per model; the best is kept")
    args = parser.parse_args()

    start = time.perf_counter()
    import torch

    from d2ltui.inspector.summary import model_and_inputs, summarize
    from d2ltui.zoo.registry import all_specs, resolve_knobs
    print(f"import torch and d2ltui.inspector.summary: {time.perf_counter() - start:.2f} s")

    start = time.perf_counter()
    summarize("lenet")
    print(f"first summary in the process (LeNet, on the CPU): {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    summarize("vgg11")
    print(f"first summary on meta (torch's lazy imports of its meta machinery, one-off): "
          f"{time.perf_counter() - start:.2f} s")

    def plain(spec):
        knobs = resolve_knobs(spec)
        with torch.no_grad():
            model, inputs = model_and_inputs(spec, knobs, spec.default_input, None)
            model(*inputs)

    total = reference = 0.0
    print(f"\n{'model':<20} {'summary ms':>11} {'plain ms':>9} {'ratio':>6}")
    for spec in all_specs():
        t_sum = best_of(lambda: summarize(spec), args.repeat)
        t_ref = best_of(lambda: plain(spec), args.repeat)
        total, reference = total + t_sum, reference + t_ref
        print(f"{spec.name:<20} {t_sum * 1e3:>11.1f} {t_ref * 1e3:>9.1f} {t_sum / t_ref:>6.2f}")
    print(f"{'catalog':<20} {total * 1e3:>11.1f} {reference * 1e3:>9.1f} {total / reference:>6.2f}")
    print(f"\nwhole catalog summarised in {total:.2f} s "
          f"({total / reference:.2f}x a plain meta forward of the same models)")


if __name__ == "__main__":
    main()
