"""The one KEY=VALUE reader: bare keys find their section, the last value of a key wins, bad items say so."""

from __future__ import annotations

import pytest

from d2ltui.config.overrides import override_value
from d2ltui.config.schema import apply_overrides, normalise_overrides
from d2ltui.errors import UserError


def test_bare_keys_find_their_section_and_the_last_value_wins():
    items = normalise_overrides(["lr=0.1", "dropout=0.3", "epochs = 2", "train.device=cpu", "device=cuda"])
    assert items == ["optim.lr=0.1", "model.dropout=0.3", "train.epochs=2", "train.device=cpu", "train.device=cuda"]
    assert override_value(items, "train.device") == "cuda" and override_value(items, "model.task") is None
    assert apply_overrides({}, items) == {"optim": {"lr": 0.1}, "model": {"dropout": 0.3}, "train": {"epochs": 2,
                                                                                                    "device": "cuda"}}


def test_ambiguous_and_malformed_items():
    with pytest.raises(UserError, match=r"--set seed: ambiguous, write data.seed or train.seed"):
        normalise_overrides(["seed=1"])
    with pytest.raises(UserError, match=r"--set name: ambiguous, write model.name or data.name"):
        normalise_overrides(["name=x"])
    assert normalise_overrides(["lr"]) == ["lr"] and override_value(["lr"], "lr") is None  # left for the applier
    with pytest.raises(UserError, match="expected section.key=value"):
        apply_overrides({}, ["lr"])
