"""Run configuration: dataclasses, TOML load/dump, `--set section.key=value` overrides, validation.

A config has four sections. `[model]` holds `name` plus any knob of that architecture
(checked against the zoo registry); `[data]`, `[optim]` and `[train]` have fixed fields.
Every error is a UserError naming the key, raised before any work starts.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from d2ltui.errors import UserError
from d2ltui.paths import DEFAULT_DATA_ROOT
from d2ltui.config.overrides import coerce, parse_text, qualify_overrides, split_override
from d2ltui.format import suggest


def rule(default: Any = dataclasses.MISSING, *, factory: Any = dataclasses.MISSING, **meta: Any) -> Any:
    """A config field with its rule in the metadata: min/max (inclusive), gt/lt (exclusive),
    choices (of the value, or of each item of a list), off (a value allowed outside the bounds),
    pattern (a regular expression the whole text matches, any case) with `says` (the rule in words)."""
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


# model.task: what your own model (model.name = path/to/file.py:Name, module:Name, torchvision:NAME) trains
# for; "" lets the data pick (classification by default). The book's models have their own task.
# The names are d2ltui.tasks.spec's (config cannot import the tasks: a test keeps the two consistent).
MODEL_TASKS = ("classification", "regression", "language-model", "seq2seq", "detection", "gan")


@dataclass
class ModelConfig:
    name: str = "lenet"
    knobs: dict[str, Any] = field(default_factory=dict)  # only the knobs set explicitly
    task: str = rule("", choices=MODEL_TASKS, off="")  # your own model's task; "" lets the data pick
    # the run's copy of your own model's file, set when the config is read from a run folder that keeps one
    # (d2ltui/rundir/source.py); never written to config.toml: the model is then built from the copy
    copy: str = ""


# data.augment: torchvision transforms.v2 with the book's parameters (section 14.1), drawn per image
AUGMENTS: dict[str, str] = {
    "flip": "RandomHorizontalFlip",
    "vflip": "RandomVerticalFlip",
    "crop": "RandomResizedCrop, scale 0.1-1, ratio 0.5-2 (the book's shape_aug)",
    "resized-crop": "RandomResizedCrop with torchvision's defaults (the book's fine-tuning)",
    "brightness": "ColorJitter brightness 0.5",
    "hue": "ColorJitter hue 0.5",
    "jitter": "ColorJitter brightness, contrast, saturation and hue 0.5 (the book's color_aug)",
}


@dataclass
class DataConfig:
    name: str = "shapes"
    root: str = DEFAULT_DATA_ROOT  # torchvision's layout for the real image sets
    path: str = ""  # text-file and csv: the file to read
    target: str = ""  # csv: the target column
    batch_size: int = rule(128, min=1, max=1_000_000)
    resize: int = rule(0, min=8, max=1024, off=0)  # 0 keeps the dataset's own size
    channels: int = rule(0, choices=(0, 1, 3))  # 0 keeps the dataset's own channels (shapes: 1)
    augment: list[str] = rule(factory=list, choices=tuple(AUGMENTS))  # drawn per image, training batches only
    num_train: int = rule(0, min=0)  # 0 means the dataset's default size (embedded sets)
    num_val: int = rule(0, min=0)
    num_steps: int = rule(32, min=2)  # sequence length for language models and seq2seq
    partition: str = rule("windows", choices=("windows", "sequential"))  # language models: the book's or one stream
    folds: int = rule(1, min=1, max=20)  # K-fold cross-validation when > 1 (tabular data)
    impute: str = rule("mean", choices=("mean", "median", "most_frequent", "constant", "drop_rows",
                                        "drop_columns"))  # tabular: how missing values are filled
    download: bool = True
    seed: int = rule(0, min=0)
    classes: list = rule(factory=list)  # a subset of the classes (indices or names), relabelled from 0


OPTIMIZERS = ("sgd", "adam", "adamw", "adagrad", "rmsprop", "adadelta")  # torch.optim, section 12
# "none", "cosine" and "step" are the lr_factor schedules of earlier runs; the others the book's (section 12.11)
SCHEDULES = ("none", "cosine", "step", "factor", "multi-factor", "cosine-warmup", "one-cycle")
WARMED = ("none", "cosine", "step", "cosine-warmup")  # the schedules optim.warmup_steps applies to


@dataclass
class OptimConfig:
    """`applies` names the optimizers (or schedules) a field is used by; others ignore it."""

    name: str = rule("sgd", choices=OPTIMIZERS)
    lr: float = rule(0.1, gt=0, lt=1e4)  # a GAN: the discriminator's; adadelta: a multiple of its step (the book: 1)
    lr_g: float = rule(0.0, min=0, lt=1e4)  # a GAN: the generator's learning rate; 0 is optim.lr
    momentum: float = rule(0.0, min=0, lt=1, applies=("sgd", "rmsprop"))
    weight_decay: float = rule(0.0, min=0)
    clip: float = rule(0.0, min=0)  # gradient norm clip, 0 is off
    schedule: str = rule("none", choices=SCHEDULES)
    warmup_steps: int = rule(0, min=0, applies=WARMED)  # linear warm-up over the first N optimizer steps
    head_lr_mult: float = rule(1.0, gt=0, max=1e4)  # the output layer's lr as a multiple of lr (fine-tuning: 10)
    nesterov: bool = rule(False, applies=("sgd",))  # Nesterov momentum (needs momentum > 0)
    rho: float = rule(0.9, gt=0, lt=1, applies=("rmsprop", "adadelta"))  # RMSProp's alpha (the book's gamma), Adadelta's rho
    beta1: float = rule(0.9, min=0, lt=1, applies=("adam", "adamw"))
    beta2: float = rule(0.999, min=0, lt=1, applies=("adam", "adamw"))
    eps: float = rule(0.0, min=0, lt=1, applies=OPTIMIZERS[1:])  # 0 keeps torch's default for the optimizer
    factor: float = rule(0.9, gt=0, max=1, applies=("factor", "multi-factor"))  # x factor each epoch / at each milestone
    milestones: list = rule(factory=list, min=1, applies=("multi-factor",))  # epochs at which lr is multiplied by factor
    min_lr: float = rule(0.0, min=0, applies=("factor", "cosine-warmup"))  # factor's floor, cosine-warmup's end
    pct_start: float = rule(0.3, gt=0, lt=1, applies=("one-cycle",))  # one-cycle: the rising share of the steps


def check_optim(optim: OptimConfig) -> None:
    """The pairs a single field's rule cannot see; a UserError naming the key."""
    if optim.nesterov and not optim.momentum and optim.name == "sgd":
        raise UserError("optim.nesterov: Nesterov momentum needs optim.momentum > 0")
    if optim.warmup_steps and optim.schedule not in WARMED:
        why = "one-cycle warms up over optim.pct_start of the steps" if optim.schedule == "one-cycle" else \
            f"it applies to the schedules {', '.join(WARMED)}"
        raise UserError(f"optim.warmup_steps: schedule {optim.schedule} takes no warm-up ({why})")
    if optim.schedule == "multi-factor" and not optim.milestones:
        raise UserError("optim.milestones: schedule multi-factor needs the epochs to multiply lr by optim.factor, "
                        "e.g. optim.milestones=[15, 30]")
    if optim.min_lr and optim.schedule in ("factor", "cosine-warmup") and optim.min_lr >= optim.lr:
        raise UserError(f"optim.min_lr: {optim.min_lr:g} must be below optim.lr ({optim.lr:g})")


