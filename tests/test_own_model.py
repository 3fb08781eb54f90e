"""Your own model by reference: knobs from its signature, rows and totals as torchinfo's, torchvision's
documented totals, one-line errors naming the file and line, and training through the config."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torchinfo
from fault_helpers import run_main
from own_models import FILES

from d2ltui.tasks.resolve import resolve
from d2ltui.config.schema import MODEL_TASKS
from d2ltui.errors import UserError
from d2ltui.inspector.summary import display_root, summarize
from d2ltui.zoo.build import build_model, example_inputs
from d2ltui.zoo.references import TASK_INPUTS
from d2ltui.zoo.registry import get_spec, resolve_knobs

# Parameter totals from torchvision's documentation (each weights' meta "num_params"), not from our code.
TORCHVISION_TOTALS = {
    "resnet18": 11_689_512, "resnet50": 25_557_032, "vit_b_16": 86_567_656, "mobilenet_v3_large": 5_483_032,
    "efficientnet_b0": 5_288_548, "alexnet": 61_100_840, "vgg16": 138_357_544, "densenet121": 7_978_856,
    "mobilenet_v2": 3_504_872, "convnext_tiny": 28_589_128, "squeezenet1_0": 1_248_424, "squeezenet1_1": 1_235_496,
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    for name, text in FILES.items():
        (folder / name).write_text(text)
    return folder


def torchinfo_rows(spec, shapes):
    """torchinfo's summary of a fresh build on the meta device: {module name: (type, shape, params)}, totals."""
    knobs = resolve_knobs(spec, {})
    with torch.device("meta"):
        model = spec.build_fn()(**knobs).eval()
    info = torchinfo.summary(model, input_data=list(example_inputs(spec, knobs, shapes, "meta")), depth=99,
                             verbose=0, device="meta")
    names = {id(m): n for n, m in model.named_modules()}
    rows = {}
    for layer in info.summary_list:
        name = names[id(layer.module)]
        if layer.depth > 0 and name not in rows:  # a module called twice: its first call
            rows[name] = (layer.class_name, tuple(layer.output_size), layer.num_params)
    return rows, info, display_root(model)[0]


def assert_as_torchinfo(spec, shapes, tied=0):
    ours = summarize(spec, {}, shapes, depth=99, device="meta")
    assert ours.failure is None, ours.error
    theirs, info, prefix = torchinfo_rows(spec, shapes)
    ran = {prefix + r.name: (r.type, r.output_shape, r.params) for r in ours.layers if r.calls}
    assert ran == theirs
    unused = [r for r in ours.layers if not r.calls]  # never called (MultiheadAttention's out_proj): counted in its parent
    assert all(any(r.name.startswith(n[len(prefix):] + ".") for n in theirs) for r in unused)
    # torchinfo counts a tied tensor once per module holding it; the model's unique parameters count it once
    assert (ours.total_params + tied, ours.trainable_params + tied) == (info.total_params, info.trainable_params)
    return ours


# ---- the reference becomes a spec ----

def test_knobs_come_from_the_signature_with_their_types(models):
    spec = get_spec(f"{models}/cnn.py:Net")
    assert {k: (v.kind, v.default) for k, v in spec.knobs.items()} == {
        "num_classes": (int, 10), "in_channels": (int, 1), "width": (int, 8), "dropout": (float, 0.1)}
    assert (spec.task, spec.input_kind, spec.default_input) == ("classification", "image", ((1, 1, 224, 224),))
    assert spec.doc == "A plain CNN." and spec.source.endswith("cnn.py")
    small = get_spec(f"{models}/cnn.py:small")  # a function: a callable default and keyword-only None are not knobs
    assert {k: (v.kind, v.default) for k, v in small.knobs.items()} == {
        "width": (int, 4), "norm": (str, "none"), "blocks": (tuple, (1, 2)), "hidden": (int, None)}
    assert resolve_knobs(small, {"blocks": "(3, 4)", "width": "6"})["blocks"] == (3, 4)
    with pytest.raises(UserError, match=r"model.width, model.depth \(no default"):
        summarize(get_spec(f"{models}/cnn.py:needs"))
    built = summarize(get_spec(f"{models}/cnn.py:needs"), {"width": 2, "depth": "x"}, ((1, 1, 8, 8),))
    assert built.error is None and built.total_params == (9 * 2 + 2) + (2 * 9 * 4 + 4) + (4 * 10 + 10)
    assert set(TASK_INPUTS) == set(MODEL_TASKS)


def test_a_task_sets_the_input_and_the_book_models_keep_theirs(models):
    lm = get_spec(f"{models}/tied.py:TiedLM", "language-model")
    assert (lm.input_kind, lm.default_input, lm.also) == ("tokens", ((1, 32),), ())
    assert summarize(lm).layers[-1].output_shape == (1, 32, 50)
    with pytest.raises(UserError, match="lenet is the book's classification model"):
        get_spec("lenet", "regression")


def test_loading_a_file_takes_no_name_another_module_has(models):
    import json

    spec = get_spec(f"{models}/json.py:Net")
    assert sys.modules["json"] is json and summarize(spec).total_params == 1418
    assert not any(getattr(m, "__file__", None) == str(models / "json.py") and name == "json"
                   for name, m in list(sys.modules.items()))


def test_the_references_module_imports_no_torch():
    code = "import sys, d2ltui.zoo.references, d2ltui.zoo.registry; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


# ---- inspect: as torchinfo, and the documented totals ----

