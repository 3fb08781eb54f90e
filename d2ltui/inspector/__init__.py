"""Inspection of a model: input shapes, the meta-device summary, receptive fields."""
