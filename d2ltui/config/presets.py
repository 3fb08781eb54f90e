"""Presets, shipped and saved: the one lookup that `train NAME`, `presets` and the training panel share.

Shipped presets live in the package's presets/ folder; saved ones in
$XDG_DATA_HOME/d2ltui/presets/NAME.toml (see d2ltui.paths). A saved preset wins over a
shipped one of the same name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from d2ltui.config.schema import dump_toml, from_dict, load_toml
from d2ltui.errors import UserError
from d2ltui.paths import SHIPPED_PRESETS_DIR, user_presets_dir

SHIPPED, SAVED = "shipped", "saved"
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Preset:
    """A preset as `d2l-tui presets` lists it: name, file, description, model, data and where it comes from."""

    name: str
    path: Path
    description: str
    model: str
    data: str
    source: str = SHIPPED  # SHIPPED or SAVED
    sweep: bool = False  # has a [sweep] table: `d2l-tui sweep NAME` runs its grid


def read_preset_file(path: Path) -> tuple[dict[str, Any], str]:
    """The TOML dict of a preset or config file (without `description` and `[sweep]`) and its description."""
    raw, description, _ = read_sweep_file(path)
    return raw, description


def read_sweep_file(path: Path) -> tuple[dict[str, Any], str, dict[str, Any] | None]:
    """A preset file's config dict, description and `[sweep]` table (None when it has none).

    A sweep preset is an ordinary preset (its config is the base every run starts from) plus
    `[sweep]`: `seeds` (runs per setting), optional `parallel`, and `[sweep.grid]` mapping config
    keys to lists of values. `train` trains the base; `sweep` runs the grid. A search preset has
    `[sweep.sample]` instead (config keys to "loguniform(a,b)", "randint(a,b)", "choice(a,b)") and may
    name a rung `scheduler` with `r_min`, `r_max`, `eta` and a number of `trials` (d2ltui.cli.searching).
    """
    try:
        raw = load_toml(path)
    except OSError as err:  # a folder, no permission, a name too long
        raise UserError(f"{path}: cannot read ({err.strerror or type(err).__name__})") from None
    description = raw.pop("description", "")
    if not isinstance(description, str):
        raise UserError(f"{path}: description must be a string")
    sweep = raw.pop("sweep", None)
    if sweep is not None and not isinstance(sweep, dict):
        raise UserError(f"{path}: [sweep] must be a table")
    return raw, description, sweep


def preset_files() -> dict[str, Path]:
    """Preset name -> file, sorted by name; a saved preset shadows a shipped one of the same name."""
    found: dict[str, Path] = {}
    for folder in (SHIPPED_PRESETS_DIR, user_presets_dir()):
        if folder.is_dir():
            found.update({p.stem: p for p in sorted(folder.glob("*.toml")) if p.is_file()})
    return dict(sorted(found.items()))


def preset_names() -> list[str]:
    return list(preset_files())


def source_of(path: Path) -> str:
    return SHIPPED if path.parent == SHIPPED_PRESETS_DIR else SAVED


def list_presets() -> list[Preset]:
    """Every preset with its description, model and data; an unreadable saved one says why in its description."""
    out = []
    for name, path in preset_files().items():
        try:
            raw, description, sweep = read_sweep_file(path)
        except UserError as err:
            raw, description, sweep = {}, f"(unreadable: {err})", None
        model, data = raw.get("model", {}), raw.get("data", {})
        out.append(Preset(name, path, description, str(model.get("name", "?") if isinstance(model, dict) else "?"),
                          str(data.get("name", "?") if isinstance(data, dict) else "?"), source_of(path),
                          sweep is not None))
    return out


def load_preset(name: str) -> dict[str, Any]:
    """Preset `name`'s TOML as a dict, checked by RunConfig (UserError naming the file and key)."""
    path = preset_files().get(name)
    if path is None:
        raise UserError(f"no preset {name!r} (see `d2l-tui presets`)")
    raw, _ = read_preset_file(path)
    from_dict(raw, source=path.name)
    return raw


def save_preset(name: str, raw: dict[str, Any], description: str = "") -> Path:
    """Write a TOML-shaped config as saved preset `name`; returns its file. A bad name is a UserError."""
    if not NAME_RE.fullmatch(name):
        raise UserError(f"preset name {name!r}: use letters, digits, '-', '_' or '.'")
    text = dump_toml(from_dict(raw, source=name))
    if description:
        text = f"description = {_quoted(description)}\n\n{text}"
    folder = user_presets_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    from d2ltui.rundir.writer import atomic_write_bytes  # never a half-written preset

    atomic_write_bytes(path, text.encode())
    return path


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
