"""Every lab as a LabSpec: metadata only, no torch import (the compute modules load on first use)."""

from __future__ import annotations

from d2ltui.labs.registry import LabSpec, register
from d2ltui.zoo.catalog import CH_ATTN
from d2ltui.zoo.registry import Knob


def _lens(value: tuple) -> str | None:
    """Valid lengths of the book's (2, 2, 4) scores: one per example (2, 3) or one per query ((1, 3), (2, 4))."""
    flat = all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    nested = all(isinstance(v, tuple) and len(v) == 2 for v in value) and all(
        isinstance(x, int) and not isinstance(x, bool) for v in value for x in v)
    values = list(value) if flat else [x for v in value for x in v] if nested else []
    if len(value) == 2 and (flat or nested) and all(1 <= x <= 4 for x in values):
        return None
    return "expected two lengths from 1 to 4, e.g. (2, 3), or two per example, e.g. ((1, 3), (2, 4))"


def _two_lens(value: tuple) -> str | None:
    ok = len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 10 for v in value)
    return None if ok else "expected two lengths from 1 to 10, e.g. (2, 6)"


SEED = Knob("seed", int, 0, "random seed of the data", min=0, max=2**31 - 1)

register(LabSpec(
    "nadaraya-watson", CH_ATTN, "Nadaraya-Watson attention pooling",
    "Kernel regression as attention: 40 noisy points of 2 sin x + x, 50 queries, a kernel and its width.",
    "d2ltui.labs.nadaraya_watson:compute",
    {k.name: k for k in (
        Knob("kernel", str, "gaussian", "similarity of a query to a key",
             choices=("gaussian", "boxcar", "constant", "epanechikov")),
        Knob("width", float, 0.5, "kernel width (sigma of the Gaussian, radius of the others)", min=0.1, max=1.0),
        SEED)},
    section="11.2"))

register(LabSpec(
    "masked-softmax", CH_ATTN, "Masked softmax",
    "Softmax over the first valid_lens keys of random (2, 2, 4) scores; masked keys get weight 0.",
    "d2ltui.labs.masked_softmax:compute",
    {k.name: k for k in (
        Knob("valid_lens", tuple, (2, 3), "one length per example, or one per query: ((1, 3), (2, 4))",
             check=_lens),
        SEED)},
    section="11.3"))

register(LabSpec(
    "attention-scoring", CH_ATTN, "Additive vs scaled dot-product attention",
    "The book's 2 queries over 10 keys: additive and scaled dot-product weights, masked by valid_lens.",
    "d2ltui.labs.attention_scoring:compute",
    {k.name: k for k in (
        Knob("valid_lens", tuple, (2, 6), "valid keys of each of the two examples", check=_two_lens),
        Knob("example", str, "normal", "the book's tensors: normal keys and values (2nd edition) or "
             "ones keys and arange values (earlier edition)", choices=("normal", "ones")),
        SEED)},
    section="11.3"))
