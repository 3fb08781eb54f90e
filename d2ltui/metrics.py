"""The metrics a run reports: the headline ones besides the loss, and whether higher or lower is better."""

from __future__ import annotations

# Headline metrics first (in the order a summary prefers them), the loss last.
HIGHER_IS_BETTER = {"acc": True, "bleu": True, "ap50": True, "log_rmse": False, "ppl": False, "loss": False}
HEADLINE_METRICS = tuple(m for m in HIGHER_IS_BETTER if m != "loss")