@pytest.mark.parametrize("ref, task, shapes, tied", [
    ("cnn.py:Net", None, ((1, 1, 28, 28),), 0),
    ("two.py:TwoInputs", None, ((1, 3, 32, 32), (1, 6)), 0),
    ("outputs.py:Heads", None, ((2, 3, 32, 32),), 0),
    ("outputs.py:Tupled", None, ((2, 3, 32, 32),), 0),
    ("tied.py:TiedLM", "language-model", ((2, 7),), 800),
    ("lazy.py:LazyNet", None, ((1, 3, 16, 16),), 0),
])
def test_rows_and_totals_equal_torchinfos(models, ref, task, shapes, tied):
    ours = assert_as_torchinfo(get_spec(f"{models}/{ref}", task), shapes, tied)
    assert ours.flops > 0 or task


def test_what_the_inspector_marks_beyond_torchinfo(models, capsys):
    two = summarize(get_spec(f"{models}/two.py:TwoInputs"), {}, ((1, 3, 32, 32), (1, 6)), depth=1)
    act = next(r for r in two.layers if r.name == "act")
    assert act.calls == 2 and next(r for r in two.layers if r.name == "conv").receptive_field == (3, 3)
    lazy = summarize(get_spec(f"{models}/lazy.py:LazyNet"), {}, ((1, 3, 16, 16),))
    assert lazy.total_params - lazy.trainable_params == 112  # the frozen stem
    code, out, _ = run_main(["inspect", f"{models}/tied.py:TiedLM", "--set", "model.task=language-model",
                             "--params"], capsys)
    assert code == 0 and "tied to embed.weight" in out and "1 tied tensor(s) counted once" in out
    # torchinfo cannot read a dataclass output; its rows are the dict-returning twin's
    both = summarize(get_spec(f"{models}/outputs.py:Both"), {}, ((2, 3, 32, 32),), depth=99)
    heads = summarize(get_spec(f"{models}/outputs.py:Heads"), {}, ((2, 3, 32, 32),), depth=99)
    assert [(r.type, r.output_shape, r.params) for r in both.layers] == \
        [(r.type, r.output_shape, r.params) for r in heads.layers]


@pytest.mark.parametrize("name", sorted(TORCHVISION_TOTALS))
def test_torchvision_models_have_their_documented_totals_and_torchinfos_rows(name):
    spec = get_spec(f"torchvision:{name}")
    assert spec.default_input == ((1, 3, 224, 224),)
    ours = assert_as_torchinfo(spec, spec.default_input)
    assert ours.total_params == TORCHVISION_TOTALS[name]


def test_torchvision_knob_and_the_pass_on_meta_for_big_models():
    spec = get_spec("torchvision:resnet50")
    assert summarize(spec, {"num_classes": 7}).layers[-1].output_shape == (1, 7)
    model = build_model(spec, resolve_knobs(spec, {}), device="meta")
    assert all(p.is_meta for p in model.parameters())


# ---- errors: one line, the file and line, exit 2 ----

@pytest.mark.parametrize("argv, words", [
    (["missing.py:Net"], ["missing.py: no such file"]),
    (["syntax.py:Net"], ["syntax.py:8: syntax error"]),
    (["raises.py:Net", "--set", "width=200"], ["raises.py:9: ValueError while building", "width too big"]),
    (["raises.py:Net"], ["failed at", "raises.py:14: boom in forward"]),
    (["raises.py:NotModule"], ["raises.py:17: NotModule is a class but not an nn.Module"]),
    (["raises.py:Nett"], ["has no 'Nett'", "did you mean Net?"]),
    (["raises.py:make"], ["raises.py:21: make() returned int, not an nn.Module"]),
    (["two.py:TwoInputs", "--input", "1x3x8x8"], ["forward(image, extra) takes 2 input(s)"]),
    (["two.py:Batch", "--input", "1x3"], ["forward expects batch as dict"]),
    (["cnn.py:Net", "--set", "model.task=q-learning"], ["model.task: unknown 'q-learning'"]),
])
def test_bad_models_are_one_line_naming_the_file_and_exit_2(models, argv, words, capsys):
    code, _, err = run_main(["inspect", f"{models}/{argv[0]}", *argv[1:]], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("d2l-tui: error: ")
    for word in words:
        assert word in err


def test_torchvision_and_module_names_that_do_not_exist(capsys):
    code, _, err = run_main(["inspect", "torchvision:resnet51"], capsys)
    assert code == 2 and "did you mean resnet50" in err
    code, _, err = run_main(["inspect", "nosuchpackage.models:Net"], capsys)
    assert code == 2 and "no module named 'nosuchpackage'" in err


# ---- training reaches the loop through the same spec ----

def test_train_validates_and_runs_a_model_file(models, tmp_path, capsys):
    ref = f"{models}/cnn.py:Net"
    cfg, _ = resolve(ref, ["model.task=classification", "data.name=shapes", "width=4"])
    assert (cfg.model.task, cfg.model.knobs, cfg.to_dict()["model"]) == (
        "classification", {"width": 4}, {"name": ref, "task": "classification", "width": 4})
    with pytest.raises(UserError, match="data.name=python-docs does not fit the task classification"):
        resolve(ref, ["model.task=classification", "data.name=python-docs"])
    with pytest.raises(UserError, match="does not honour knob 'widht'"):
        resolve(ref, ["widht=3"])
    code, out, err = run_main(["train", ref, "--set", "model.task=classification", "--set", "data.name=shapes",
                               "--set", "data.num_train=256", "--set", "train.max_steps=3", "--set", "train.epochs=1",
                               "--device", "cpu", "--runs-dir", str(tmp_path / "runs")], capsys)
    assert code == 0, err
    (run,) = (tmp_path / "runs").iterdir()
    assert "cnn.py-Net" in run.name and f'name = "{ref}"' in (run / "config.toml").read_text()
