"""The smaller promises: a suggestion names each option once, a task declares the config fields it reads."""

from __future__ import annotations

from d2ltui.format import suggest


def test_a_suggestion_names_each_option_once():
    # a preset and a model may share a name: the tail names it once
    assert suggest("transfomer", ["transformer", "lenet", "transformer"]) == " (did you mean transformer?)"
    assert suggest("zzz", ["transformer"]) == ""
