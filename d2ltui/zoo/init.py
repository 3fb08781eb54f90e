"""Weight initialisation schemes of the builders' guide (init-param.md), applied to any model in one place.

`default` keeps PyTorch's own initialisation. The others re-initialise the weight matrices of every
dense, convolutional and recurrent layer and zero their biases: `normal` is N(0, 0.01), `constant`
sets every weight to 1, `xavier` is Xavier-uniform, `kaiming` is Kaiming-normal for ReLU, and
`custom` is the book's `my_init`: uniform on [-10, 10], then every weight with |w| < 5 set to zero
(the book leaves biases alone there, and so do we). Embeddings and norms keep their own init.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from d2ltui.zoo.registry import INIT_SCHEMES

WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def book_custom_(weight: torch.Tensor) -> torch.Tensor:
    """The book's my_init on one weight: U(-10, 10), then zero where |w| < 5."""
    with torch.no_grad():
        nn.init.uniform_(weight, -10, 10)
        weight.mul_(weight.abs() >= 5)
    return weight


WEIGHT_INITS: dict[str, Callable[[torch.Tensor], object]] = {
    "normal": lambda w: nn.init.normal_(w, mean=0.0, std=0.01),
    "constant": lambda w: nn.init.constant_(w, 1.0),
    "xavier": nn.init.xavier_uniform_,
    "kaiming": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    "custom": book_custom_,
}
assert set(WEIGHT_INITS) | {"default"} == set(INIT_SCHEMES)


def weights_and_biases(module: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """The module's own weight matrices and biases that a scheme re-initialises (none for other modules)."""
    if isinstance(module, WEIGHTED):
        return [module.weight], [module.bias] if module.bias is not None else []
    if isinstance(module, nn.RNNBase):
        own = dict(module.named_parameters(recurse=False))
        return ([p for n, p in own.items() if n.startswith("weight_")],
                [p for n, p in own.items() if n.startswith("bias_")])
    return [], []


def init_weights(model: nn.Module, scheme: str) -> None:
    """Re-initialise `model` with the named scheme ('default' keeps torch's); a parameter shared by
    several layers is initialised once."""
    if scheme == "default":
        return
    if scheme not in WEIGHT_INITS:
        raise ValueError(f"unknown init scheme {scheme!r}; expected one of {', '.join(INIT_SCHEMES)}")
    fill, seen = WEIGHT_INITS[scheme], set()
    for module in model.modules():
        weights, biases = weights_and_biases(module)
        for w in weights:
            if id(w) not in seen and not isinstance(w, nn.UninitializedParameter):
                seen.add(id(w))
                fill(w)
        if scheme != "custom":
            for b in biases:
                if not isinstance(b, nn.UninitializedParameter):
                    nn.init.zeros_(b)
