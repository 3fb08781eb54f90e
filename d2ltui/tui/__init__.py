"""The Textual workbench: catalog, inspector, configuration, live dashboard and runs."""
