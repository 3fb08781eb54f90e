"""Where d2ltui keeps things: runs, saved presets, the data cache, shipped presets, and the env vars that move them."""

from __future__ import annotations

import os
from pathlib import Path

from d2ltui.errors import UserError

RUNS_ENV = "D2LTUI_RUNS_DIR"  # overrides the runs folder
DEFAULT_DATA_ROOT = "~/.cache/d2ltui/data"  # data.root's default; follows $XDG_CACHE_HOME when set
SHIPPED_PRESETS_DIR = Path(__file__).resolve().parent / "presets"


def expand_path(path: str | Path, what: str = "path") -> Path:
    """`path` with ~ expanded; an empty one (which would mean the working folder) or a ~user that does not exist
    is a UserError naming it."""
    if not str(path).strip():
        raise UserError(f"{what}: empty; give a path")
    try:
        return Path(path).expanduser()
    except RuntimeError:
        raise UserError(f"{what} {str(path)!r}: no such user's home folder") from None


def data_home() -> Path:
    """$XDG_DATA_HOME/d2ltui (default ~/.local/share/d2ltui): runs and saved presets."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "d2ltui"


def cache_home() -> Path:
    """$XDG_CACHE_HOME/d2ltui (default ~/.cache/d2ltui): downloaded datasets."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "d2ltui"


def default_runs_dir() -> Path:
    """$D2LTUI_RUNS_DIR, else $XDG_DATA_HOME/d2ltui/runs (~/.local/share/d2ltui/runs)."""
    if env := os.environ.get(RUNS_ENV):
        return expand_path(env, RUNS_ENV)
    return data_home() / "runs"


def resolve_runs_dir(runs_dir: str | Path | None) -> Path:
    """`--runs-dir` expanded, or the default runs folder; a UserError when it is a file."""
    path = expand_path(runs_dir, "--runs-dir") if runs_dir else default_runs_dir()
    if path.exists() and not path.is_dir():
        raise UserError(f"--runs-dir {path}: a file, not a folder")
    return path


def recent_models_file() -> Path:
    """The models opened last in the TUI (your own, by reference): $XDG_DATA_HOME/d2ltui/recent-models.json."""
    return data_home() / "recent-models.json"


def user_presets_dir() -> Path:
    """Saved presets: $XDG_DATA_HOME/d2ltui/presets (~/.local/share/d2ltui/presets)."""
    return data_home() / "presets"


def data_root(root: str) -> Path:
    """data.root expanded; the default follows $XDG_CACHE_HOME when that is set."""
    root = root or DEFAULT_DATA_ROOT
    if root == DEFAULT_DATA_ROOT and os.environ.get("XDG_CACHE_HOME"):
        return cache_home() / "data"
    return Path(root).expanduser()
