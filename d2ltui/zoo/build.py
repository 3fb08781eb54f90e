"""Build a registered model for a given input: lazy layers materialised here, then the init scheme."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from d2ltui.zoo.registry import ModelSpec, Shape

PAD, BOS, EOS, UNK = 0, 1, 2, 3  # reserved token ids of every sequence vocabulary (<pad> <bos> <eos> <unk>)


def example_inputs(spec: ModelSpec, knobs: dict[str, Any], shapes: tuple[Shape, ...],
                   device: str | torch.device = "cpu") -> tuple[torch.Tensor, ...]:
    """Inputs of the given shapes that the model accepts: floats for features/images, ids for tokens."""
    if spec.input_kind in ("features", "image"):
        return tuple(torch.randn(s, device=device) for s in shapes)
    if spec.input_kind == "tokens":
        return tuple(torch.randint(0, knobs["vocab_size"], s, device=device) for s in shapes)
    src, tgt = shapes
    return (torch.randint(3, knobs["src_vocab"], src, device=device),
            torch.randint(3, knobs["tgt_vocab"], tgt, device=device))


def init_weights(model: nn.Module, scheme: str) -> None:
    """Re-initialise dense and conv weights with the named scheme ('default' keeps torch's)."""
    if scheme == "default":
        return
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)) and not isinstance(m.weight, nn.UninitializedParameter):
            if scheme == "xavier":
                nn.init.xavier_uniform_(m.weight)
            elif scheme == "kaiming":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif scheme == "normal":
                nn.init.normal_(m.weight, std=0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def has_lazy(model: nn.Module) -> bool:
    return any(isinstance(p, nn.UninitializedParameter) for p in model.parameters())


def build_model(spec: ModelSpec, knobs: dict[str, Any], shapes: tuple[Shape, ...] | None = None,
                device: str | torch.device = "cpu") -> nn.Module:
    """Construct `spec` with checked `knobs`, materialise lazy layers for `shapes`, apply the init.

    Materialising runs one forward pass in eval mode under no_grad on `device` (use "meta"
    to build without memory). A layer that rejects the input raises as the model would.
    """
    kwargs = {k: v for k, v in knobs.items() if k != "init"}
    with torch.device(device):
        model = spec.build_fn()(**kwargs)
    if has_lazy(model):
        shapes = shapes or spec.default_input
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(*example_inputs(spec, knobs, shapes, device))
        model.train(was_training)
    init_weights(model, knobs.get("init", "default"))
    return model
