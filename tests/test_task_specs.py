"""Every part reads the task registry: sample kinds have renderers, models and datasets name registered tasks,
and the knobs a task does not honour are refused at validation."""

from __future__ import annotations

import pytest

from d2ltui.data.registry import DATASETS
from d2ltui.errors import UserError
from d2ltui.tasks.resolve import resolve
from d2ltui.tasks.spec import REGISTRY, task_names, task_spec
from d2ltui.tui.widgets.samples_view import RENDERERS, render
from d2ltui.zoo.registry import all_specs


def test_every_sample_kind_of_every_task_has_its_renderer():
    kinds = {kind: spec.name for spec in map(task_spec, task_names()) for kind in spec.sample_kinds}
    assert len(kinds) >= 12
    missing = sorted(kind for kind in kinds if kind not in RENDERERS)
    assert not missing, f"sample kinds without a renderer: {missing}"


def test_a_kind_without_a_renderer_is_drawn_as_compact_json():
    text = render({"epoch": 2, "kind": "mystery", "items": [{"x": 1.5, "y": "ab"}]}, 40).plain
    assert text.startswith("epoch 2: mystery\n") and '{"items":[{"x":1.5,"y":"ab"}]}' in text


def test_every_model_and_dataset_names_registered_tasks():
    names = set(task_names())
    for spec in all_specs():
        assert spec.task in names and set(spec.also) <= names, spec.name
    for info in DATASETS.values():
        assert set(info.tasks) <= names, info.name


def test_each_task_class_is_the_one_its_spec_names():
    for name, spec in REGISTRY.items():
        assert spec.task_class().name == name
