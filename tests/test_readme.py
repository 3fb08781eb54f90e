"""The README stays true: its config example validates, its commands exist, CI runs its test command."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from d2ltui.cli import app
from d2ltui.config.schema import from_dict
from d2ltui.zoo.registry import all_specs

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_config_example_is_a_valid_config():
    block = re.search(r"```toml\n(.*?)```", README, re.S).group(1)
    raw = tomllib.loads(block)
    raw.pop("description")
    cfg = from_dict(raw, "README")
    assert cfg.model.name == "lenet" and cfg.model.knobs["norm"] == "batch"


def test_the_two_commands_and_ci_agree():
    assert "pip install . && d2l-tui" in README
    test_command = 'pip install -e ".[dev]" && python -m pytest'
    assert test_command in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -q -e ".[dev]"' in ci and "python -m pytest" in ci


def test_every_command_and_model_is_documented():
    import typer.main

    commands = typer.main.get_command(app).commands
    for name in commands:
        assert f"d2l-tui {name}" in README, name
    for spec in all_specs():
        assert f"`{spec.name}`" in README, spec.name


def test_screenshots_exist():
    for image in re.findall(r"\]\((docs/[^)]+\.svg)\)", README):
        assert (ROOT / image).is_file(), image
