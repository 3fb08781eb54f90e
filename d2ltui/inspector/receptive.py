"""Receptive fields by data flow: a dispatch mode that carries (field, jump) along every tensor.

How it works. Each tensor derived from the model's input carries, per spatial dimension,
its receptive field `r` (how many input pixels one of its elements sees) and its jump `j`
(how many input pixels apart two neighbouring elements are). The input starts at r = 1,
j = 1. Every aten operator the forward pass runs is seen here, after torch has computed it:

- convolution and pooling with kernel k, stride s, dilation d: r' = r + (k - 1) * d * j,
  j' = j * s (the kernel, stride and dilation are read from the operator's own arguments,
  so Conv2d, MaxPool2d, AvgPool2d, grouped and 1-D variants all go the same way);
  adaptive pooling uses its effective window (ceil(in/out)) and stride (in // out), and a
  mean over spatial dimensions (global average pooling) sees the whole input;
- any other operator whose output keeps the spatial rank of its tracked inputs (ReLU,
  batch norm, dropout, padding, `+` of a residual shortcut, `torch.cat` of Inception's
  branches, DenseNet's concatenation) gets the element-wise maximum over those inputs, so
  a branching block reports the largest field over its branches;
- an operator that changes the rank (flatten, a dense layer, patch tokens in ViT) ends the
  conv/pool stack: its output has no receptive field.

A module's receptive field is that of its first output, so containers (a residual block,
an Inception block, a whole stage) are correct however their forward combines branches.
The field is the theoretical one: it may exceed the image, as padding is counted as input.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.weak import WeakTensorKeyDictionary

Field = tuple[tuple[int, ...], tuple[int, ...]]  # (receptive field, jump) per spatial dimension

aten = torch.ops.aten
_POOLS = {aten.max_pool2d_with_indices.default, aten.max_pool3d_with_indices.default,
          aten.avg_pool2d.default, aten.avg_pool3d.default, aten.max_pool2d.default, aten.avg_pool1d.default,
          aten.max_pool1d.default}
_ADAPTIVE = {aten._adaptive_avg_pool2d.default, aten.adaptive_max_pool2d.default,
             aten._adaptive_avg_pool3d.default, aten.adaptive_max_pool3d.default}
_REDUCE = {aten.mean.dim, aten.amax.default, aten.sum.dim_IntList}


def _tuple(value: Any, n: int, default: int) -> tuple[int, ...]:
    if value is None or (isinstance(value, (list, tuple)) and len(value) == 0):
        return (default,) * n
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    return value * n if len(value) == 1 else value


def _grow(field: Field, kernel, stride, dilation) -> Field:
    r, j = field
    return (tuple(ri + (k - 1) * d * ji for ri, ji, k, d in zip(r, j, kernel, dilation)),
            tuple(ji * s for ji, s in zip(j, stride)))


class ReceptiveFieldMode(TorchDispatchMode):
    """Track the receptive field of every tensor computed from the tensors passed to `mark`."""

    def __init__(self) -> None:
        super().__init__()
        self.fields = WeakTensorKeyDictionary()

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False  # never traced by dynamo: no guard, so its first call imports no torch._dynamo

    def mark(self, tensor: torch.Tensor) -> None:
        """Start tracking a model input: batch, channels, then spatial dimensions."""
        n = tensor.dim() - 2
        if n >= 1:
            self.fields[tensor] = ((1,) * n, (1,) * n)

    def field(self, tensor: Any) -> tuple[int, ...] | None:
        """The receptive field of `tensor` per spatial dimension, or None outside a conv/pool stack."""
        if isinstance(tensor, torch.Tensor):
            entry = self.fields.get(tensor)
            return entry[0] if entry else None
        return None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not self.fields:
            return out
        fields = self.fields
        tracked = []
        for a in args:
            if isinstance(a, torch.Tensor):
                if a in fields:
                    tracked.append((a, fields[a]))
            elif isinstance(a, (list, tuple)):
                tracked += [(t, fields[t]) for t in a if isinstance(t, torch.Tensor) and t in fields]
        if tracked:
            new = self._derive(func, args, tracked)
            if new is not None:
                for t in (out if isinstance(out, (list, tuple)) else (out,)):
                    if isinstance(t, torch.Tensor) and t.dim() == len(new[0]) + 2:
                        fields[t] = new
        return out

    def _derive(self, func, args, tracked) -> Field | None:
        x, field = tracked[0]
        n = len(field[0])
        if func is aten.convolution.default:
            weight, stride, dilation, transposed = args[1], args[3], args[5], args[6]
            if transposed:
                return None
            return _grow(field, tuple(weight.shape[2:]), _tuple(stride, n, 1), _tuple(dilation, n, 1))
        if func in _POOLS:
            kernel = _tuple(args[1], n, 1)
            stride = _tuple(args[2] if len(args) > 2 else None, n, 0)
            stride = tuple(s or k for s, k in zip(stride, kernel))
            dilation = _tuple(args[4] if len(args) > 4 and "max" in func.__name__ else None, n, 1)
            return _grow(field, kernel, stride, dilation)
        if func in _ADAPTIVE:
            sizes, outs = x.shape[2:], _tuple(args[1], n, 1)
            kernel = tuple(math.ceil(i / o) for i, o in zip(sizes, outs))
            stride = tuple(max(i // o, 1) for i, o in zip(sizes, outs))
            return _grow(field, kernel, stride, (1,) * n)
        if func in _REDUCE:
            dims = args[1] if len(args) > 1 else None
            keep = len(args) > 2 and bool(args[2])
            spatial = {d % x.dim() for d in (dims or range(x.dim()))} if dims is not None else set(range(x.dim()))
            if not keep:
                return None
            kernel = tuple(x.shape[2 + i] if (2 + i) in spatial else 1 for i in range(n))
            return _grow(field, kernel, kernel, (1,) * n)
        if func in (aten.unsqueeze.default, aten.squeeze.dim) and x.dim() >= 3:
            return self._reshape_one(func, args, field, x.dim())
        # Element-wise, normalisation, concatenation, shortcut additions: widest over the inputs.
        same = [f for t, f in tracked if len(f[0]) == n]
        return (tuple(max(f[0][i] for f in same) for i in range(n)),
                tuple(max(f[1][i] for f in same) for i in range(n)))

    @staticmethod
    def _reshape_one(func, args, field: Field, ndim: int) -> Field | None:
        """1-D pooling runs as 2-D on an unsqueezed size-1 dimension: follow it there and back."""
        r, j = list(field[0]), list(field[1])
        if func is aten.unsqueeze.default:
            pos = args[1] % (ndim + 1) - 2
            if pos < 0:
                return None
            r.insert(pos, 1)
            j.insert(pos, 1)
        else:
            pos = args[1] % ndim - 2
            if pos < 0 or args[0].shape[args[1]] != 1:
                return None
            del r[pos], j[pos]
        return tuple(r), tuple(j)
