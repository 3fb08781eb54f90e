"""What Start resolves: a base config (the model's defaults or a loaded preset) plus the panel's overrides."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from d2ltui.config.schema import RunConfig, apply_overrides, from_dict
from d2ltui.tasks.defaults import train_defaults
from d2ltui.tasks.resolve import validate
from d2ltui.zoo.registry import get_spec

BAR_KNOBS = ("dropout", "norm", "num_classes")  # the model knobs the home screen's knob bar shows and sets


@dataclass
class RunPlan:
    """A base TOML-shaped config and the overrides that the panel and knob bar put on top of it."""

    base: dict[str, Any]
    overrides: list[str] = field(default_factory=list)
    kind: str = ""  # "cpu" or "gpu" when the base is the model's defaults for that device kind, else ""

    @classmethod
    def for_model(cls, name: str, kind: str = "cpu") -> "RunPlan":
        """The model's training defaults for a 'cpu' or 'gpu' device kind (the same as `d2l-tui train MODEL`)."""
        return cls(train_defaults(get_spec(name), kind), kind=kind)

    @property
    def model(self) -> str:
        return self.base.get("model", {}).get("name", "")

    def model_knobs(self) -> dict[str, Any]:
        """The base's model knobs beyond the knob bar's (e.g. the default init, a preset's activation)."""
        knobs = dict(self.base.get("model", {}))
        for name in ("name", *BAR_KNOBS):
            knobs.pop(name, None)
        return knobs

    def with_values(self, values: dict[str, Any]) -> "RunPlan":
        """A copy whose overrides are `section.key=value` for every value (lists and tuples as literals)."""
        overrides = [f"{key}={value!r}" if not isinstance(value, str) else f"{key}={value}"
                     for key, value in values.items()]
        return RunPlan(copy.deepcopy(self.base), overrides, self.kind)

    def config(self, device: str = "") -> RunConfig:
        """The validated RunConfig the run will hold (on `device` when given); a UserError names what is wrong."""
        cfg = from_dict(apply_overrides(copy.deepcopy(self.base), list(self.overrides)))
        if device:
            cfg.train.device = device
        validate(cfg)
        return cfg