def unused_fields(optim: OptimConfig) -> list[str]:
    """'optim.KEY=VALUE (used by ...)' for each field set away from its default that optim.name or
    optim.schedule ignores (a note, not an error: a model's defaults may set momentum for sgd)."""
    out = []
    for f in dataclasses.fields(OptimConfig):
        applies = f.metadata.get("applies")
        value = getattr(optim, f.name)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        if applies and value != default and optim.name not in applies and optim.schedule not in applies:
            out.append(f"optim.{f.name}={value} (used by {', '.join(applies)})")
    return out


@dataclass
class TrainConfig:
    epochs: int = rule(10, min=1, max=100000)
    seed: int = rule(0, min=0)
    device: str = rule("auto", pattern=r"auto|cpu|mps|cuda(:\d+)?", says="is not a device: use auto, cpu, cuda, cuda:N or mps")
    max_steps: int = rule(0, min=0)  # 0 is no limit; stops early after this many optimizer steps
    checkpoint_every: int = rule(0, min=0)  # also checkpoint every N steps; 0 only at epoch ends
    log_every: int = rule(10, min=1)  # a train metrics line every N steps
    layer_stats_every: int = rule(50, min=0, max=1_000_000)  # layers.jsonl at step 1 and every N steps; 0 is off
    # autocast: 32 (none), bf16-mixed, 16-mixed (fp16 with a GradScaler), auto (bf16-mixed on a CUDA
    # device that supports it, else 32); an old `amp` key maps through AMP_TO_PRECISION
    precision: str = rule("auto", choices=("auto", "32", "bf16-mixed", "16-mixed"))
    channels_last: bool = True  # on CUDA, for image models
    compile: bool = False  # torch.compile the model; where it cannot compile here, one line and eager
    init_from: str = ""  # start from a run (id, prefix or folder) or torchvision:resnet18 (ImageNet weights)
    freeze: str = rule("none", choices=("none", "body"))  # body: only the output layer trains
    tensorboard: bool = False  # also write TensorBoard event files into the run's tensorboard/ folder


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "model": {"name": self.model.name, **({"task": self.model.task} if self.model.task else {}),
                      **self.model.knobs},
            "data": dataclasses.asdict(self.data),
            "optim": dataclasses.asdict(self.optim),
            "train": dataclasses.asdict(self.train),
        }
        return out

