"""Time the meta-device summary of every catalog model against a plain meta forward of the same model.

Usage: python benchmarks/bench_summary.py [--repeat 5]

For each model it reports the best of `repeat` runs of `summarize(name)` at the default
input (build on meta, hooks, FlopCounterMode, receptive fields) and of the reference: build
the same model on meta and run one forward pass without hooks or counting. The ratio says
what the summary's bookkeeping costs over torch's own meta pass. The first summary of a
process also pays torch's lazy imports (its meta kernels pull in torch._dynamo); that
one-off cost is printed on its own line, before the catalog is timed.
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

    from d2ltui.inspector.summary import META, construct, summarize
    from d2ltui.zoo.build import example_inputs
    from d2ltui.zoo.registry import all_specs, resolve_knobs
    print(f"import torch and d2ltui.inspector.summary: {time.perf_counter() - start:.2f} s")

    start = time.perf_counter()
    summarize("lenet")
    print(f"first summary in the process (lazy imports, one-off): {time.perf_counter() - start:.2f} s")

    def plain(spec):
        knobs = resolve_knobs(spec)
        with torch.no_grad():
            construct(spec, knobs)(*example_inputs(spec, knobs, spec.default_input, META))

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
