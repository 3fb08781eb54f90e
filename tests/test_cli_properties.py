"""Every command, every config key: whatever the arguments, exit 0 or one line and exit 2 (never a traceback,
never exit 1), and nothing outside the runs folder (or an export's own destination) is ever written.

The commands run in this process (the console script's own `main`, which turns a UserError into one line),
in a working directory of their own, with HOME and the XDG folders in the test's folder and the network
cut, so a dataset that would be downloaded is refused in one line too. Training is kept to a few steps.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path

import pytest
from fault_helpers import cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from d2ltui.config.schema import SECTIONS
from d2ltui.labs.registry import all_labs
from d2ltui.zoo.registry import all_specs

pytestmark = pytest.mark.slow
KEYS = [f"{section}.{f.name}" for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)]
KNOBS = sorted({k for s in all_specs() for k in s.knobs})
SMALL_MODELS = ["mlp", "lenet", "linear-regression", "softmax-regression", "value-iteration", "gan", "rnn-lm",
                "quick-mlp-moons", "quick-linear", "quick-lenet-shapes"]
# A config that is otherwise anything trains at most two small steps, never compiling
SAFE = ["--set", "train.compile=false", "--set", "train.max_steps=2", "--set", "data.num_train=32",
        "--set", "data.num_val=16", "--set", "data.batch_size=8"]
garbage = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
words = st.one_of(garbage, st.sampled_from(["", "-", "--", "x", "nope", "..", "../x", "a/b", "/", "-x", "0",
                                            "1x1x28x28", "1x0", "nan", "inf", "-1", "1e999", "true", "[1, 2]",
                                            "(8,)", "cpu", "cuda", "cuda:7", "mps", "shapes", "moons", "mnist",
                                            "relu", "sgd", "adam", "cosine"]))
values = st.one_of(words, st.sampled_from(["0", "1", "2", "3", "-1", "0.5", "1e-3", "1e12", "false", "true",
                                           "[]", "[1]", '"x"', "nan", "-inf"]))
keys = st.one_of(st.sampled_from(KEYS), st.sampled_from(KNOBS), garbage, st.sampled_from(["model.name", "data.",
                                                                                          ".x", "a.b.c", "x"]))


@st.composite
def sets(draw, most: int = 3) -> list[str]:
    out: list[str] = []
    for key, value in draw(st.lists(st.tuples(keys, values), max_size=most)):
        out += ["--set", f"{key}={value}" if draw(st.integers(0, 9)) else key]  # sometimes no '='
    return out


@st.composite
def options(draw, pools: dict[str, st.SearchStrategy]) -> list[str]:
    out: list[str] = []
    for name in draw(st.lists(st.sampled_from(sorted(pools)), max_size=3, unique=True)):
        out += [name] if pools[name] is None else [name, draw(pools[name])]
    return out


@st.composite
def command(draw, root: Path) -> list[str]:
    """One command line: a command, its arguments drawn from good and bad values, and its options."""
    flag, ints = None, st.one_of(st.integers(-2, 12).map(str), words)
    runs_dir = st.sampled_from([str(root / "runs2"), str(root / "file"), str(root / "file" / "under"), ""])
    run = st.one_of(st.sampled_from(["r1", "r", "nope", "../r1", str(root / "runs" / "r1"), str(root / "file")]),
                    words)
    target = st.one_of(st.sampled_from(SMALL_MODELS), words, st.just(str(root / "file")))
    name = draw(st.sampled_from(["list", "lab", "inspect", "train", "profile", "lr-find", "sweep", "export", "runs",
                                 "attach", "predict", "augment", "presets"]))
    if name in ("list", "presets"):
        return [name, *draw(options({"--json": flag, "--nope": flag}))]
    if name == "lab":
        lab = draw(st.one_of(st.sampled_from([lab.name for lab in all_labs()]), words))
        return ["lab", lab, *draw(sets()), *draw(options({"--json": flag}))]
    if name == "inspect":
        model = draw(st.one_of(st.sampled_from(SMALL_MODELS[:6]), words))
        return ["inspect", model, *draw(sets(2)), *draw(options({"--input": words, "--depth": ints, "--json": flag,
                                                                 "--params": flag}))]
    if name in ("train", "profile", "lr-find") and draw(st.booleans()):  # a good command line, now and then
        model = draw(st.sampled_from(["quick-mlp-moons", "quick-linear", "quick-lenet-shapes", "value-iteration",
                                      "gan", "quick-rnn-python-docs"]))
        extra = {"train": ["--plain", "--run-id", draw(st.sampled_from(["a", "b-1", "r1"]))], "profile": ["-n", "1"],
                 "lr-find": ["--steps", "10"]}[name]
        return [name, model, *extra, *SAFE]
    if name == "train":
        return ["train", draw(target), *draw(sets()), *draw(options({
            "--device": words, "--resume": run, "--run-id": words, "--runs-dir": runs_dir, "--nnodes": words,
            "--plain": flag})), *SAFE, "--plain"]
    if name == "profile":
        return ["profile", draw(target), *draw(sets(2)),
                *draw(options({"--steps": st.sampled_from(["1", "0", "x", "-3"]), "--json": flag})), *SAFE]
    if name == "lr-find":
        return ["lr-find", draw(target), *draw(sets(2)), *draw(options({
            "--steps": st.sampled_from(["10", "9", "x"]), "--lr-min": words, "--lr-max": words, "--json": flag})),
            *SAFE]
    if name == "sweep":  # a sweep that started would train children for seconds: one bad input at least
        bad = draw(st.sampled_from([["--seeds", "100000"], ["--grid", "optim.lr"], ["--resume", "nope"],
                                    ["--runs-dir", str(root / "file")], ["--scheduler", "nope"],
                                    ["--sample", "optim.lr=normal(1,2)"], ["--grid", "nope.x=1,2"]]))
        return ["sweep", draw(target), *bad, *draw(sets(2)),
                *draw(options({"--grid": words, "--seeds": ints, "--eta": ints, "--json": flag})), *SAFE]
    if name == "export":
        dest = draw(st.sampled_from([str(root / "exports" / "tb"), str(root / "file"), str(root / "file" / "tb"),
                                     ""]))
        return ["export", draw(run), "--tensorboard", dest, *draw(options({"--runs-dir": runs_dir}))]
    if name == "runs":
        return ["runs", *draw(st.lists(run, max_size=2)),
                *draw(options({"--json": flag, "--layers": words, "--runs-dir": runs_dir}))]
    if name == "attach":  # it opens the dashboard when the run exists: only runs that do not
        return ["attach", draw(st.sampled_from(["nope", "../r1", "", "a/b", str(root / "file")])),
                *draw(options({"--runs-dir": runs_dir}))]
    if name == "predict":
        return ["predict", draw(run), draw(words), *draw(options({"--json": flag, "--runs-dir": runs_dir}))]
    dataset = draw(st.one_of(st.sampled_from(["shapes", "moons", "mnist"]), words))
    return ["augment", dataset, *draw(sets(1)),
            *draw(options({"--augment": words, "--seed": ints, "--index": ints, "--json": flag}))]


def tree(root: Path, allowed: tuple[str, ...]) -> dict[str, tuple]:
    """Every file and folder under `root` but the allowed ones: path -> ("dir",) or ("file", size, modified)."""
    out = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if rel.parts[0] in allowed:
            continue
        if path.is_dir():  # (a folder's own time changes when a failed download leaves nothing in it)
            out[str(rel)] = ("dir",)
        else:
            st_ = path.lstat()
            out[str(rel)] = ("file", st_.st_size, st_.st_mtime_ns)
    return out


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A runs folder with one finished run, a file where a folder is wanted, a working directory, home and XDG
    folders of the test's own, and no network."""
    for name in ("cwd", "home", "xdg-data", "xdg-cache", "xdg-config"):
        (tmp_path / name).mkdir()
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("D2LTUI_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.chdir(tmp_path / "cwd")

    def offline(*_args, **_kwargs):
        raise OSError(101, "Network is unreachable (cut by the test)")

    monkeypatch.setattr(socket.socket, "connect", offline)
    monkeypatch.setattr(socket, "create_connection", offline)
    code, out, err = cli("train", "mlp", "--set", "data.name=moons", "--set", "data.num_train=32",
                         "--set", "train.epochs=1", "--plain", "--run-id", "r1")
    assert code == 0, out + err
    return tmp_path


@settings(max_examples=int(os.environ.get("D2LTUI_CLI_EXAMPLES", "150")), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_every_command_is_exit_0_or_one_line_and_writes_only_runs(world, data):
    args = data.draw(command(world), label="args")
    allowed = ("runs", "runs2", "exports")
    before = tree(world, allowed)
    code, out, err = cli(*args)
    if os.environ.get("D2LTUI_CLI_LOG"):  # what was tried, with its exit code and last line
        with open(os.environ["D2LTUI_CLI_LOG"], "a") as log:
            log.write(f"{code} {args!r} {(err or out).strip().splitlines()[-1:]!r}\n")
    assert "Traceback" not in out + err, (args, err)
    assert code in (0, 2), (args, code, out, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("d2l-tui: error: "), (args, err)
    assert tree(world, allowed) == before, args
