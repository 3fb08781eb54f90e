"""The training engine: runs a job from a validated config and writes a run directory. No Textual here."""
