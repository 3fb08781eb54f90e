"""Shared layer helpers of the zoo: activations and norms by name, and named conv/dense units.

Models are built as `nn.Sequential`s of named children so that a layer table reads
`conv1, norm1, act1, pool1, ..., fc3, act3, drop3`: a unit numbered `i` names its layer
`conv{i}` or `fc{i}` and the norm, activation and dropout that follow it `norm{i}`, `act{i}`,
`drop{i}`. A norm of "none", an activation of None and a dropout of 0 add no module.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterable

import torch
from torch import nn

from d2ltui.zoo.catalog import NORMS

Named = list[tuple[str, nn.Module]]

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (relu, sigmoid, tanh, gelu)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}") from None


def conv_norm(kind: str, channels: int) -> nn.Module | None:
    """Norm over (N, C, H, W): BatchNorm2d, or GroupNorm with one group (a LayerNorm over C, H, W)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return None
    raise ValueError(f"unknown norm {kind!r}; expected one of {', '.join(NORMS)}")


def dense_norm(kind: str, features: int) -> nn.Module | None:
    """Norm over (N, features): BatchNorm1d or LayerNorm."""
    if kind == "batch":
        return nn.BatchNorm1d(features)
    if kind == "layer":
        return nn.LayerNorm(features)
    if kind == "none":
        return None
    raise ValueError(f"unknown norm {kind!r}; expected one of {', '.join(NORMS)}")


def dropout(p: float) -> nn.Module | None:
    """A Dropout module, or None when p is 0."""
    return nn.Dropout(p) if p > 0 else None


def present(*pairs: tuple[str, nn.Module | None]) -> Named:
    """The (name, module) pairs whose module is not None."""
    return [(name, m) for name, m in pairs if m is not None]


def conv_unit(i: int | str, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
              padding: int = 0, *, groups: int = 1, norm: str = "none", act: str | None = "relu") -> Named:
    """`conv{i}` then `norm{i}` and `act{i}` (the book's conv -> norm -> activation order)."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups)
    return present((f"conv{i}", conv), (f"norm{i}", conv_norm(norm, out_channels)),
                   (f"act{i}", activation(act) if act else None))


def dense_unit(i: int | str, in_features: int | None, out_features: int, *, norm: str = "none",
               act: str | None = None, p: float = 0.0) -> Named:
    """`fc{i}` (lazy when in_features is None) then `norm{i}`, `act{i}` and `drop{i}`."""
    fc = nn.LazyLinear(out_features) if in_features is None else nn.Linear(in_features, out_features)
    return present((f"fc{i}", fc), (f"norm{i}", dense_norm(norm, out_features)),
                   (f"act{i}", activation(act) if act else None), (f"drop{i}", dropout(p)))


def ordered(*groups: Iterable[tuple[str, nn.Module]]) -> OrderedDict[str, nn.Module]:
    """Concatenate groups of named modules into the OrderedDict an nn.Sequential takes."""
    out: OrderedDict[str, nn.Module] = OrderedDict()
    for group in groups:
        for name, module in group:
            if name in out:
                raise ValueError(f"duplicate layer name {name!r}")
            out[name] = module
    return out


def maybe(module: nn.Module | None, x: torch.Tensor) -> torch.Tensor:
    """Apply an optional module (a norm that may be switched off)."""
    return x if module is None else module(x)
