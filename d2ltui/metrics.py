"""The metrics a run reports: the headline ones besides the loss, and whether higher or lower is better."""

from __future__ import annotations

# Each metric's direction. A run's headline is its task's (status.json records it: rundir.index.headline); this
# order (the loss last) only picks one for a run directory from before that, and orders a printed line's metrics.
HIGHER_IS_BETTER = {"acc": True, "bleu": True, "ap50": True, "log_rmse": False, "ppl": False, "success": True,
                    "loss": False}
HEADLINE_METRICS = tuple(m for m in HIGHER_IS_BETTER if m != "loss")
# Further quantities a train line may carry, shown beside the loss: a GAN's two losses, an RL episode's return.
SIDE_METRICS = ("loss_d", "loss_g", "return")
# How well a train window used the device (engine/loop/efficiency.py): measured on the clock, so they differ
# between a run and its resumed twin. samples_per_s: examples/s; flops_per_s: achieved FLOP/s (forward and
# backward); mfu: its share of the device's peak; data_wait: share of step time fetching batches; compile_s:
# the first (compiling) step; mem_mb / mem_now_mb: peak and current memory allocated; gpu_*: NVML readings.
EFFICIENCY_KEYS = ("samples_per_s", "flops_per_s", "mfu", "data_wait", "compile_s", "mem_mb", "mem_now_mb",
                   "gpu_util", "gpu_mem_used_mb", "gpu_power_w", "gpu_temp_c")


def smooth(ys: list[float], weight: float = 0.8) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard-style)."""
    out, avg = [], 0.0
    for i, y in enumerate(ys, 1):
        avg = weight * avg + (1 - weight) * y
        out.append(avg / (1 - weight**i))
    return out
