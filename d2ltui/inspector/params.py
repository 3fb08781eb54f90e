"""The parameters view: one row per parameter tensor (shape, count, trainable, mean, std), tied ones counted once.

Used by `d2l-tui inspect NAME --params` and the inspector's Parameters tab. The model is built for
real on the CPU (its values are what the init scheme made of them); lazy layers are marked with
the shape they took when the example input materialised them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin

from d2ltui.format import Shape
from d2ltui.zoo.registry import ModelSpec


@dataclass
class ParamRow:
    """One parameter tensor as a module path names it; a tied one points at the name that owns it."""

    name: str
    shape: list[int]
    count: int
    trainable: bool
    mean: float
    std: float
    tied_to: str | None = None  # the first name of the same tensor; then the row is not counted again
    lazy: bool = False  # its layer was lazy: `shape` is what it took when materialised


@dataclass
class ParamTable:
    rows: list[ParamRow]

    @property
    def unique_params(self) -> int:
        return sum(r.count for r in self.rows if r.tied_to is None)

    @property
    def trainable_params(self) -> int:
        return sum(r.count for r in self.rows if r.tied_to is None and r.trainable)

    @property
    def tied_tensors(self) -> int:
        return sum(r.tied_to is not None for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"parameters": [asdict(r) for r in self.rows], "unique_params": self.unique_params,
                "trainable_unique_params": self.trainable_params, "tied_tensors": self.tied_tensors}


def lazy_modules(model: nn.Module) -> set[str]:
    """Names of the modules still lazy (call before materialising; they change class afterwards)."""
    return {name for name, m in model.named_modules(remove_duplicate=False) if isinstance(m, LazyModuleMixin)}


def parameter_table(model: nn.Module, lazy: set[str] = frozenset()) -> ParamTable:
    """Every parameter under every name it is reachable by; repeats of one tensor are marked tied."""
    first: dict[int, str] = {}
    rows = []
    for name, p in model.named_parameters(remove_duplicate=False):
        owner = name.rpartition(".")[0]
        if isinstance(p, nn.UninitializedParameter):
            rows.append(ParamRow(name, [], 0, p.requires_grad, float("nan"), float("nan"), None, True))
            continue
        values = p.detach().float()
        std = values.std().item() if p.numel() > 1 else 0.0
        tied = first.setdefault(id(p), name)
        rows.append(ParamRow(name, list(p.shape), p.numel(), p.requires_grad, values.mean().item(), std,
                             None if tied == name else tied, owner in lazy))
    return ParamTable(rows)


def model_parameters(spec: ModelSpec, knobs: dict[str, Any], shapes: tuple[Shape, ...], seed: int = 0) -> ParamTable:
    """The parameter table of `spec` built on the CPU for `shapes` with `knobs` (init included)."""
    from d2ltui.zoo.build import construct_model, materialise
    from d2ltui.zoo.init import init_weights

    torch.manual_seed(seed)
    model = construct_model(spec, knobs)
    lazy = lazy_modules(model)
    materialise(model, spec, knobs, shapes)
    init_weights(model, knobs.get("init", "default"))
    return parameter_table(model, lazy)


