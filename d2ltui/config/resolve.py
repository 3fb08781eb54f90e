"""Turn a TARGET (preset name, preset path or model name) plus overrides into a validated RunConfig.

Everything is checked before any work: unknown keys (with a suggestion), wrong types,
out-of-range values and impossible pairs (a language model on images) give one UserError
naming the key. Knobs the data fixes (classes, channels, vocabularies) are merged later,
once the data is loaded, by `merge_data_knobs`.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path
from typing import Any

from d2ltui.config.presets import preset_files, read_preset_file
from d2ltui.config.schema import SECTIONS, RunConfig, apply_overrides, check_section, from_dict
from d2ltui.data.registry import check_config, check_task, task_for
from d2ltui.errors import UserError
from d2ltui.zoo.registry import ModelSpec, all_specs, get_spec, resolve_knobs, suggest

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
    presets = preset_files()
    if target in presets:
        return read_preset_file(presets[target])
    names = [s.name for s in all_specs()]
    if target in names:
        spec = get_spec(target)
        return model_defaults(spec), f"{spec.name} on the default data of its task"
    raise UserError(f"unknown target {target!r}: not a preset, a .toml file or a model"
                    f"{suggest(target, list(presets) + names)}")


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


def validate(cfg: RunConfig) -> ModelSpec:
    """Check every field and the model/data pair; returns the model's spec. Raises UserError naming the key."""
    spec = get_spec(cfg.model.name)
    try:
        resolve_knobs(spec, cfg.model.knobs)
    except UserError as err:
        raise UserError(f"model.{str(err)[5:]}") if str(err).startswith("knob ") else err
    task = task_for(spec, cfg.data.name)
    check_task(cfg.data.name, task)
    if cfg.data.folds > 1 and task not in ("regression", "classification"):
        raise UserError(f"data.folds: K-fold cross-validation is for regression and classification, not {task}")
    check_config(cfg.data)
    for section in SECTIONS:  # every field's rule, as config.schema states it
        check_section(section, getattr(cfg, section))
    device = cfg.train.device
    if not DEVICE_RE.fullmatch(device.strip().lower()):
        raise UserError(f"train.device: {device!r} is not a device: use auto, cpu, cuda, cuda:N or mps")
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
