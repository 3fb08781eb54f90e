"""Optimizers and learning-rate schedules built from the optim section of a config."""
