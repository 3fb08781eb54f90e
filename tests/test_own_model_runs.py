"""Your own model's run keeps a copy of its file: it trains and learns, then attach, predict, resume and the
overlay work on it after the file is edited; detection and GAN models of the user's train on their tasks;
torchvision's weights by name for `train.init_from`."""

from __future__ import annotations

import json

import pytest
import torch
from fault_helpers import run_main
from own_models import FILES
from tui_pilot import pilot_test, until

from d2ltui.config.schema import MODEL_TASKS
from d2ltui.data.registry import load_data
from d2ltui.engine.job import create_run, load_config
from d2ltui.rundir.source import read_source, sha256_of, source_change
from d2ltui.rundir.store import SOURCE_DIR, read_metrics
from d2ltui.tasks.defaults import clears
from d2ltui.tasks.resolve import resolve
from d2ltui.tasks.spec import task_names, task_spec
from d2ltui.tui.runlog import config_diff

NET = '''
from torch import nn


class Net(nn.Module):
    """A small CNN of the user's."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: int = 8):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_channels, width, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(width, 2 * width, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.head = nn.LazyLinear(num_classes)

    def forward(self, x):
        return self.head(self.body(x))
'''
DATA = ["--set", "data.name=shapes", "--set", "data.num_train=1024", "--set", "data.num_val=256",
        "--set", "data.batch_size=32"]
