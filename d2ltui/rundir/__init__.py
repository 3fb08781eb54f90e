"""The run directory: the contract between the engine that writes it and the views that read it."""