# train.amp, the key before train.precision: old configs (and run folders) still load
AMP_TO_PRECISION = {"auto": "auto", "bf16": "bf16-mixed", "off": "32"}


def _legacy(section: str, values: dict[str, Any]) -> dict[str, Any]:
    """An old `train.amp` read as train.precision (an explicit precision wins)."""
    if section != "train" or "amp" not in values:
        return values
    values = dict(values)
    amp = values.pop("amp")
    if amp not in AMP_TO_PRECISION:
        raise UserError(f"train.amp: unknown {amp!r}; it is train.precision now: {rule_text('train.precision')}")
    values.setdefault("precision", AMP_TO_PRECISION[amp])
    return values


SECTIONS = {"data": DataConfig, "optim": OptimConfig, "train": TrainConfig}
RULED = {"model": ModelConfig, **SECTIONS}  # every dataclass whose fields carry rules


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def field_rule(key: str) -> dict[str, Any]:
    """The rule of config key "section.name" (empty when the field has none)."""
    section, _, name = key.partition(".")
    for f in dataclasses.fields(RULED[section]):
        if f.name == name:
            return dict(f.metadata)
    raise KeyError(key)


def choices(key: str) -> tuple[Any, ...]:
    """The allowed values of a choice field, e.g. choices("train.amp") -> ("auto", "bf16", "off")."""
    return tuple(field_rule(key)["choices"])


def rule_text(key: str) -> str:
    """The rule of `key` in words: "must be > 0 and < 10000", "must be 0 or >= 8 and <= 1024"."""
    r = field_rule(key)
    if "pattern" in r:
        return r["says"]
    if "choices" in r:
        return f"choose from {', '.join(map(str, r['choices']))}"
    parts = [f"{op} {_num(r[k])}" for k, op in (("min", ">="), ("gt", ">"), ("max", "<="), ("lt", "<")) if k in r]
    text = "must be " + " and ".join(parts)
    return text.replace("must be ", f"must be {_num(r['off'])} or ", 1) if "off" in r else text


