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


@pytest.mark.parametrize("target, setting, says", [
    ("gan", "train.freeze=body", "train.freeze=body: a gan run cannot start from other weights"),
    ("dcgan", "train.init_from=some-run", "train.init_from=some-run: a gan run"),
    ("value-iteration", "train.freeze=body", "a value-iteration run cannot"),
    ("q-learning", "train.init_from=some-run", "a q-learning run cannot"),
    ("transformer", "data.folds=3", "K-fold cross-validation is for regression, classification, not seq2seq"),
    ("tiny-ssd", "data.folds=3", "not detection")])
def test_knobs_a_task_does_not_honour_are_refused_at_validation(target, setting, says):
    with pytest.raises(UserError, match=says):
        resolve(target, [setting])


def test_a_detector_fine_tunes_its_predictors_alone():
    import torch

    from d2ltui.config.schema import from_dict
    from d2ltui.tasks.finetune import load_weights, prepare_model
    from d2ltui.zoo.ssd import tiny_ssd

    torch.manual_seed(0)
    source, model = tiny_ssd(num_classes=2).state_dict(), tiny_ssd(num_classes=1)
    replaced = load_weights(model, source, "a detector of two classes")
    assert sorted({k.rsplit(".", 1)[0] for k in replaced}) == [f"cls_{i}" for i in range(5)]
    own = model.state_dict()
    assert all(torch.equal(own[k], source[k]) for k in own if not k.startswith("cls_"))
    cfg = from_dict({"model": {"name": "tiny-ssd"}, "train": {"freeze": "body"}})
    params = prepare_model(cfg, model, None)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f"{kind}_{i}.{w}" for i in range(5) for kind in ("cls", "bbox") for w in ("weight", "bias")}
    assert len(params) == len(list(model.parameters()))  # the optimizer holds them all; the frozen get no grad
