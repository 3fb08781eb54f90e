"""Run configuration: the schema (choices and bounds), TOML, `--set` overrides, presets, resolution."""
