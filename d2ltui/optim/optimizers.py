"""torch.optim optimizers from optim.name and the knobs the book discusses (momentum, nesterov, rho, betas, eps)."""

from __future__ import annotations

from typing import Any, Iterable

import torch

from d2ltui.config.schema import OptimConfig

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop,
    "adadelta": torch.optim.Adadelta, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
}


def optimizer_kwargs(cfg: OptimConfig, betas: tuple[float, float] | None = None) -> dict[str, Any]:
    """The torch keyword arguments optim.name takes from the config; eps 0 keeps torch's default."""
    kw: dict[str, Any] = {"weight_decay": cfg.weight_decay}
    if cfg.name == "sgd":
        kw |= {"momentum": cfg.momentum, "nesterov": cfg.nesterov}
    elif cfg.name == "rmsprop":
        kw |= {"alpha": cfg.rho, "momentum": cfg.momentum}
    elif cfg.name == "adadelta":
        kw |= {"rho": cfg.rho}
    elif cfg.name in ("adam", "adamw"):
        kw |= {"betas": betas or (cfg.beta1, cfg.beta2)}
    if cfg.eps and cfg.name != "sgd":
        kw["eps"] = cfg.eps
    return kw


def make_optimizer(cfg: OptimConfig, params: Iterable[torch.nn.Parameter],
                   lr: float | None = None, betas: tuple[float, float] | None = None) -> torch.optim.Optimizer:
    """The optimizer named by optim.name (at `lr` when given, else optim.lr; Adam's `betas` when given, else
    optim.beta1/beta2), weight decay applied by the optimizer itself. `params` may be groups, dicts of `params`
    and `lr_mult` (a multiple of the lr)."""
    lr = cfg.lr if lr is None else lr
    if cfg.name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {cfg.name!r}")
    return OPTIMIZERS[cfg.name](trainable_groups(params, lr), lr=lr, **optimizer_kwargs(cfg, betas))


def trainable_groups(params: Iterable, lr: float) -> list:
    """Parameters that require grad; groups (dicts with `lr_mult`) become torch param groups at lr x mult."""
    params = list(params)
    if not params or not isinstance(params[0], dict):
        return [p for p in params if p.requires_grad]
    groups = [{"params": [p for p in g["params"] if p.requires_grad], "lr": lr * g.get("lr_mult", 1.0)}
              for g in params]
    return [g for g in groups if g["params"]]