LEARN = ["--set", "optim.name=adam", "--set", "optim.lr=0.01", "--set", "train.epochs=3"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`train path/to/net.py:Net --set model.task=classification --set data.name=shapes` (small), then the file
    edited so that the original no longer builds the trained model: (runs folder, run folder, file, ref)."""
    folder = tmp_path_factory.mktemp("own")
    net = folder / "models" / "net.py"
    net.parent.mkdir()
    net.write_text(NET)
    ref, runs = f"{net}:Net", folder / "runs"
    torch.set_num_threads(2)
    from d2ltui.cli import main

    with pytest.raises(SystemExit) as done:
        main(["train", ref, "--set", "model.task=classification", *DATA, *LEARN, "--device", "cpu",
              "--runs-dir", str(runs), "--plain"])
    assert done.value.code == 0
    (run,) = runs.iterdir()
    net.write_text(NET.replace("2 * width", "3 * width") + "\nraise_later = 1\n")  # another model now
    return runs, run, net, ref


def test_the_run_learns_and_keeps_a_copy_of_the_file_with_its_hash(trained):
    runs, run, net, ref = trained
    record = read_source(run)
    copy = run / SOURCE_DIR / "net.py"
    assert record == {"reference": ref, "path": str(net), "copy": "net.py", "sha256": sha256_of(copy)}
    assert "2 * width" in copy.read_text() and sha256_of(net) != record["sha256"]
    cfg = load_config(run)
    assert cfg.model.copy == str(copy) and cfg.model.task == "classification"
    data = load_data(cfg.data, "classification", "cpu")
    metric, bar = task_spec("classification").task_class().learning_bar(data)
    final = [r for r in read_metrics(run / "metrics.jsonl")[0] if r["split"] == "val"][-1]
    assert clears(metric, bar, final[metric]), (bar, final)


def test_predict_after_the_file_is_edited_builds_from_the_copy(trained, capsys, tmp_path):
    from PIL import Image

    runs, run, _net, ref = trained
    image = tmp_path / "shape.png"
    picture = Image.new("L", (28, 28))
    picture.paste(255, (8, 8, 20, 20))
    picture.save(image)
    code, out, err = run_main(["predict", run.name, str(image), "--json", "--runs-dir", str(runs)], capsys)
    assert code == 0, err
    assert len(json.loads(out)["top"]) == 5
    from d2ltui.engine.analysis.predict import load_predictor
    from d2ltui.zoo.build import build_model
    from d2ltui.zoo.registry import get_spec

    edited = build_model(get_spec(ref, "classification"), {"num_classes": 10, "in_channels": 1}, ((1, 1, 28, 28),))
    assert edited.head.in_features == 24 * 5 * 5  # the file now builds another model
    assert load_predictor(run).model.head.in_features == 16 * 5 * 5  # predict's is the run's


def test_resume_says_the_file_changed_and_trains_on_with_the_copy(trained, capsys):
    runs, run, net, _ref = trained
    assert "changed since run" in source_change(run)
    code, out, err = run_main(["train", "--resume", run.name, "--set", "train.epochs=4", "--device", "cpu",
                               "--runs-dir", str(runs), "--plain"], capsys)
    assert code == 0, err
    said = [line for line in out.splitlines() if "changed since run" in line]
    assert len(said) == 1 and str(net) in said[0] and f"{SOURCE_DIR}/net.py" in said[0]
    assert [r["epoch"] for r in read_metrics(run / "metrics.jsonl")[0] if r["split"] == "val"][-1] == 4
    assert "copy" not in (run / "config.toml").read_text()  # the copy is found through source.json, not written


@pilot_test
async def test_attach_shows_the_run_and_answers_from_the_copy_when_the_file_is_gone(trained, tmp_path):
    from PIL import Image

    from d2ltui.tui.app import create_app
    from d2ltui.tui.widgets.ask_box import AskBox
    from d2ltui.tui.widgets.samples_view import SamplesView

    runs, run, net, _ref = trained
    moved = net.with_name("moved.py")
    net.rename(moved)  # moved away: the run still has its copy
    image = tmp_path / "shape.png"
    Image.new("L", (28, 28), 200).save(image)
    try:
        app = create_app(runs_dir=runs, attach=run.name)
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen")
            await until(pilot, lambda: bool(getattr(app.screen.query_one(SamplesView), "samples", None)))
            box = app.screen.query_one(AskBox)
            await pilot.press("slash", *str(image), "enter")
            await until(pilot, lambda: box.answer is not None, timeout=60)
            assert len(box.answer["top"]) == 5
        assert "is gone since run" in source_change(run)
    finally:
        moved.rename(net)


def test_the_overlay_lists_the_source_as_a_difference(trained):
    runs, run, net, ref = trained
    cfg, _ = resolve(ref, ["model.task=classification", "data.name=shapes"] + [a for a in DATA[1::2][1:]]
                     + [a for a in LEARN[1::2]])
    other = create_run(cfg, runs, "edited")  # the edited file: another copy, another hash
    rows = dict(config_diff([run, other.path]))
    assert rows["model.source"] == [f"net.py sha256 {read_source(p)['sha256'][:12]}" for p in (run, other.path)]
    assert rows["model.source"][0] != rows["model.source"][1] and "model.name" not in rows


# ---- detection and GAN models of your own, through their task's interface ----

def test_model_tasks_are_task_names():
    assert set(MODEL_TASKS) <= set(task_names())


@pytest.mark.parametrize("ref, sets", [
    ("detector.py:Boxes", ["model.task=detection", "data.name=bananas", "data.resize=64", "data.num_train=16",
                           "data.num_val=8", "data.batch_size=8"]),
    ("pair.py:Pair", ["model.task=gan", "data.name=gaussian-2d", "data.num_train=64", "data.batch_size=8"]),
])
def test_detection_and_gan_models_of_your_own_train(tmp_path, capsys, ref, sets):
    folder = tmp_path / "models"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text)
    argv = ["train", f"{folder}/{ref}", *[a for s in sets for a in ("--set", s)], "--set", "train.epochs=1",
            "--device", "cpu", "--runs-dir", str(tmp_path / "runs"), "--plain"]
    code, out, err = run_main(argv, capsys)
    assert code == 0, err
    (run,) = (tmp_path / "runs").iterdir()
    val = [r for r in read_metrics(run / "metrics.jsonl")[0] if r["split"] == "val"]
    assert val and all(v == v for v in val[-1].values() if isinstance(v, float))  # finite, not NaN
    if ref.startswith("pair"):
        assert {"loss_d", "loss_g"} <= set(val[-1])
        code, out, err = run_main(argv[:1] + [f"{folder}/pair.py:Lonely"] + argv[2:], capsys)
        assert code == 2 and "has no discriminator, latent" in err and len(err.strip().splitlines()) == 1
    else:
        assert "ap50" in val[-1]


# ---- train.init_from=torchvision:NAME ----

def test_torchvision_weights_by_name_from_the_hub_cache(tmp_path, monkeypatch, capsys):
    import torchvision

    from d2ltui.tasks.finetune import load_weights, source_state, weights_file
    from d2ltui.zoo.build import build_model
    from d2ltui.zoo.registry import get_spec, resolve_knobs

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    name = "mobilenet_v3_small"
    url = torchvision.models.get_model_weights(name).DEFAULT.url  # torchvision's own file name
    code, _, err = run_main(["train", f"torchvision:{name}", "--set", f"train.init_from=torchvision:{name}",
                             "--set", "data.download=false", "--set", "data.channels=3",
                             "--runs-dir", str(tmp_path / "runs")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{tmp_path / 'torch'}" in err and url.rsplit("/", 1)[-1] in err and f"Put {url} there" in err
    assert not (tmp_path / "runs").exists()
    code, _, err = run_main(["train", "torchvision:resnet18", "--set", f"train.init_from=torchvision:{name}"], capsys)
    assert code == 2 and f"needs model.name=torchvision:{name}" in err
    imagenet = torchvision.models.get_model(name, weights=None)
    path = weights_file(name)
    path.parent.mkdir(parents=True)
    torch.save(imagenet.state_dict(), path)
    spec = get_spec(f"torchvision:{name}", "classification")
    model = build_model(spec, resolve_knobs(spec, {"num_classes": 4}))
    replaced = load_weights(model, source_state(f"torchvision:{name}", False), f"torchvision:{name}")
    assert replaced == ["classifier.3.weight", "classifier.3.bias"]
    assert torch.equal(model.features[0][0].weight, imagenet.features[0][0].weight)
