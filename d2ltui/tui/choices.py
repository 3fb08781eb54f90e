"""What the configuration panel offers: datasets by task, real devices, presets (shipped and saved)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import d2ltui
from d2ltui.config.schema import dump_toml, from_dict

SHIPPED_PRESETS = Path(d2ltui.__file__).parent / "presets"


def datasets_for(task: str) -> list[str]:
    """Names of the registered datasets whose task is `task` (metadata only, no torch)."""
    from d2ltui.data.registry import datasets_for as registered

    return list(registered(task))


def list_devices() -> list[tuple[str, str]]:
    """(label, value) for each device really present; value 'all:N' means every GPU (--nproc N).

    Imports torch: call it from a worker thread.
    """
    from d2ltui.engine.devices import list_devices as present

    found = []
    for dev in present():
        memory = f" ({dev.free_mb / 1024:.1f}/{dev.total_mb / 1024:.0f} GiB free)" if dev.total_mb else ""
        found.append((f"{dev.name} {dev.label}{memory}" if dev.name != "cpu" else dev.label, dev.name))
    gpus = sum(1 for _, name in found if name.startswith("cuda:"))
    if gpus > 1:
        found.append((f"all {gpus} GPUs", f"all:{gpus}"))
    return found


def user_presets_dir() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "d2ltui" / "presets"


def list_presets() -> dict[str, Path]:
    """Preset name -> file; a saved preset shadows a shipped one of the same name."""
    found: dict[str, Path] = {}
    for folder in (SHIPPED_PRESETS, user_presets_dir()):
        if folder.is_dir():
            found.update({p.stem: p for p in sorted(folder.glob("*.toml"))})
    return dict(sorted(found.items()))


def load_preset(path: Path) -> dict[str, Any]:
    """A preset's TOML as a dict, checked by RunConfig (raises UserError naming the key)."""
    from d2ltui.config.resolve import read_preset_file

    raw, _ = read_preset_file(path)
    from_dict(raw, source=path.name)
    return raw


def save_preset(name: str, raw: dict[str, Any]) -> Path:
    """Write the panel's config as a preset TOML file; returns where it went."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ValueError(f"preset name {name!r}: use letters, digits, '-', '_' or '.'")
    folder = user_presets_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(dump_toml(from_dict(raw, source=name)))
    return path


