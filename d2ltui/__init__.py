"""d2ltui: a terminal lab workbench for the models of Dive into Deep Learning."""

__version__ = "0.1.0"
