"""Reusable widgets of the workbench; each posts its own nested messages."""
