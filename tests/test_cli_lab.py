"""`d2l-tui lab`: the list, a figure as text and as JSON, labs in `list`, one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fault_helpers import run_main
from typer.testing import CliRunner

from d2ltui.cli import app
from d2ltui.labs.registry import all_labs

runner = CliRunner()


def test_lab_lists_every_lab_with_its_knobs():
    result = runner.invoke(app, ["lab"])
    assert result.exit_code == 0, result.output
    for spec in all_labs():
        assert spec.name in result.output and spec.title in result.output
    assert "kernel=gaussian  (one of gaussian, boxcar, constant, epanechikov)" in result.output
    assert "width=0.5  (float from 0.1 to 1.0)" in result.output
    listed = json.loads(runner.invoke(app, ["lab", "--json"]).output)
    assert [d["name"] for d in listed] == [s.name for s in all_labs()]
    assert listed[0]["knobs"]["width"] == {"type": "float", "default": 0.5, "help": listed[0]["knobs"]["width"]["help"],
                                           "min": 0.1, "max": 1.0}


def test_lab_json_is_the_figure():
    result = runner.invoke(app, ["lab", "nadaraya-watson", "--set", "kernel=boxcar", "--set", "width=0.3", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["lab"] == "nadaraya-watson" and data["knobs"] == {"kernel": "boxcar", "width": 0.3, "seed": 0}
    kinds = {p["title"]: p["kind"] for p in data["panels"]}
    assert kinds == {"fit": "curves", "attention weights": "heatmap"}
    heat = next(p for p in data["panels"] if p["kind"] == "heatmap")
    assert len(heat["matrix"]) == 50 and len(heat["cols"]) == 40


def test_lab_text_shows_masked_cells_as_zero(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    result = runner.invoke(app, ["lab", "masked-softmax", "--set", "valid_lens=((1, 3), (2, 4))"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    row = next(line for line in lines if line.strip().startswith("ex0 q0"))
    assert row.split()[2:] == ["1.0000", "·0", "·0", "·0"]
    assert "·0 masked (weight exactly 0)" in result.output and "one length per query" in result.output
    nw = runner.invoke(app, ["lab", "nadaraya-watson"])
    assert "== fit ==" in nw.output and "== attention weights ==" in nw.output and "mean squared error" in nw.output
    assert max(map(len, nw.output.splitlines())) <= 100


@pytest.mark.parametrize("argv, needle", [
    (["lab", "nadaraya-watson", "--set", "kernel=cosine"], "knob kernel: 'cosine' is not one of gaussian, boxcar"),
    (["lab", "nadaraya-watson", "--set", "width=3"], "knob width: 3.0 is above the maximum 1.0 (allowed: float from 0.1 to 1.0)"),
    (["lab", "nadaraya-watson", "--set", "bandwidth=3"], "its knobs: kernel, width, seed"),
    (["lab", "attention-scoring", "--set", "valid_lens=(2, 11)"], "valid_lens: expected two lengths from 1 to 10"),
    (["lab", "nadaraya-watsn"], "unknown lab 'nadaraya-watsn' (did you mean nadaraya-watson"),
    (["lab", "--set", "width=0.3"], "--set needs a lab"),
])
def test_bad_lab_input_is_one_line_and_exit_2(argv, needle, capsys):
    code, out, err = run_main(argv, capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("d2l-tui: error: ") and needle in err, err


def test_list_shows_labs_under_their_chapter(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    lines = runner.invoke(app, ["list"]).output.splitlines()
    for spec in all_labs():
        chapter_at = lines.index(spec.chapter)
        row = next(i for i, line in enumerate(lines) if line.split()[:1] == [spec.name])
        assert row > chapter_at and lines[row].split()[1] == "lab"
        assert all(line.startswith(" ") for line in lines[chapter_at + 1: row])
    data = json.loads(runner.invoke(app, ["list", "--json"]).output)
    assert [d["name"] for d in data if d["kind"] == "lab"] == [s.name for s in all_labs()]


def test_lab_list_imports_no_torch():
    code = ("import sys\nfrom d2ltui.cli import main\n"
            "for argv in (['lab'], ['lab', '--json'], ['lab', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit as e:\n        assert e.code == 0, argv\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "NO-TORCH"
