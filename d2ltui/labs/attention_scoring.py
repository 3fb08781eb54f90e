"""Additive against scaled dot-product attention (section 11.3) on the book's small example."""

from __future__ import annotations

import torch

from d2ltui.labs.figure import Figure, Grid, Heatmap, rounded
from d2ltui.zoo.attention import AdditiveAttention, DotProductAttention

NUM_KEYS = 10


def book_example(example: str, seed: int) -> dict[str, torch.Tensor]:
    """The book's tensors: 2 examples of 1 query over 10 key-value pairs with 4-wide values.

    'normal' (the second edition): queries N(0, 1) of size 2 for dot-product and 20 for additive
    attention, keys N(0, 1) of size 2, values N(0, 1). 'ones' (the earlier edition): keys all
    ones and values arange(40) reshaped to (1, 10, 4), repeated for both examples.
    """
    torch.manual_seed(seed)  # the parameters of AdditiveAttention draw from the global generator
    gen = torch.Generator().manual_seed(seed)
    dot_queries = torch.normal(0, 1, (2, 1, 2), generator=gen)
    if example == "ones":
        keys = torch.ones(2, NUM_KEYS, 2)
        values = torch.arange(40, dtype=torch.float32).reshape(1, NUM_KEYS, 4).repeat(2, 1, 1)
    else:
        keys = torch.normal(0, 1, (2, NUM_KEYS, 2), generator=gen)
        values = torch.normal(0, 1, (2, NUM_KEYS, 4), generator=gen)
    add_queries = torch.normal(0, 1, (2, 1, 20), generator=gen)
    return {"dot_queries": dot_queries, "add_queries": add_queries, "keys": keys, "values": values}


def attentions(seed: int) -> tuple[AdditiveAttention, DotProductAttention]:
    """The book's AdditiveAttention(num_hiddens=8, dropout=0.1) and DotProductAttention(dropout=0.5), in eval."""
    torch.manual_seed(seed)
    additive = AdditiveAttention(key_size=2, query_size=20, num_hiddens=8, dropout=0.1).eval()
    return additive, DotProductAttention(dropout=0.5).eval()


@torch.no_grad()
def compute(valid_lens: tuple = (2, 6), example: str = "normal", seed: int = 0) -> Figure:
    t = book_example(example, seed)
    additive, dot = attentions(seed)
    lens = torch.tensor(valid_lens)
    out_add = additive(t["add_queries"], t["keys"], t["values"], lens)
    out_dot = dot(t["dot_queries"], t["keys"], t["values"], lens)
    masked = [[b, k] for b in range(2) for k in range(NUM_KEYS) if k >= valid_lens[b]]
    rows, cols = ["example 0", "example 1"], [f"k{k}" for k in range(NUM_KEYS)]
    panels = [
        Heatmap("additive", rounded(additive.attention_weights[:, 0].tolist()), rows, cols, masked,
                xlabel="keys", ylabel="queries"),
        Heatmap("scaled dot-product", rounded(dot.attention_weights[:, 0].tolist()), rows, cols, masked,
                xlabel="keys", ylabel="queries"),
        Grid("outputs (2, 1, 4)", {"additive": rounded(out_add[:, 0].tolist(), 4),
                                   "dot-product": rounded(out_dot[:, 0].tolist(), 4)}),
    ]
    notes = [f"valid_lens {tuple(valid_lens)}: keys from these positions on are masked (weight 0)",
             "additive: 20-wide queries, num_hiddens 8; dot-product: 2-wide queries, scaled by 1/sqrt(2)"]
    return Figure("attention-scoring", {"valid_lens": valid_lens, "example": example, "seed": seed}, panels, notes)
