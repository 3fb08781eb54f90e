"""FLOPs per module with torch's own formulas, counted the way torch's FlopCounterMode counts them.

`FlopMode` is a dispatch mode over `torch.utils.flop_counter.flop_registry`, the formula table
behind `FlopCounterMode`: each aten operator is first offered to its decomposition (as
FlopCounterMode does), otherwise it runs and its formula's count is credited to the whole
pass and to every module running at that moment (`active()`, from the summary's hooks).
Only the counting loop is ours, not the numbers: tests check them equal to FlopCounterMode's
for every model of the catalog. What it saves: torch wraps the `__torch_dispatch__` of every
dispatch mode that does not opt out in a dynamo guard whose first call imports torch._dynamo
(seconds); this mode, and ReceptiveFieldMode, opt out, as neither is ever compiled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry


class FlopMode(TorchDispatchMode):
    """Sum FLOPs over a forward pass: `total`, and `per_module[m]` for each module `active()` names."""

    def __init__(self, active: Callable[[], Iterable[object]] = tuple) -> None:
        super().__init__()
        self.active = active
        self.total = 0
        self.per_module: dict[object, int] = defaultdict(int)

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False  # never traced by dynamo: no need for the guard (and its import of torch._dynamo)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is not torch.ops.prim.device.default:  # as FlopCounterMode: decompose when the op can
            with self:
                out = func.decompose(*args, **kwargs)
            if out is not NotImplemented:
                return out
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            count = formula(*args, **kwargs, out_val=out)
            self.total += count
            for module in set(self.active()):
                self.per_module[module] += count
        return out
