"""Fuzzed configs, overrides and command lines: always a valid config or one clear line, never a traceback."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from d2ltui.config import schema as config
from d2ltui.config.schema import RunConfig, apply_overrides, dump_toml, from_dict
from d2ltui.errors import UserError
from d2ltui.zoo.registry import all_specs, get_spec, resolve_knobs

FAST = settings(deadline=None, database=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
# printable text: a key holding a newline would be echoed into the message on two lines
texts = lambda n: st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=n)  # noqa: E731
MODELS = [s.name for s in all_specs()]
FIELDS = {name: [f.name for f in dataclasses.fields(cls)] for name, cls in config.SECTIONS.items()}
KNOBS = sorted({k for s in all_specs() for k in s.knobs})
DATA = ["shapes", "moons", "circles", "spirals", "xor", "synthetic-regression", "python-docs", "reverse",
        "dates", "tabular-missing", "fashion-mnist", "mnist", "cifar10", "time-machine", "fra-eng",
        "text-file", "csv", "kaggle-house", "nope"]

scalars = st.one_of(
    st.integers(min_value=-10**12, max_value=10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), texts(12), st.sampled_from(DATA + MODELS + ["sgd", "adam", "cosine", "cpu", "cuda:7"]),
    st.sampled_from([0, 1, -1, 2, 3, 28, 96, 224, 0.5, 1e-3, 1e5]))
values = st.one_of(scalars, st.lists(scalars, max_size=4), st.dictionaries(texts(4), scalars, max_size=2))


@st.composite
def raw_configs(draw):
    raw = {}
    if draw(st.booleans()):
        model = {"name": draw(st.one_of(st.sampled_from(MODELS), values))}
        for key in draw(st.lists(st.one_of(st.sampled_from(KNOBS), texts(6)), max_size=3)):
            model[key] = draw(values)
        raw["model"] = model if draw(st.integers(0, 9)) else draw(values)
    for section, names in FIELDS.items():
        if draw(st.booleans()):
            keys = draw(st.lists(st.one_of(st.sampled_from(names), texts(6)), max_size=4))
            raw[section] = {k: draw(values) for k in keys}
    if draw(st.integers(0, 9)) == 0:
        raw[draw(texts(8))] = draw(values)
    return raw


def _validate(raw: dict) -> RunConfig | None:
    from d2ltui.tasks.resolve import validate

    try:
        cfg = from_dict(raw)
        validate(cfg)
    except UserError as err:
        message = str(err)
        assert message and "\n" not in message and "Traceback" not in message
        return None
    return cfg


def _assert_round_trip(cfg: RunConfig) -> None:
    """What config.toml holds reads back as the same config (knobs compared as the model sees them)."""
    back = from_dict(config.tomllib.loads(dump_toml(cfg)))
    assert (back.model.name, back.data, back.optim, back.train) == (cfg.model.name, cfg.data, cfg.optim, cfg.train)
    spec = get_spec(cfg.model.name)
    assert resolve_knobs(spec, back.model.knobs) == resolve_knobs(spec, cfg.model.knobs)


@settings(FAST, max_examples=500)
@given(raw_configs())
def test_random_config_dicts_are_valid_or_one_user_error(raw):
    cfg = _validate(raw)
    event("valid" if cfg is not None else "user error")
    if cfg is not None:  # a valid config survives the trip through config.toml
        _assert_round_trip(cfg)


key_strings = st.one_of(
    st.sampled_from([f"{s}.{k}" for s, names in FIELDS.items() for k in names] + [f"model.{k}" for k in KNOBS]
                    + KNOBS + ["model.name", "name", "data", ".", "a.b.c", ""]),
    texts(10))
value_strings = st.one_of(texts(12), st.sampled_from(
    ["1", "0", "-1", "0.1", "1e-3", "nan", "inf", "-inf", "true", "False", "[1, 2]", "(64, 32)", "'x'", "{}",
     "adam", "cosine", "cpu", "cuda", "mps", "auto", "flip,crop", "1_000", "0x10", "__import__('os')", "[[["]
    + MODELS + DATA), st.integers(-5, 10**6).map(str), st.floats().map(str))
set_strings = st.one_of(st.builds(lambda k, v: f"{k}={v}", key_strings, value_strings), texts(15))


@settings(FAST, max_examples=400)
@example("~nosuchuser", [], None)  # a home folder that does not exist
@given(st.one_of(st.sampled_from(MODELS), texts(10)), st.lists(set_strings, max_size=4),
       st.one_of(st.none(), st.sampled_from(["cpu", "cuda", "cuda:0", "mps", "auto", "tpu", "cuda:x", ""])))
def test_random_set_overrides_resolve_or_fail_in_one_line(target, overrides, device):
    from d2ltui.tasks.resolve import resolve

    try:
        cfg, _ = resolve(target, overrides, device)
    except UserError as err:
        assert str(err) and "\n" not in str(err)
        event("user error")
        return
    event("valid")
    assert cfg.optim.lr > 0 and cfg.train.epochs >= 1 and not math.isnan(cfg.optim.lr)


@settings(FAST, max_examples=200)
@given(st.lists(set_strings, max_size=5))
def test_apply_overrides_only_raises_user_errors(overrides):
    try:
        raw = apply_overrides({}, overrides)
    except UserError:
        return
    assert all(isinstance(v, dict) for v in raw.values())


PLAUSIBLE = {
    "data": {"batch_size": st.integers(-2, 4096), "resize": st.sampled_from([0, 28, 32, 96, 224, -1, 10**6]),
             "channels": st.integers(-1, 4), "num_train": st.integers(-1, 5000), "num_val": st.integers(-1, 500),
             "num_steps": st.integers(-1, 64), "augment": st.lists(st.sampled_from(["flip", "crop", "jitter", "x"]),
                                                                       max_size=3),
             "impute": st.sampled_from(["mean", "median", "most_frequent", "constant", "drop_rows", "drop_columns",
                                        "zero"]),
             "name": st.sampled_from(DATA), "seed": st.integers(-1, 99), "download": st.booleans()},
    "optim": {"name": st.sampled_from(["sgd", "adam", "adamw", "lamb"]), "lr": st.one_of(st.floats(-1, 20), st.just(math.nan)),
              "momentum": st.floats(-0.5, 1.5), "weight_decay": st.floats(-1, 1), "clip": st.floats(-1, 10),
              "schedule": st.sampled_from(["none", "cosine", "step", "linear"]), "warmup_steps": st.integers(-1, 50)},
    "train": {"epochs": st.integers(-1, 50), "seed": st.integers(-1, 10**9), "max_steps": st.integers(-1, 100),
              "device": st.sampled_from(["auto", "cpu", "cuda", "cuda:1", "mps", "gpu"]),
              "checkpoint_every": st.integers(-1, 100), "log_every": st.integers(-1, 100),
              "amp": st.sampled_from(["auto", "bf16", "off", "fp16"]), "channels_last": st.booleans(),
              "compile": st.booleans()},
}


@st.composite
def near_valid_configs(draw):
    spec = draw(st.sampled_from(all_specs()))
    raw = {"model": {"name": spec.name}}
    knob_names = st.lists(st.sampled_from(sorted(spec.knobs)), max_size=2, unique=True) if spec.knobs else st.just([])
    for knob in draw(knob_names):
        k = spec.knobs[knob]
        raw["model"][knob] = draw(st.sampled_from(list(k.choices)) if k.choices else st.just(k.default))
    for section, fields in PLAUSIBLE.items():
        keys = draw(st.lists(st.sampled_from(sorted(fields)), max_size=3, unique=True))
        raw[section] = {key: draw(fields[key]) for key in keys}
    return raw


@settings(FAST, max_examples=300)
@given(near_valid_configs())
def test_near_valid_configs_are_valid_or_one_user_error(raw):
    cfg = _validate(raw)
    event("valid" if cfg is not None else "user error")
    if cfg is not None:
        _assert_round_trip(cfg)
        assert cfg.data.batch_size >= 1 and cfg.optim.lr > 0 and 0 <= cfg.optim.momentum < 1


# -- the command line, in-process: every argv ends in exit 0/1/2 and one clear line, never a traceback -------

SMALL_MODELS = ["linear-regression", "softmax-regression", "mlp", "lenet", "rnn", "seq2seq", "nin", "nope"]
OPTIONS = ["--set", "-s", "--device", "--json", "--depth", "-d", "--input", "-i", "--resume", "--run-id",
           "--plain", "--help", "--runs-dir", "--bogus", "-x", "--", "~nosuchuser", "~", "/dev/null"]
word = st.one_of(st.sampled_from(SMALL_MODELS + OPTIONS + ["1x1x28x28", "1x9,1x9", "3", "-1", "cpu", "quick"]),
                 set_strings, texts(8))
argvs = st.one_of(
    st.tuples(st.sampled_from(["list", "presets", "inspect", "train", "runs", "lisst", "--help", "--version"]),
              st.lists(word, max_size=6)).map(lambda t: [t[0], *t[1]]),
    st.tuples(st.sampled_from(SMALL_MODELS[:-1]), st.lists(set_strings, max_size=3), st.sampled_from(["", "1x1x28x28", "2x3"]))
    .map(lambda t: ["inspect", t[0], *[a for s in t[1] for a in ("--set", s)], *(["--input", t[2]] if t[2] else [])]))


@pytest.fixture(scope="module")
def cli_runner():
    from typer.testing import CliRunner

    return CliRunner()


@settings(FAST, max_examples=300)
@given(argv=argvs)
def test_random_command_lines_end_cleanly(argv, cli_runner, tmp_path_factory, monkeypatch_module):
    from d2ltui.cli import app

    if argv[0] in ("runs", "train") and "--runs-dir" not in argv:
        argv = [*argv, "--runs-dir", str(tmp_path_factory.getbasetemp() / "fuzz-runs")]
    result = cli_runner.invoke(app, argv, catch_exceptions=True)
    out = result.output
    assert "Traceback" not in out
    if isinstance(result.exception, UserError):  # main() prints it as one line and exits 2
        assert str(result.exception) and "\n" not in str(result.exception)
        event("user error")
        return
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1, 2), (argv, result.exit_code, out[-500:])
    event(f"exit {result.exit_code}")


@pytest.fixture(scope="module")
def monkeypatch_module():
    """No training inside the fuzz loop: a valid `train` stops right before the job would start."""
    from types import SimpleNamespace

    from d2ltui.engine import job
    from d2ltui.engine.launching import processes, torchrun

    patch = pytest.MonkeyPatch()
    made = SimpleNamespace(path=Path("nowhere"), id="nowhere")
    patch.setattr(job, "prepare", lambda cfg: None)
    patch.setattr(job, "create_run", lambda cfg, *a, **k: made)
    patch.setattr(job, "run_job", lambda *a, **k: 0)
    patch.setattr(processes, "launch_detached", lambda *a, **k: 0)
    patch.setattr(torchrun, "launch_torchrun", lambda *a, **k: 0)
    yield patch
    patch.undo()
