"""The labs against values worked out by hand here: Nadaraya-Watson kernels, masked softmax, attention scoring."""

from __future__ import annotations

import json
import math

import pytest
import torch

from d2ltui.errors import UserError
from d2ltui.labs.figure import Figure
from d2ltui.labs.registry import LabSpec, all_labs, compute, get_lab, register, resolve_knobs
from d2ltui.zoo import catalog as zoo_catalog
from d2ltui.zoo.registry import all_specs


def book_nw_data(seed):
    """The book's section 11.2 data, drawn here in the book's order: sorted rand(40) * 5, then randn(40) noise."""
    gen = torch.Generator().manual_seed(seed)
    x, _ = torch.sort(torch.rand(40, generator=gen) * 5)
    y = 2 * torch.sin(x) + x + torch.randn(40, generator=gen)
    return x.tolist(), y.tolist()


def nw(kernel="gaussian", width=0.5, seed=0):
    fig = compute("attention-pooling", {"kernel": kernel, "width": width, "seed": seed})
    return fig, fig.panel("attention weights"), fig.panel("fit")


@pytest.mark.parametrize("query_index", [0, 25, 49])
def test_gaussian_weights_are_a_softmax_of_scaled_squared_distances(query_index):
    keys, ys = book_nw_data(3)
    fig, heat, fit = nw("gaussian", 0.3, seed=3)
    q = query_index / 10
    logits = [-(q - k) ** 2 / 2 / 0.3**2 for k in keys]
    top = max(logits)
    exps = [math.exp(v - top) for v in logits]
    expected = [e / sum(exps) for e in exps]
    assert heat.matrix[query_index] == pytest.approx(expected, abs=2e-6)
    assert fit.series["estimate"][query_index] == pytest.approx(sum(w * y for w, y in zip(expected, ys)), abs=1e-4)
    assert fit.x[query_index] == pytest.approx(q, abs=1e-6)
    assert fit.series["truth"][query_index] == pytest.approx(2 * math.sin(q) + q, abs=1e-5)
    assert fit.points["train"]["x"] == pytest.approx(keys, abs=1e-6)


def test_boxcar_epanechikov_and_constant_by_hand():
    keys, ys = book_nw_data(0)
    q, w = 2.0, 0.4
    _, box, _ = nw("boxcar", w)
    inside = [abs(q - k) < w for k in keys]
    assert box.matrix[20] == pytest.approx([1 / sum(inside) if i else 0.0 for i in inside], abs=1e-6)
    _, epa, _ = nw("epanechikov", w)
    tri = [max(0.0, 1 - abs(q - k) / w) for k in keys]
    assert epa.matrix[20] == pytest.approx([t / sum(tri) for t in tri], abs=1e-6)
    _, const, fit = nw("constant", w)
    assert all(v == pytest.approx(1 / 40, abs=1e-7) for row in const.matrix for v in row)
    assert fit.series["estimate"] == pytest.approx([sum(ys) / 40] * 50, abs=1e-4)


@pytest.mark.parametrize("kernel", ["gaussian", "boxcar", "constant", "epanechikov"])
def test_every_row_of_weights_sums_to_one(kernel):
    fig, heat, fit = nw(kernel, 0.7)
    assert len(heat.matrix) == 50 and len(heat.matrix[0]) == 40 and len(fit.x) == 50
    for row in heat.matrix:
        assert sum(row) == pytest.approx(1.0, abs=1e-5) and min(row) >= 0


def test_a_narrow_boxcar_leaves_queries_without_keys_and_says_so():
    keys, _ = book_nw_data(0)
    fig, heat, fit = nw("boxcar", 0.1)
    empty = [i for i in range(50) if not any(abs(i / 10 - k) < 0.1 for k in keys)]
    assert empty, "the book's data should leave a gap at width 0.1"
    data = json.loads(json.dumps(fig.to_dict(), allow_nan=False))
    estimate = data["panels"][0]["series"]["estimate"]
    assert [i for i, v in enumerate(estimate) if v is None] == empty
    assert all(sum(heat.matrix[i]) == 0 for i in empty)
    assert any(f"{len(empty)} of 50 queries" in note for note in fig.notes)


def test_narrower_kernels_follow_the_data_closer():
    keys, ys = book_nw_data(0)
    fits = {w: nw("gaussian", w)[2] for w in (0.1, 1.0)}
    def train_error(fit):  # error of the estimate at the query nearest each training point
        est = fit.series["estimate"]
        return sum((est[min(49, round(k * 10))] - y) ** 2 for k, y in zip(keys, ys))
    assert train_error(fits[0.1]) < train_error(fits[1.0])


def _softmax_first(row, length):
    exps = [math.exp(v) for v in row[:length]]
    return [e / sum(exps) for e in exps] + [0.0] * (len(row) - length)


