"""Turn a TARGET (preset name, preset path or model name) plus overrides into a validated RunConfig.

Everything is checked before any work: unknown keys (with a suggestion), wrong types,
out-of-range values and impossible pairs (a language model on images) give one UserError
naming the key. Knobs the data fixes (classes, channels, vocabularies) are merged later,
once the data is loaded, by `merge_data_knobs`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from d2ltui.config.presets import preset_files, read_preset_file
from d2ltui.config.overrides import override_value
from d2ltui.config.schema import (SECTIONS, RunConfig, apply_overrides, check_section, from_dict,
                                 normalise_overrides, problem)
from d2ltui.data.registry import check_config, check_task, task_for
from d2ltui.tasks.finetune import is_torchvision, resolve_source
from d2ltui.tasks.spec import TaskSpec, task_names, task_spec
from d2ltui.errors import UserError, require_module
from d2ltui.zoo.references import is_reference
from d2ltui.zoo.registry import ModelSpec, all_specs, get_spec, resolve_knobs, spec_of, suggest


def model_defaults(spec: ModelSpec, device: str | None = "auto") -> dict[str, Any]:
    """A TOML-shaped config training `spec` by default on `device` (see tasks/defaults.py, their one owner)."""
    from d2ltui.tasks.defaults import device_kind, train_defaults

    return train_defaults(spec, device_kind(device))


# Models that eat one dataset only, and that dataset (its rows are (query, keys, values), no other model's input).
PAIRED_DATA = {"nadaraya-watson": "kernel-regression"}


def check_pairing(model: str, data: str) -> None:
    """A paired model trains on its dataset only, and a paired dataset feeds its model only."""
    want = PAIRED_DATA.get(model)
    if want and data != want:
        raise UserError(f"data.name={data} does not fit model {model}, which trains on data.name={want}")
    owner = next((m for m, d in PAIRED_DATA.items() if d == data), None)
    if owner and model != owner:
        raise UserError(f"data.name={data} only feeds model {owner} (its rows are a query, keys and values)")


def target_dict(target: str | None, device: str | None = "auto", task: str = "") -> tuple[dict[str, Any], str]:
    """The TOML-shaped dict and description a TARGET names (a model's defaults depend on its `device`;
    your own model's, on its `task`)."""
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
    if is_reference(target):
        spec = get_spec(target, task or None)
        raw = model_defaults(spec, device)
        return raw, f"{spec.name} on the default data of the {spec.task} task"
    names = [s.name for s in all_specs()]
    if target in names:
        spec = get_spec(target)
        return model_defaults(spec, device), f"{spec.name} on the default data of its task"
    raise UserError(f"unknown target {target!r}: not a preset, a .toml file, a model or path/to/file.py:Name"
                    f"{suggest(target, list(presets) + names)}")


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte: not a file
        return False


def resolve(target: str | None, overrides: list[str] = (), device: str | None = None) -> tuple[RunConfig, str]:
    """A validated RunConfig for TARGET with `--set` overrides and `--device` applied, and its description."""
    overrides = normalise_overrides(list(overrides))
    raw, description = target_dict(target, device or _device_override(overrides),
                                   override_value(overrides, "model.task") or "")
    raw = apply_overrides(raw, overrides)
    cfg = from_dict(raw, source=target or "config")
    if device:
        cfg.train.device = device
    validate(cfg)
    return cfg, description


def _device_override(overrides: list[str]) -> str:
    """The train.device an override list sets (the last one wins), else auto."""
    value = override_value(overrides, "train.device")
    return value if value is not None and not problem("train.device", value) else "auto"


def validate(cfg: RunConfig) -> ModelSpec:
    """Check every field and the model/data pair; returns the model's spec. Raises UserError naming the key."""
    check_section("model", cfg.model)
    spec = spec_of(cfg)
    try:
        resolve_knobs(spec, cfg.model.knobs)
    except UserError as err:
        raise UserError(f"model.{str(err)[5:]}") if str(err).startswith("knob ") else err
    task = task_for(spec, cfg.data.name)
    check_task(cfg.data.name, task)
    check_pairing(cfg.model.name, cfg.data.name)
    check_task_knobs(cfg, task_spec(task))
    check_config(cfg.data)
    for section in SECTIONS:  # every field's rule, as config.schema states it
        check_section(section, getattr(cfg, section))
    if cfg.train.tensorboard:
        require_module("tensorboard", "TensorBoard", "tensorboard")
    if is_torchvision(cfg.train.init_from):
        resolve_source(cfg.train.init_from, cfg.model.name)
    return spec


def check_task_knobs(cfg: RunConfig, task: TaskSpec) -> None:
    """The generic knobs a task does not honour (its spec says which) are refused, not silently ignored."""
    if cfg.data.folds > 1 and not task.folds:
        folds = ", ".join(t for t in task_names() if task_spec(t).folds)
        raise UserError(f"data.folds: K-fold cross-validation is for {folds}, not {task.name}")
    if not task.finetune:
        for key, value, unset in (("train.init_from", cfg.train.init_from, ""), ("train.freeze", cfg.train.freeze, "none")):
            if value != unset:
                raise UserError(f"{key}={value}: a {task.name} run cannot start from other weights or freeze "
                                f"layers; leave {key} unset")


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
