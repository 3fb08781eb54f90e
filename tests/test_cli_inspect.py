"""`d2l-tui list` and `d2l-tui inspect`: tables, JSON, no torch for list/--help, one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fault_helpers import run_main
from typer.testing import CliRunner

from d2ltui.cli import app
from d2ltui.zoo.registry import all_specs

runner = CliRunner()


# ---- list ----

def test_list_groups_every_model_under_its_chapter(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for spec in all_specs():
        chapter_at = lines.index(spec.chapter)
        row = next(i for i, line in enumerate(lines) if line.split()[:1] == [spec.name])
        assert row > chapter_at and spec.task in lines[row]
        assert all(not line or line.startswith(" ") for line in lines[chapter_at + 1: row])
    assert "1x1x224x224" in result.output and "1x9,1x9" in result.output
    assert max(map(len, lines)) <= 100


def test_list_json_is_the_whole_catalog():
    result = runner.invoke(app, ["list", "--json"])
    data = json.loads(result.output)
    assert [d["name"] for d in data if d["kind"] == "model"] == [s.name for s in all_specs()]
    lenet = next(d for d in data if d["name"] == "lenet")
    assert lenet["default_input"] == [[1, 1, 28, 28]] and lenet["task"] == "classification"
    assert lenet["knobs"]["norm"]["choices"] == ["none", "batch", "layer"]


def test_list_and_help_import_no_torch():
    code = ("import sys\nfrom d2ltui.cli import main\n"
            "for argv in (['--help'], ['list'], ['list', '--json'], ['inspect', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit as e:\n        assert e.code == 0, argv\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "NO-TORCH"


# ---- inspect: tables and JSON ----

def test_inspect_table_has_aligned_rows_and_totals(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    result = runner.invoke(app, ["inspect", "lenet"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if line.startswith("name"))
    for col in ("type", "output shape", "params", "FLOPs", "RF"):
        assert col in header
    conv1 = next(line for line in lines if line.startswith("conv1 "))
    assert conv1.split()[1:4] == ["Conv2d", "1x6x28x28", "156"] and conv1.split()[-1] == "5"
    assert "params 61,706 (trainable 61,706, frozen 0)" in result.output
    assert max(map(len, lines)) <= 100


@pytest.mark.parametrize("columns", [80, 100])
def test_inspect_fits_the_terminal_width(columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(columns))
    for argv in (["inspect", "seq2seq-attention", "--depth", "4"], ["inspect", "vgg11", "--input", "64x3x224x224"],
                 ["list"]):
        lines = runner.invoke(app, argv).output.splitlines()
        assert max(map(len, lines)) <= columns, argv
        if argv[0] == "inspect":  # the rule under the header has one run of dashes per column
            rule = next(line for line in lines if line.startswith("---"))
            assert len(rule.split()) == 6 and all(set(part) == {"-"} for part in rule.split())


def test_inspect_depth_and_knobs_change_the_table():
    flat = runner.invoke(app, ["inspect", "resnet18"]).output
    deep = runner.invoke(app, ["inspect", "resnet18", "--depth", "2"]).output
    assert len(deep.splitlines()) > len(flat.splitlines())
    assert any(line.startswith("  b2.") for line in deep.splitlines())
    batch = runner.invoke(app, ["inspect", "lenet", "--set", "norm=batch", "--set", "num_classes=5"])
    assert batch.exit_code == 0 and "BatchNorm2d" in batch.output and "knobs: num_classes=5, norm=batch" in batch.output
    assert "1x5" in batch.output


def test_inspect_json_object():
    result = runner.invoke(app, ["inspect", "lstm-lm", "--json", "--input", "4x16", "--set", "num_layers=2"])
    data = json.loads(result.output)
    for key in ("model", "input", "knobs", "layers", "total_params", "trainable_params", "flops", "param_bytes",
                "activation_bytes", "error"):
        assert key in data
    assert data["model"] == "lstm-lm" and data["input"] == [[4, 16]] and data["knobs"]["num_layers"] == 2
    assert data["error"] is None and data["total_params"] == data["trainable_params"] > 8_860
    rnn = next(layer for layer in data["layers"] if layer["type"] == "LSTM")
    for key in ("name", "output_shape", "params", "trainable_params", "flops", "activation_bytes",
                "receptive_field", "depth"):
        assert key in rnn
    assert rnn["output_shape"] == [16, 4, 32] and rnn["flops"] > 0 and rnn["receptive_field"] is None


def test_inspect_json_two_inputs_and_receptive_fields():
    data = json.loads(runner.invoke(app, ["inspect", "seq2seq", "--json", "--input", "2x7,2x5"]).output)
    assert data["input"] == [[2, 7], [2, 5]] and data["error"] is None
    lenet = json.loads(runner.invoke(app, ["inspect", "lenet", "--json"]).output)
    assert [layer["receptive_field"] for layer in lenet["layers"][:3]] == [5, 5, 6]


# ---- inspect: bad input is one line on stderr and exit code 2 ----

@pytest.mark.parametrize("argv, words", [
    (["inspect", "lenett"], ["unknown model 'lenett'", "did you mean lenet"]),
    (["inspect", "lenet", "--input", "1x1x28xx28"], ["--input", "empty dimension"]),
    (["inspect", "lenet", "--input", "1x1x28"], ["4 dimensions", "1x1x28x28"]),
    (["inspect", "seq2seq", "--input", "1x9"], ["takes 2 input"]),
    (["inspect", "lenet", "--set", "dropuot=0.1"], ["does not honour knob 'dropuot'", "did you mean dropout"]),
    (["inspect", "lenet", "--set", "dropout=1.5"], ["knob dropout", "above the maximum"]),
    (["inspect", "lenet", "--set", "norm=group"], ["knob norm", "not one of"]),
    (["inspect", "lenet", "--set", "dropout"], ["--set 'dropout'", "KNOB=VALUE"]),
])
def test_bad_input_is_one_line_and_exit_2(argv, words, capsys):
    code, out, err = run_main(argv, capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("d2l-tui: error: ")
    for word in words:
        assert word in err


def test_input_that_cannot_flow_prints_rows_then_the_error(capsys):
    code, out, err = run_main(["inspect", "alexnet", "--input", "1x1x28x28"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "Conv2d" in out and "1x96x5x5" in out and "stopped at layer" in out
    assert "(MaxPool2d)" in err and "1x256x2x2" in err and "smallest input of this form that works is 1x1x" in err
    code, out, err = run_main(["inspect", "alexnet", "--input", "1x1x28x28", "--json"], capsys)
    data = json.loads(out)
    assert code == 2 and data["error"] and data["error"] in err and data["layers"]
    side = data["failure"]["suggestion"][0][-1]
    ok = runner.invoke(app, ["inspect", "alexnet", "--input", f"1x1x{side}x{side}"])
    assert ok.exit_code == 0, ok.output


def test_console_script_errors_have_no_traceback():
    for argv in (["inspect", "nosuch"], ["inspect", "lenet", "--input", "1x1x2x2"]):
        done = subprocess.run([sys.executable, "-m", "d2ltui", *argv], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert done.stderr.startswith("d2l-tui: error: ")
