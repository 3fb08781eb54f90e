"""Training defaults: one owner for the CLI and the panel, a CPU and a book variant, and small models that learn."""

from __future__ import annotations

import pytest

from d2ltui.tasks.defaults import MODEL_DEFAULTS, clears, device_kind, smallest_side, train_defaults
from d2ltui.tasks.resolve import resolve, validate
from d2ltui.config.schema import from_dict
from d2ltui.tui.runplan import RunPlan
from d2ltui.zoo.registry import all_specs, get_spec

SMALL = ["linear-regression", "logistic-regression", "softmax-regression", "mlp", "lenet", "lenet-bn",
         "rnn-lm", "gru-lm", "lstm-lm", "seq2seq", "seq2seq-attention"]
BIG = ["alexnet", "vgg11", "vgg", "nin", "googlenet", "resnet18", "resnext", "densenet", "vit"]
# the book's training of the big models (reference/book.md; ViT: section 11.8, lr 0.1 at 96)
BOOK = {"alexnet": (224, 0.01), "vgg": (224, 0.01), "nin": (224, 0.05), "googlenet": (96, 0.01),
        "resnet18": (96, 0.01), "densenet": (96, 0.01), "vit": (96, 0.1)}


def learning_bar(data):
    """The bar of the task that trains on `data` (each task owns its own)."""
    from d2ltui.tasks.spec import task_spec

    return task_spec(data.task).task_class().learning_bar(data)


def test_device_kinds():
    assert [device_kind(d) for d in ("cpu", "cuda", "cuda:1", "mps")] == ["cpu", "gpu", "gpu", "gpu"]


@pytest.mark.parametrize("kind", ["cpu", "gpu"])
@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.name)
def test_defaults_validate_and_leave_the_architecture_to_the_book(spec, kind):
    raw = train_defaults(spec, kind)
    validate(from_dict(raw))
    assert set(raw["model"]) <= {"name", "init"}  # training choices only: the inspector shows what trains


def test_big_models_train_small_on_a_cpu_and_as_the_book_on_a_gpu():
    from d2ltui.inspector.summary import flows
    from d2ltui.zoo.registry import resolve_knobs

    for name in BIG:
        spec = get_spec(name)
        cpu, gpu = train_defaults(spec, "cpu"), train_defaults(spec, "gpu")
        side = cpu["data"]["resize"] or 28
        knobs = resolve_knobs(spec)
        assert flows(spec, knobs, ((1, 1, side, side),))
        assert side == 28 or not flows(spec, knobs, ((1, 1, side - 1, side - 1),))  # the smallest that flows
        assert 0 < cpu["data"]["num_train"] <= 2000
        assert gpu["data"].get("num_train", 0) == 0  # the dataset's full default size
        if name in BOOK:
            assert (gpu["data"]["resize"], gpu["optim"]["lr"], gpu["data"]["batch_size"],
                    gpu["train"]["epochs"]) == (*BOOK[name], 128, 10)
    assert smallest_side("alexnet") > 28 and smallest_side("resnet18") == 0


@pytest.mark.parametrize("name", BIG)
def test_smallest_sides_are_the_inspectors(name):
    from d2ltui.inspector.summary import flows, smallest_working_input
    from d2ltui.zoo.registry import resolve_knobs

    spec = get_spec(name)
    knobs = resolve_knobs(spec)
    native = ((1, 1, 28, 28),)
    expected = 0 if flows(spec, knobs, native) else smallest_working_input(spec, knobs, native)[0][-1]
    assert smallest_side(name) == expected


def test_train_model_uses_the_defaults_of_the_device_it_will_train_on():
    cpu, _ = resolve("vgg11", device="cpu")
    gpu, _ = resolve("vgg11", ["train.device=cuda"])  # resolving needs no GPU; training would
    small = MODEL_DEFAULTS["vgg11"]["cpu"]["data"]["num_train"]
    assert (cpu.data.resize, cpu.data.num_train) == (smallest_side("vgg11"), small)
    assert (gpu.data.resize, gpu.optim.lr) == (224, 0.01)
    mine, _ = resolve("vgg11", ["data.resize=40"], device="cpu")
    assert mine.data.resize == 40  # the user's --set wins over the defaults
    assert RunPlan.for_model("vgg11", "cpu").base == train_defaults(get_spec("vgg11"), "cpu")


def test_bars():
    class Data:
        def __init__(self, task, **kw):
            self.task, self.classes, self.vocab, self.model_knobs = task, kw.get("classes", []), kw.get("vocab", []), kw
    assert learning_bar(Data("classification", classes=list("abcdefghij"))) == ("acc", pytest.approx(0.2))
    assert learning_bar(Data("classification", classes=["a", "b"])) == ("acc", 0.75)
    assert learning_bar(Data("language-model", vocab=list(range(60)))) == ("ppl", 30)
    assert learning_bar(Data("seq2seq")) == ("bleu", 0.3) and learning_bar(Data("gan")) is None
    assert clears("ppl", 30, 29.9) and not clears("ppl", 30, 31) and clears("acc", 0.2, 0.2)


@pytest.mark.slow
@pytest.mark.parametrize("name", SMALL)
def test_small_model_learns_with_the_panels_defaults_on_a_cpu(name, one_torch_thread):
    from d2ltui.data.registry import load_data
    from d2ltui.engine.loop.trainer import fit

    cfg = from_dict(RunPlan.for_model(name, "cpu").base)  # exactly what the panel is filled with
    cfg.train.device = "cpu"
    data = load_data(cfg.data, get_spec(name).task)
    metric, bar = learning_bar(data)
    result = fit(cfg, data=data)
    assert result.state == "finished", result.message
    assert clears(metric, bar, result.val[metric]), (metric, result.val[metric], bar)
