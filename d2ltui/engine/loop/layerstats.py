"""Per-layer statistics of one training step, with hooks that exist only while that step runs.

For every layer with parameters of its own (conv, dense, norm, recurrent, embedding...):
- `act_mean`, `act_std`: mean and (population) standard deviation of its activations: the output of
  the activation module that follows it in the forward pass (before the next layer with parameters),
  else its own output;
- `saturated`: the fraction of those activations in a flat part of a sigmoid (below 0.01 or above
  0.99) or a tanh (|y| > 0.99); `dead`: the fraction of a ReLU's units (each output position but the
  batch) that are zero for every example of the batch; None where the activation is neither;
- `grad_norm`: the L2 norm of the gradient of its parameters as backward leaves it (before any
  clipping and before the optimizer step);
- `weight_norm`: the L2 norm of its parameters after the step; `update_ratio`: the norm of what
  the step changed over the norm before it.

A layer called several times in a step (a shared layer, a recurrent one) sums over its calls. The
values stay on the device until the end of the step, then come to the host in one transfer.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from d2ltui.rundir.store import LAYER_STATS

ACTIVATIONS = (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.LeakyReLU, nn.ELU, nn.SiLU, nn.Softplus)
SIGMOID_FLAT, TANH_FLAT = 0.01, 0.99


def first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        return next((t for v in value if (t := first_tensor(v)) is not None), None)
    return None


def activation_sums(y: torch.Tensor, module: nn.Module | None) -> torch.Tensor:
    """[sum, sum of squares, count, flat-or-dead count, units] of one output, on its device."""
    y = y.detach().float()
    units = 0.0
    if isinstance(module, nn.Sigmoid):
        flagged = ((y < SIGMOID_FLAT) | (y > 1 - SIGMOID_FLAT)).sum()
    elif isinstance(module, nn.Tanh):
        flagged = (y.abs() > TANH_FLAT).sum()
    elif isinstance(module, nn.ReLU) and y.dim() > 1:
        per_unit = (y <= 0).reshape(len(y), -1).all(0)
        flagged, units = per_unit.sum(), float(per_unit.numel())
    else:
        flagged = y.new_zeros(())
    f64 = torch.float64
    return torch.stack([y.sum().to(f64), (y * y).sum().to(f64), y.new_tensor(float(y.numel()), dtype=f64),
                        flagged.to(f64), y.new_tensor(units, dtype=f64)])


class LayerProbe:
    """Watches the layers of `model`; `around(step_fn, *args)` runs one step with hooks and keeps its records."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.layers = [(name, m) for name, m in model.named_modules()
                       if any(p.requires_grad for p in m.parameters(recurse=False))]
        self.records: list[dict[str, Any]] = []

    def around(self, step_fn: Callable[..., Any], *args: Any) -> Any:
        """Call `step_fn(*args)` with the hooks in place, remove them whatever happens, keep the statistics."""
        names = {id(m): name for name, m in self.layers}
        own = {name: [p for p in m.parameters(recurse=False) if p.requires_grad] for name, m in self.layers}
        before = {name: [p.detach().clone() for p in ps] for name, ps in own.items()}
        output: dict[str, torch.Tensor] = {}  # a layer's own output sums
        after_act: dict[str, torch.Tensor] = {}  # sums of the activation that followed it
        kinds: dict[str, str] = {}
        grads: dict[str, torch.Tensor] = {}
        pending: list[str] = []

        def on_layer(module, _inputs, out) -> None:
            name, y = names[id(module)], first_tensor(out)
            if y is not None and y.is_floating_point():
                sums = activation_sums(y, None)
                output[name] = output[name] + sums if name in output else sums
            if name not in pending:
                pending.append(name)

        def on_activation(module, _inputs, out) -> None:
            y = first_tensor(out)
            if y is None or not pending:
                return
            sums = activation_sums(y, module)
            for name in pending:
                after_act[name] = after_act[name] + sums if name in after_act else sums
                kinds[name] = type(module).__name__
            pending.clear()

        def on_grad(name: str) -> Callable[[torch.Tensor], None]:
            def hook(p: torch.Tensor) -> None:
                if p.grad is not None:
                    sq = p.grad.detach().float().pow(2).sum()
                    grads[name] = grads[name] + sq if name in grads else sq
            return hook

        handles = []
        for m in self.model.modules():
            if id(m) in names:
                handles.append(m.register_forward_hook(on_layer))
            elif isinstance(m, ACTIVATIONS):
                handles.append(m.register_forward_hook(on_activation))
        for name, ps in own.items():
            handles += [p.register_post_accumulate_grad_hook(on_grad(name)) for p in ps]
        try:
            result = step_fn(*args)
        finally:
            for h in handles:
                h.remove()
        self.records = self.collect(own, before, output, after_act, kinds, grads)
        return result

    def collect(self, own, before, output, after_act, kinds, grads) -> list[dict[str, Any]]:
        """Turn the sums into one record per layer, with one device-to-host transfer."""
        rows, keys = [], []
        for name, module in self.layers:
            sums = after_act.get(name, output.get(name))
            device = own[name][0].device
            if sums is None:
                sums = torch.full((5,), float("nan"), dtype=torch.float64, device=device)
            weight_sq = sum(p.detach().double().pow(2).sum() for p in own[name])
            delta_sq = sum((p.detach().double() - b.double()).pow(2).sum() for p, b in zip(own[name], before[name]))
            before_sq = sum(b.double().pow(2).sum() for b in before[name])
            grad_sq = grads.get(name, torch.tensor(float("nan"), device=device)).double()
            rows.append(torch.cat([sums.to(device), torch.stack([grad_sq, weight_sq, delta_sq, before_sq])]))
            keys.append((name, type(module).__name__, kinds.get(name)))
        values = torch.stack([r.to(rows[0].device) for r in rows]).cpu().tolist() if rows else []  # one transfer
        return [self.record(name, kind, act, v) for (name, kind, act), v in zip(keys, values)]

    @staticmethod
    def record(name: str, kind: str, act: str | None, v: list[float]) -> dict[str, Any]:
        total, total_sq, count, flagged, units, grad_sq, weight_sq, delta_sq, before_sq = v
        mean = total / count if count else float("nan")
        var = max(total_sq / count - mean * mean, 0.0) if count else float("nan")
        out = {"layer": name, "type": kind, "act": act or "output", "act_mean": mean, "act_std": var ** 0.5,
               "saturated": flagged / count if act in ("Sigmoid", "Tanh") and count else None,
               "dead": flagged / units if act == "ReLU" and units else None,
               "grad_norm": grad_sq ** 0.5 if grad_sq == grad_sq else None,
               "weight_norm": weight_sq ** 0.5,
               "update_ratio": (delta_sq / before_sq) ** 0.5 if before_sq > 0 else None}
        assert set(LAYER_STATS) <= set(out)
        return {k: (None if isinstance(x, float) and x != x else x) for k, x in out.items()}
