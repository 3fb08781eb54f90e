"""The configuration panel's fields: config keys, labels, validators and the config defaults."""

from __future__ import annotations

from typing import Any

from textual.validation import Function, Integer, Number

from d2ltui.config.schema import DataConfig, OptimConfig, TrainConfig
from d2ltui.data.registry import AUGMENTS



def _augment_ok(text: str) -> bool:
    return all(a.strip() in AUGMENTS for a in text.split(",") if a.strip())


# (field id "section.key", label, validators); defaults come from the config dataclasses
NUMBERS = (
    ("data.batch_size", "batch size", [Integer(1, 65536)]),
    ("train.epochs", "epochs", [Integer(1, 100000)]),
    ("data.num_train", "num_train", [Integer(0, 10**8)]),
    ("optim.lr", "lr", [Number(1e-8, 10.0)]),
    ("optim.weight_decay", "decay", [Number(0.0, 1.0)]),
    ("data.resize", "resize", [Integer(0, 4096)]),
    ("train.seed", "seed", [Integer(0, 2**31 - 1)]),
    ("data.augment", "augment",
     [Function(_augment_ok, "use a comma list of " + ", ".join(AUGMENTS))]),
)
DEFAULTS: dict[str, Any] = {f"data.{k}": v for k, v in vars(DataConfig()).items()}
DEFAULTS |= {f"optim.{k}": v for k, v in vars(OptimConfig()).items()}
DEFAULTS |= {f"train.{k}": v for k, v in vars(TrainConfig()).items()}


def field_id(key: str) -> str:
    """The widget id of a config key: 'optim.lr' -> 'cfg-optim-lr'."""
    return "cfg-" + key.replace(".", "-")
