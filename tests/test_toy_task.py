"""A task from another package: one module, registered through the `d2ltui.tasks` entry-point group (and its
model and dataset through `d2ltui.models`), trains end to end through the CLI, draws its samples and answers
`predict`, with no module of d2ltui touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from d2ltui.rundir.store import SAMPLES, STATUS, read_json

EPOCHS = 6
TOY = '''"""A toy task: guess the mean of four numbers."""
import torch
from torch import nn
from torch.nn import functional as F

from d2ltui.data.base import DataModule
from d2ltui.data.registry import DATASETS, DatasetInfo
from d2ltui.tasks.base import Task
from d2ltui.tasks.spec import TaskSpec, register_task
from d2ltui.zoo.registry import ModelSpec, register


class MeanTask(Task):
    name = "toy-mean"

    def loss(self, model, batch):
        x, y = batch
        return F.mse_loss(model(x).reshape(-1), y), len(y), None

    @torch.no_grad()
    def samples(self, model, prepare):
        x, y = self.data.val
        return {"kind": "toy-guess", "items": [
            {"numbers": [round(v, 2) for v in x[i].tolist()], "guess": round(float(model(x[i:i + 1])), 3),
             "mean": round(float(y[i]), 3)} for i in range(2)]}

    @classmethod
    def hint(cls, card):
        return "give four comma-separated numbers"

    @classmethod
    def answer(cls, model, card, cfg, text):
        x = torch.tensor([[float(v) for v in text.split(",")]])
        return {"task": cls.name, "input": text, "guess": float(model(x)),
                "said": [f"the mean of {text} is about {float(model(x)):.2f}"]}


def load(cfg, task):
    x = torch.rand(96, 4, generator=torch.Generator().manual_seed(0))
    return DataModule("toy-numbers", task, (x[:64], x[:64].mean(1)), (x[64:], x[64:].mean(1)), ((1, 4),))


def build():
    return nn.Linear(4, 1)


register_task(TaskSpec("toy-mean", "toy_task:MeanTask", "guess the mean of four numbers",
                       defaults={"data": {"name": "toy-numbers", "batch_size": 8}, "optim": {"lr": 0.3},
                                 "train": {"epochs": %d}},
                       panels=("loss", "samples"), sample_kinds=("toy-guess",), finetune=False))
register(ModelSpec("toy-linear", "99 Toys", "toy-mean", "features", ((1, 4),), "toy_task:build"))
DATASETS["toy-numbers"] = DatasetInfo("toy-numbers", ("toy-mean",), "four numbers and their mean", True,
                                      "toy_task:load")
''' % EPOCHS  # noqa: UP031 (the module's text holds braces)


# The commands run one after another in one fresh interpreter (where the entry points are found), each as the
# console script would run it: `d2l-tui ARGS`, its exit code and what it printed.
COMMANDS = """
import contextlib, io, json, sys
from d2ltui.cli import main

def run(args):
    out, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return {"code": code, "out": out.getvalue(), "err": err.getvalue()}

print(json.dumps([run(args) for args in json.loads(sys.argv[1])]))
"""


def cli(plugins: Path, *commands: list[str]) -> list[dict]:
    """Run each command of `d2l-tui` in turn in one new Python process that has `plugins` on its path."""
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(plugins)) if p)
    done = subprocess.run([sys.executable, "-c", COMMANDS, json.dumps(commands)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": path})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_task_of_another_package_trains_draws_and_answers(tmp_path):
    plugins = tmp_path / "plugins"
    (plugins / "toy_task-0.1.dist-info").mkdir(parents=True)
    (plugins / "toy_task.py").write_text(TOY)
    (plugins / "toy_task-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: toy_task\nVersion: 0.1\n")
    (plugins / "toy_task-0.1.dist-info" / "entry_points.txt").write_text(
        "[d2ltui.tasks]\ntoy-mean = toy_task\n\n[d2ltui.models]\ntoy-linear = toy_task\n")
    runs = str(tmp_path / "runs")

    done, said, refused = cli(
        plugins, ["train", "toy-linear", "--runs-dir", runs, "--run-id", "toy", "--plain"],
        ["predict", "toy", "0.2, 0.4, 0.6, 0.8", "--runs-dir", runs],
        ["train", "toy-linear", "--set", "train.freeze=body", "--runs-dir", runs, "--plain"])
    run = tmp_path / "runs" / "toy"
    assert done["code"] == 0, done["err"]
    assert read_json(run / STATUS)["state"] == "finished"
    val = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in val if r["split"] == "val"]
    assert len(val) == EPOCHS and val[-1]["loss"] < val[0]["loss"] / 5  # it learned the mean

    samples = read_json(run / SAMPLES)
    assert samples["kind"] == "toy-guess" and abs(samples["items"][0]["guess"] - samples["items"][0]["mean"]) < 0.1
    from d2ltui.tui.widgets.samples_view import render

    drawn = render(samples, 60).plain
    assert drawn.startswith(f"epoch {samples['epoch']}: toy-guess") and f'"guess":{samples["items"][0]["guess"]}' \
        in drawn.replace("\n", "")

    assert said["code"] == 0, said["err"]
    assert said["out"].startswith("the mean of 0.2, 0.4, 0.6, 0.8 is about 0.5")

    assert refused["code"] == 2 and "a toy-mean run cannot start from other weights" in refused["err"]
