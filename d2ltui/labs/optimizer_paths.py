"""Optimizer paths (sections 12.3-12.10): the book's 2-D objectives, each optimizer's steps over the contours.

The optimizers are d2ltui.optim's (torch.optim) stepping a 2-element parameter, in float64 like the book's floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from d2ltui.config.schema import OptimConfig
from d2ltui.data.shapes import one_thread
from d2ltui.labs.catalog import names
from d2ltui.labs.figure import Curves, Figure, Table, rounded
from d2ltui.optim import make_optimizer


@dataclass(frozen=True)
class Objective:
    f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    text: str
    view: tuple[tuple[float, float], tuple[float, float]]  # (x1 range, x2 range), the book's show_trace_2d
    start: tuple[float, float]
    minimum: tuple[float, float]


OBJECTIVES = {
    "ill-conditioned": Objective(lambda x1, x2: 0.1 * x1**2 + 2 * x2**2, "f = 0.1 x1^2 + 2 x2^2",
                                 ((-5.5, 1.0), (-3.0, 1.0)), (-5.0, -2.0), (0.0, 0.0)),
    "elliptic": Objective(lambda x1, x2: x1**2 + 2 * x2**2, "f = x1^2 + 2 x2^2",
                          ((-5.5, 1.0), (-3.0, 1.0)), (-5.0, -2.0), (0.0, 0.0)),
    "rosenbrock": Objective(lambda x1, x2: (1 - x1) ** 2 + 100 * (x2 - x1**2) ** 2, "f = (1 - x1)^2 + 100 (x2 - x1^2)^2",
                            ((-2.0, 2.0), (-1.0, 3.0)), (-1.5, 2.0), (1.0, 1.0)),
}


def optim_config(method: str, lr: float, momentum: float, rho: float, beta1: float, beta2: float,
                 eps: float) -> OptimConfig:
    """The training config's optimizer for a lab name: gd is sgd without momentum, momentum and nesterov sgd with."""
    name = {"gd": "sgd", "momentum": "sgd", "nesterov": "sgd"}.get(method, method)
    return OptimConfig(name=name, lr=lr, momentum=momentum if method in ("momentum", "nesterov", "rmsprop") else 0.0,
                       nesterov=method == "nesterov", rho=rho, beta1=beta1, beta2=beta2, eps=eps)


def trajectory(objective: Objective, cfg: OptimConfig, start: tuple[float, float], steps: int) -> list[tuple[float, float]]:
    """The positions (x1, x2) from `start` after each of `steps` optimizer steps; ends early once not finite."""
    x = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer(cfg, [x])
    out = [tuple(start)]
    with one_thread():
        return _steps(objective, optimizer, x, out, steps)


def _steps(objective: Objective, optimizer: torch.optim.Optimizer, x: torch.Tensor, out: list, steps: int) -> list:
    for _ in range(steps):
        optimizer.zero_grad()
        objective.f(x[0], x[1]).backward()
        optimizer.step()
        x1, x2 = x.detach().tolist()
        if not (math.isfinite(x1) and math.isfinite(x2)):
            break
        out.append((x1, x2))
    return out


def contours(objective: Objective, levels: int = 7, n: int = 90) -> dict[str, list[float]]:
    """Points on `levels` level sets of f in the view: where f crosses a level between grid neighbours."""
    (a, b), (c, d) = objective.view
    g1, g2 = torch.linspace(a, b, n, dtype=torch.float64), torch.linspace(c, d, n, dtype=torch.float64)
    x1, x2 = torch.meshgrid(g1, g2, indexing="xy")  # rows follow x2
    f = objective.f(x1, x2)
    quantiles = torch.linspace(0.04, 0.6, levels, dtype=torch.float64) ** 2  # denser near the minimum
    xs: list[float] = []
    ys: list[float] = []
    for level in torch.quantile(f.flatten(), quantiles).tolist():
        for dim in (0, 1):
            lo, hi = (f[:-1], f[1:]) if dim == 0 else (f[:, :-1], f[:, 1:])
            cross = (lo - level) * (hi - level) < 0
            t = ((level - lo) / (hi - lo))[cross]
            p1 = x1[:-1][cross] + t * (x1[1:] - x1[:-1])[cross] if dim == 0 else x1[:, :-1][cross] + t * (g1[1] - g1[0])
            p2 = x2[:-1][cross] + t * (g2[1] - g2[0]) if dim == 0 else x2[:, :-1][cross]
            xs += p1.tolist()
            ys += p2.tolist()
    return {"x": rounded(xs, 4), "y": rounded(ys, 4)}


def compute(function: str = "ill-conditioned", optimizers: str = "gd,momentum", lr: float = 0.6,
            momentum: float = 0.5, rho: float = 0.9, beta1: float = 0.9, beta2: float = 0.999, eps: float = 0.0,
            steps: int = 20, start: tuple = ()) -> Figure:
    objective = OBJECTIVES[function]
    origin = tuple(float(v) for v in start) if start else objective.start
    (a, b), (c, d) = objective.view
    wide = ((a - (b - a) / 2, b + (b - a) / 2), (c - (d - c) / 2, d + (d - c) / 2))  # a path is drawn while near the view
    paths, values, rows, notes = {}, {}, [], []
    f0 = float(objective.f(torch.tensor(origin[0]), torch.tensor(origin[1])))
    for method in names(optimizers):
        cfg = optim_config(method, lr, momentum, rho, beta1, beta2, eps)
        points = trajectory(objective, cfg, origin, steps)
        fs = [float(objective.f(torch.tensor(p[0], dtype=torch.float64), torch.tensor(p[1], dtype=torch.float64)))
              for p in points]
        shown = next((i for i, (p1, p2) in enumerate(points)
                      if not (wide[0][0] <= p1 <= wide[0][1] and wide[1][0] <= p2 <= wide[1][1])), len(points))
        paths[method] = {"x": rounded([p[0] for p in points[:shown]]), "y": rounded([p[1] for p in points[:shown]])}
        values[method] = [math.log10(v) if 0 < v < math.inf else None for v in fs] + [None] * (steps + 1 - len(fs))
        last = points[-1]
        rows.append([method, len(points) - 1, round(last[0], 6), round(last[1], 6), float(f"{fs[-1]:.6g}")])
        if len(points) <= steps or fs[-1] > f0:
            notes.append(f"{method} diverges: f grows from {f0:.3g} to {fs[-1]:.3g} in {len(points) - 1} steps"
                         + (f" and leaves the view at step {shown}" if shown < len(points) else ""))
        else:
            notes.append(f"{method}: f {fs[-1]:.3g} after {steps} steps at ({last[0]:.4f}, {last[1]:.4f})")
    plane = Curves(f"{objective.text}, lr {lr:g}", [], {}, {"contours": contours(objective),
                   "minimum": {"x": [objective.minimum[0]], "y": [objective.minimum[1]]}},
                   xlabel="x1", ylabel="x2", paths=paths)
    curve = Curves("log10 f over the steps", list(range(steps + 1)), values, xlabel="step", ylabel="log10 f")
    table = Table(f"after {steps} steps from ({origin[0]:g}, {origin[1]:g})", ["optimizer", "steps", "x1", "x2", "f"],
                  rows)
    knobs = {"function": function, "optimizers": optimizers, "lr": lr, "momentum": momentum, "rho": rho,
             "beta1": beta1, "beta2": beta2, "eps": eps, "steps": steps, "start": start}
    return Figure("optimizer-paths", knobs, [plane, curve, table], notes)
