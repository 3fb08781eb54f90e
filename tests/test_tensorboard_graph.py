"""The TensorBoard graph of an image model (LeNet on the shapes' uint8 images), live and by export; a model the
tracer cannot follow is one line in the run's log; an export to a destination that refuses writes is one line."""

from __future__ import annotations

import errno
import os

import pytest
from fault_helpers import cli
from test_tui_bad_folders import read_only

from d2ltui.rundir.store import RunDir

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

LENET = ["lenet", "--set", "data.name=shapes", "--set", "data.num_train=32", "--set", "data.num_val=16",
         "--set", "data.batch_size=16", "--set", "train.epochs=1", "--set", "train.max_steps=2", "--plain"]


def graph_text(folder) -> str:
    acc = event_accumulator.EventAccumulator(str(folder))
    acc.Reload()
    return str(acc.Graph())


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("tb-graph")
    code, out, err = cli("train", *LENET, "--set", "train.tensorboard=true", "--runs-dir", str(runs),
                         "--run-id", "lenet")
    assert code == 0, out + err
    assert "graph not written" not in err and "unsigned char" not in out + err
    return runs


def test_an_image_models_graph_is_written_live(lenet_run):
    text = graph_text(lenet_run / "lenet" / "tensorboard")
    assert "Conv2d" in text and "Linear" in text  # the model's layers, traced on images as it sees them


def test_an_image_models_graph_is_written_by_export(lenet_run, tmp_path):
    code, out, err = cli("export", "lenet", "--tensorboard", str(tmp_path / "tb"), "--runs-dir", str(lenet_run))
    assert code == 0 and "and the model graph in" in out, out + err
    text = graph_text(tmp_path / "tb")
    assert "Conv2d" in text and "Linear" in text


def test_a_model_that_cannot_be_traced_is_one_line_of_the_runs_log(tmp_path, monkeypatch):
    from torch.utils.tensorboard import SummaryWriter

    def refuse(self, model, *args, **kwargs):
        print("torch's own words that must not reach the user")
        raise RuntimeError("Input type (unsigned char) and bias type (float) should be the same")

    monkeypatch.setattr(SummaryWriter, "add_graph", refuse)
    code, out, err = cli("train", *LENET, "--set", "train.tensorboard=true", "--runs-dir", str(tmp_path),
                         "--run-id", "r")
    assert code == 0, out + err
    said = [line for line in (out + err).splitlines() if "graph" in line]
    assert said == ["tensorboard: model graph not written (lenet cannot be traced (RuntimeError))"], said
    assert "unsigned char" not in out + err and "torch's own words" not in out + err
    code, out, err = cli("export", "r", "--tensorboard", str(tmp_path / "tb"), "--runs-dir", str(tmp_path))
    assert code == 0 and "no model graph (lenet cannot be traced (RuntimeError))" in out and "torch" not in out


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # no thread's traceback either
@pytest.mark.parametrize("code_", [errno.ENOSPC, errno.EROFS])
def test_export_to_a_destination_that_refuses_writes_is_one_line(lenet_run, tmp_path, monkeypatch, code_):
    """A full disk or a read-only file system under the event writer's own writes: one line, exit 2."""
    import builtins
    import io

    dest = tmp_path / "tb"
    real_open = builtins.open

    def full(file, mode="r", *args, **kwargs):  # the event file writer opens its file for writing
        name = os.fsdecode(file) if isinstance(file, (str, bytes, os.PathLike)) else ""
        if name.startswith(str(dest)) and any(m in mode for m in "wa"):
            raise OSError(code_, os.strerror(code_))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", full)
    monkeypatch.setattr(io, "open", full)  # what tensorboard's file layer calls
    code, out, err = cli("export", "lenet", "--tensorboard", str(dest), "--runs-dir", str(lenet_run))
    monkeypatch.undo()
    assert code == 2 and "Traceback" not in out + err, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("d2l-tui: error: --tensorboard") and os.strerror(code_) in lines[0]
    assert not dest.exists()  # the folder the export made is not left behind


def test_export_into_a_read_only_folder_is_one_line(lenet_run, tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    with read_only(parent):
        code, out, err = cli("export", "lenet", "--tensorboard", str(parent / "tb"), "--runs-dir", str(lenet_run))
    assert code == 2 and "Traceback" not in out + err, out + err
    assert err.count("\n") == 1 and err.startswith("d2l-tui: error: --tensorboard")
    assert list(parent.iterdir()) == []
