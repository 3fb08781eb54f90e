"""The layer rules are import-linter contracts (pyproject.toml): the real `lint-imports` keeps them, and breaks on a planted import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
WRITER = "views-no-writer"  # the contract on d2ltui.rundir.writer


def contracts() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    return [c["id"] for c in config]


def lint(root: Path, ids: list[str]) -> subprocess.CompletedProcess:
    """`lint-imports` on the package under `root`, limited to the contracts `ids`."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    args = [LINT, "--no-cache", *(a for i in ids for a in ("--contract", i))]
    return subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=300)


def copy_package(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "d2ltui", tmp_path / "d2ltui", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_package_keeps_every_layer_contract():
    ids = contracts()
    assert {"layers", "engine-no-textual", "zoo-no-training", "config-no-engine", WRITER} <= set(ids)
    result = lint(ROOT, ids)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert f"{len(ids)} kept, 0 broken" in result.stdout


@pytest.mark.parametrize("module,line,contract", [
    ("engine/job.py", "import d2ltui.tui.app", "layers"),  # the engine reaching up into a view
    ("zoo/registry.py", "import d2ltui.engine.job", "zoo-no-training"),
    ("engine/loop/events.py", "import textual", "engine-no-textual"),
])
def test_a_planted_forbidden_import_fails(tmp_path, module, line, contract):
    root = copy_package(tmp_path)
    path = root / "d2ltui" / module
    path.write_text(path.read_text() + f"\n{line}  # planted\n")
    result = lint(root, [contract])
    assert result.returncode != 0 and "BROKEN" in result.stdout, result.stdout[-3000:] + result.stderr[-2000:]
    assert line.split()[-1] in result.stdout  # the report names the forbidden module


def test_a_view_importing_the_writer_fails(tmp_path):
    root = copy_package(tmp_path)
    assert lint(root, [WRITER]).returncode == 0
    view = root / "d2ltui" / "tui" / "runlog.py"
    view.write_text(view.read_text() + "\nimport d2ltui.rundir.writer  # planted\n")
    result = lint(root, [WRITER])
    assert result.returncode != 0 and "d2ltui.rundir.writer" in result.stdout