def problem(key: str, value: Any) -> str | None:
    """Why `value` breaks the rule of config key `key` ("section.name"), or None when it is allowed."""
    r = field_rule(key)
    if "off" in r and value == r["off"]:
        return None
    if "pattern" in r:
        ok = isinstance(value, str) and re.fullmatch(r["pattern"], value.strip().lower())
        return None if ok else f"{value!r} {r['says']}"
    if "choices" in r:
        bad = [v for v in (value if isinstance(value, list) else [value]) if v not in r["choices"]]
        if bad and not isinstance(bad[0], str):
            return f"{bad[0]!r} is not one of {', '.join(map(str, r['choices']))}"
        if bad:
            near = suggest(bad[0], [str(c) for c in r["choices"]])
            return f"unknown {', '.join(map(repr, bad))}{near}; {rule_text(key)}"
        return None
    if "off" in r and value == r["off"]:
        return None
    if isinstance(value, list):  # the bounds hold for each item (whole numbers)
        bad = [v for v in whole_numbers(value) if not isinstance(v, int) or isinstance(v, bool) or problem(key, v)]
        return f"{bad[0]!r}: each item must be a whole number {rule_text(key)[8:]}" if bad else None
    ok = (("min" not in r or value >= r["min"]) and ("max" not in r or value <= r["max"])
          and ("gt" not in r or value > r["gt"]) and ("lt" not in r or value < r["lt"]))
    return None if ok else f"{value!r} {rule_text(key)}"


def whole_numbers(items: list) -> list:
    """A list's items with whole-number text ("15") read as ints (a list field with bounds holds numbers)."""
    return [int(v) if isinstance(v, str) and v.strip().lstrip("-").isdigit() else v for v in items]


def check_section(section: str, values: Any) -> None:
    """A UserError naming the first field of `values` (a DataConfig, OptimConfig or TrainConfig) that breaks its rule."""
    for f in dataclasses.fields(values):
        if f.metadata and (why := problem(f"{section}.{f.name}", getattr(values, f.name))):
            raise UserError(f"{section}.{f.name}: {why}")
    if isinstance(values, OptimConfig):
        check_optim(values)


def from_dict(raw: dict[str, Any], source: str = "config") -> RunConfig:
    """Build a RunConfig from nested dicts (TOML shape); unknown keys are errors with a suggestion."""
    cfg = RunConfig()
    for section, values in raw.items():
        if section == "model":
            if not isinstance(values, dict):
                raise UserError(f"{source}: [model] must be a table")
            values = dict(values)
            name, task = values.pop("name", cfg.model.name), values.pop("task", "")
            for key, value in (("name", name), ("task", task)):
                if not isinstance(value, str):
                    raise UserError(f"model.{key}: expected str, got {value!r}")
            cfg.model = ModelConfig(name=name, knobs=values, task=task)
            if why := problem("model.task", task):
                raise UserError(f"model.task: {why}")
            continue
        if section not in SECTIONS:
            raise UserError(f"{source}: unknown section [{section}]{suggest(section, ['model', *SECTIONS])}")
        if not isinstance(values, dict):
            raise UserError(f"{source}: [{section}] must be a table")
        target = getattr(cfg, section)
        values = _legacy(section, values)
        names = [f.name for f in dataclasses.fields(target)]
        for key, value in values.items():
            if key not in names:
                raise UserError(f"unknown key {section}.{key}{suggest(key, names)}")
            value = coerce(f"{section}.{key}", value, getattr(target, key))
            if isinstance(value, list) and set(field_rule(f"{section}.{key}")) & {"min", "max", "gt", "lt"}:
                value = whole_numbers(value)  # a list field with bounds holds numbers ("15" read as 15)
            setattr(target, key, value)
    return cfg


def normalise_overrides(overrides: list[str]) -> list[str]:
    """Give bare keys their section: a field of one section (lr, epochs, batch_size) or else a model knob (dropout)."""
    return qualify_overrides(overrides, {s: {f.name for f in dataclasses.fields(kind)} for s, kind in SECTIONS.items()})


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `section.key=value` strings onto a TOML-shaped dict (values read by config.overrides.parse_text)."""
    for item in overrides:
        key, value = split_override(item, what="section.key=value")
        section, dot, name = key.partition(".")
        if not dot or not section or not name:
            raise UserError(f"--set {item!r}: expected section.key=value, e.g. optim.lr=0.05")
        raw.setdefault(section, {})[name] = parse_text(value)
    return raw


def load_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise UserError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{path}: not valid TOML ({err})") from None


def dump_toml(cfg: RunConfig) -> str:
    """TOML text that `load_toml` + `from_dict` read back into the same config."""
    lines: list[str] = []
    for section, values in cfg.to_dict().items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")
