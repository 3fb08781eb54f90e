"""Training tasks: one module per task family (its step, evaluation, samples, predict) and their specs."""