@pytest.mark.parametrize("lens", [(2, 3), ((1, 3), (2, 4)), (4, 1)])
def test_masked_softmax_by_hand(lens):
    X = torch.rand(2, 2, 4, generator=torch.Generator().manual_seed(5)).tolist()  # the book's torch.rand(2, 2, 4)
    fig = compute("masked-softmax", {"valid_lens": lens, "seed": 5})
    heat = fig.panel("weights")
    for b in range(2):
        for q in range(2):
            length = lens[b][q] if isinstance(lens[b], tuple) else lens[b]
            row = heat.matrix[2 * b + q]
            assert row == pytest.approx(_softmax_first(X[b][q], length), abs=1e-6)
            assert all(row[k] == 0.0 for k in range(length, 4))  # exactly zero
            assert sorted(k for r, k in heat.masked if r == 2 * b + q) == list(range(length, 4))
    assert sum(fig.panel("scores X").matrices["example 1"], []) == pytest.approx(sum(X[1], []), abs=1e-4)


def test_attention_scoring_on_the_earlier_editions_ones_keys_is_a_plain_average():
    """Keys all ones: every valid key scores the same, so weights are 1/len and outputs average arange rows."""
    fig = compute("attention-scoring", {"example": "ones", "valid_lens": (2, 6)})
    for title in ("additive", "scaled dot-product"):
        heat = fig.panel(title)
        assert heat.matrix[0] == pytest.approx([0.5] * 2 + [0.0] * 8, abs=1e-6)
        assert heat.matrix[1] == pytest.approx([1 / 6] * 6 + [0.0] * 4, abs=1e-6)
        assert all(heat.matrix[r][k] == 0.0 for r, k in heat.masked) and len(heat.masked) == 8 + 4
    outputs = fig.panel("outputs (2, 1, 4)").matrices
    for name in ("additive", "dot-product"):  # rows 4k..4k+3 of arange(40): means over k < 2 and k < 6
        assert sum(outputs[name], []) == pytest.approx([2, 3, 4, 5, 10, 11, 12, 13], abs=1e-3)


def test_attention_scoring_on_normal_tensors_by_hand():
    from d2ltui.labs.attention_scoring import attentions, book_example

    t = book_example("normal", 7)
    additive, _ = attentions(7)
    Wq, Wk, wv = (m.weight.tolist() for m in (additive.W_q, additive.W_k, additive.w_v))
    fig = compute("attention-scoring", {"valid_lens": (3, 9), "seed": 7})
    for b, length in enumerate((3, 9)):
        keys = t["keys"][b].tolist()
        q_dot, q_add = t["dot_queries"][b, 0].tolist(), t["add_queries"][b, 0].tolist()
        dot = [sum(a * c for a, c in zip(q_dot, k)) / math.sqrt(2) for k in keys]
        hq = [sum(w * v for w, v in zip(row, q_add)) for row in Wq]
        add = [sum(wv[0][h] * math.tanh(hq[h] + sum(w * v for w, v in zip(Wk[h], k))) for h in range(8))
               for k in keys]
        assert fig.panel("scaled dot-product").matrix[b] == pytest.approx(_softmax_first(dot, length), abs=1e-5)
        assert fig.panel("additive").matrix[b] == pytest.approx(_softmax_first(add, length), abs=1e-5)
        values = t["values"][b].tolist()
        out = [sum(w * v[j] for w, v in zip(_softmax_first(dot, length), values)) for j in range(4)]
        assert fig.panel("outputs (2, 1, 4)").matrices["dot-product"][b] == pytest.approx(out, abs=2e-4)


@pytest.mark.parametrize("spec", all_labs(), ids=lambda s: s.name)
def test_every_lab_computes_plain_json_under_a_known_chapter(spec):
    fig = compute(spec.name)
    data = json.loads(json.dumps(fig.to_dict(), allow_nan=False))
    assert data["lab"] == spec.name and data["panels"] and Figure.from_dict(data).to_dict() == data
    chapters = {value for key, value in vars(zoo_catalog).items() if key.startswith("CH_")}  # the zoo's spelling
    assert {s.chapter for s in all_specs()} <= chapters
    assert spec.chapter in chapters and spec.doc and spec.section


def test_registry_refuses_duplicates_and_bad_knobs_name_what_is_allowed():
    spec = get_lab("attention-pooling")
    with pytest.raises(ValueError, match="twice"):
        register(LabSpec(spec.name, spec.chapter, "t", "d", "x:y"))
    with pytest.raises(UserError, match="kernel.*one of gaussian, boxcar, constant, epanechikov"):
        resolve_knobs(spec, {"kernel": "cosine"})
    with pytest.raises(UserError, match=r"width.*above the maximum 1\.0.*from 0\.1 to 1\.0"):
        resolve_knobs(spec, {"width": "2"})
    with pytest.raises(UserError, match="no knob 'widht' \\(did you mean width\\?\\)"):
        resolve_knobs(spec, {"widht": "0.3"})
    with pytest.raises(UserError, match="valid_lens.*from 1 to 4"):
        resolve_knobs(get_lab("masked-softmax"), {"valid_lens": "(0, 5)"})
    with pytest.raises(UserError, match="unknown lab 'atention' \\(did you mean attention-"):
        get_lab("atention")
    assert resolve_knobs(get_lab("masked-softmax"), {"valid_lens": "[[1, 3], [2, 4]]"})["valid_lens"] == ((1, 3), (2, 4))
