"""A non-editable install from a built wheel works: console script, presets and stylesheet shipped."""

from __future__ import annotations

import site
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out)], check=True, cwd=out)
    return next(out.glob("d2ltui-*.whl"))


def test_wheel_ships_presets_and_stylesheet(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped_presets = {Path(n).name for n in names if n.startswith("d2ltui/presets/")}
    assert shipped_presets == {p.name for p in (ROOT / "d2ltui" / "presets").glob("*.toml")}
    assert "d2ltui/tui/app.tcss" in names
    assert not [n for n in names if n.startswith("tests/")]


def test_installed_wheel_runs_outside_the_checkout(wheel, tmp_path):
    """The wheel goes into a fresh venv that borrows the dependencies of the environment running the tests
    (a venv or the base interpreter) through a .pth file, whose own .pth files (an editable d2ltui) stay unread."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=False, with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    inner = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           capture_output=True, text=True, check=True).stdout.strip()
    outer = dict.fromkeys([*site.getsitepackages(), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(inner) / "outer_env.pth").write_text("".join(f"{p}\n" for p in outer))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)],
                   check=True)
    where = subprocess.run([str(py), "-c", "import d2ltui; print(d2ltui.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout
    assert str(env_dir) in where
    out = subprocess.run([str(env_dir / "bin" / "d2l-tui"), "presets"], cwd=tmp_path, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert "quick-lenet-shapes" in out.stdout and "transformer" in out.stdout
