"""The metrics a run reports: the headline ones besides the loss, and whether higher or lower is better."""

from __future__ import annotations

# Headline metrics first (in the order a summary prefers them), the loss last.
HIGHER_IS_BETTER = {"acc": True, "bleu": True, "ap50": True, "log_rmse": False, "ppl": False, "success": True,
                    "loss": False}
HEADLINE_METRICS = tuple(m for m in HIGHER_IS_BETTER if m != "loss")
# Further quantities a train line may carry, shown beside the loss: a GAN's two losses, an RL episode's return.
SIDE_METRICS = ("loss_d", "loss_g", "return")


def smooth(ys: list[float], weight: float = 0.8) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard-style)."""
    out, avg = [], 0.0
    for i, y in enumerate(ys, 1):
        avg = weight * avg + (1 - weight) * y
        out.append(avg / (1 - weight**i))
    return out
