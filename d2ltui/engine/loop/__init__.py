"""The training loop and its parts: counters, metrics window, cadence, events, recording, control."""
