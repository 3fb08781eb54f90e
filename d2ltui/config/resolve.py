"""Turn a TARGET (preset name, preset path or model name) plus overrides into a validated RunConfig.

Everything is checked before any work: unknown keys (with a suggestion), wrong types,
out-of-range values and impossible pairs (a language model on images) give one UserError
naming the key. Knobs the data fixes (classes, channels, vocabularies) are merged later,
once the data is loaded, by `merge_data_knobs`.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from d2ltui.config.schema import RunConfig, apply_overrides, from_dict, load_toml
from d2ltui.data.registry import check_config, check_task
from d2ltui.errors import UserError
from d2ltui.zoo.registry import ModelSpec, all_specs, get_spec, resolve_knobs, suggest

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "cosine", "step")
AMP = ("auto", "bf16", "off")
DEVICE_RE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")

# What `d2l-tui train MODEL` trains on when no preset says otherwise: embedded data, the book's settings.
TASK_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "regression": {"data": {"name": "synthetic-regression", "batch_size": 10}, "optim": {"lr": 0.03},
                   "train": {"epochs": 3}},
    "classification": {"data": {"name": "shapes", "batch_size": 128}, "optim": {"lr": 0.1}},
    "language-model": {"data": {"name": "python-docs", "batch_size": 1024, "num_steps": 32},
                       "optim": {"lr": 1.0, "clip": 1.0}, "train": {"epochs": 10}},
    "seq2seq": {"data": {"name": "reverse", "batch_size": 128}, "optim": {"name": "adam", "lr": 0.005, "clip": 1.0},
                "train": {"epochs": 10}},
    "detection": {"data": {"name": "bananas", "batch_size": 32},
                  "optim": {"lr": 0.2, "weight_decay": 5e-4}, "train": {"epochs": 20}},
}


@dataclass(frozen=True)
class Preset:
    """A shipped experiment: its name, file, one-line description, model and data."""

    name: str
    path: Path
    description: str
    model: str
    data: str


def read_preset_file(path: Path) -> tuple[dict[str, Any], str]:
    """The TOML dict of a preset or config file (without `description`) and its description."""
    try:
        raw = load_toml(path)
    except OSError as err:  # a folder, no permission, a name too long
        raise UserError(f"{path}: cannot read ({err.strerror or type(err).__name__})") from None
    description = raw.pop("description", "")
    if not isinstance(description, str):
        raise UserError(f"{path}: description must be a string")
    return raw, description


def list_presets() -> list[Preset]:
    out = []
    for path in sorted(PRESETS_DIR.glob("*.toml"), key=lambda p: p.stem):
        raw, description = read_preset_file(path)
        out.append(Preset(path.stem, path, description, str(raw.get("model", {}).get("name", "?")),
                          str(raw.get("data", {}).get("name", "?"))))
    return out


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


def model_defaults(spec: ModelSpec) -> dict[str, Any]:
    """A TOML-shaped config training `spec` on the default embedded data of its task."""
    raw = copy.deepcopy(TASK_DEFAULTS[spec.task])
    raw["model"] = {"name": spec.name}
    if spec.input_kind == "image":
        side = spec.default_input[0][-1]
        if side != 28:
            raw["data"]["resize"] = side
    elif spec.input_kind == "features" and spec.task == "classification":
        raw["data"]["name"] = "moons"
    return raw


def target_dict(target: str | None) -> tuple[dict[str, Any], str]:
    """The TOML-shaped dict and description a TARGET names."""
    if not target:
        raise UserError("train needs a TARGET: a preset (see `d2l-tui presets`), a .toml file or a model name")
    try:
        path = Path(target).expanduser()
    except RuntimeError:  # "~someone" with no such user: not a path of ours
        path = Path(target)
    if target.endswith(".toml") or _is_file(path):
        return read_preset_file(path)
    if "/" not in target and _is_file(PRESETS_DIR / f"{target}.toml"):
        return read_preset_file(PRESETS_DIR / f"{target}.toml")
    names = [s.name for s in all_specs()]
    if target in names:
        spec = get_spec(target)
        return model_defaults(spec), f"{spec.name} on the default data of its task"
    raise UserError(f"unknown target {target!r}: not a preset, a .toml file or a model"
                    f"{suggest(target, preset_names() + names)}")


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte: not a file
        return False


def resolve(target: str | None, overrides: list[str] = (), device: str | None = None) -> tuple[RunConfig, str]:
    """A validated RunConfig for TARGET with `--set` overrides and `--device` applied, and its description."""
    raw, description = target_dict(target)
    raw = apply_overrides(raw, normalise_overrides(list(overrides)))
    cfg = from_dict(raw, source=target or "config")
    if device:
        cfg.train.device = device
    validate(cfg)
    return cfg, description


def normalise_overrides(overrides: list[str]) -> list[str]:
    """Give bare keys their section: a field of one section (lr, epochs, batch_size) or else a model knob (dropout)."""
    import dataclasses

    from d2ltui.config.schema import SECTIONS

    out = []
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if sep and key and "." not in key:
            owners = [s for s, kind in SECTIONS.items() if key in {f.name for f in dataclasses.fields(kind)}]
            if key == "name" or len(owners) > 1:
                choices = " or ".join(f"{s}.{key}" for s in (["model"] if key == "name" else []) + owners)
                raise UserError(f"--set {key}: ambiguous, write {choices}")
            item = f"{owners[0] if owners else 'model'}.{key}={value}"
        out.append(item)
    return out


def _check(ok: bool, key: str, value: Any, rule: str) -> None:
    if not ok:
        raise UserError(f"{key}: {value!r} {rule}")


def _choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UserError(f"{key}: unknown {value!r}{suggest(value, list(choices))}; choose from {', '.join(choices)}")


def validate(cfg: RunConfig) -> ModelSpec:
    """Check every field and the model/data pair; returns the model's spec. Raises UserError naming the key."""
    spec = get_spec(cfg.model.name)
    try:
        resolve_knobs(spec, cfg.model.knobs)
    except UserError as err:
        raise UserError(f"model.{str(err)[5:]}") if str(err).startswith("knob ") else err
    check_task(cfg.data.name, spec.task)
    check_config(cfg.data)
    o, t = cfg.optim, cfg.train
    _choice("optim.name", o.name, OPTIMIZERS)
    _check(o.lr > 0 and o.lr < 1e4, "optim.lr", o.lr, "must be > 0 (and below 1e4)")
    _check(0 <= o.momentum < 1, "optim.momentum", o.momentum, "must be in [0, 1)")
    _check(o.weight_decay >= 0, "optim.weight_decay", o.weight_decay, "must be >= 0")
    _check(o.clip >= 0, "optim.clip", o.clip, "must be >= 0 (0 is off)")
    _choice("optim.schedule", o.schedule, SCHEDULES)
    _check(o.warmup_steps >= 0, "optim.warmup_steps", o.warmup_steps, "must be >= 0")
    _check(1 <= t.epochs <= 100000, "train.epochs", t.epochs, "must be >= 1")
    _check(t.seed >= 0, "train.seed", t.seed, "must be >= 0")
    _check(t.max_steps >= 0, "train.max_steps", t.max_steps, "must be >= 0 (0 is no limit)")
    _check(t.checkpoint_every >= 0, "train.checkpoint_every", t.checkpoint_every, "must be >= 0 (0: epoch ends only)")
    _check(t.log_every >= 1, "train.log_every", t.log_every, "must be >= 1")
    _choice("train.amp", t.amp, AMP)
    _check(bool(DEVICE_RE.fullmatch(t.device.strip().lower())), "train.device", t.device,
           "is not a device: use auto, cpu, cuda, cuda:N or mps")
    _check(cfg.data.batch_size <= 1_000_000, "data.batch_size", cfg.data.batch_size, "is too large")
    return spec


def merge_data_knobs(cfg: RunConfig, spec: ModelSpec, data_knobs: dict[str, Any], data_name: str) -> dict[str, Any]:
    """All knobs of the model: the user's, then those the data fixes; a conflict is a UserError."""
    knobs = dict(cfg.model.knobs)
    for key, value in data_knobs.items():
        if key not in spec.knobs:
            continue
        if key in knobs and spec.knobs[key].parse(knobs[key]) != value:
            hint = f" (set data.channels={knobs[key]} to feed it)" if key == "in_channels" else ""
            raise UserError(f"model.{key}={knobs[key]} conflicts with data {data_name}, which has {key}={value}{hint}")
        knobs[key] = value
    return resolve_knobs(spec, knobs)
