"""The Textual workbench: catalog, inspector, configuration, live dashboard and runs."""

HOME_MODEL = "lenet"  # the model the home screen opens on (its first layer table; see d2ltui.tui.prefetch)
