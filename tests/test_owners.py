"""One owner per concept: saved presets reach `train NAME` and `presets`, the panel's bounds are the schema's,
the TUI and CLI print the same totals, the ETA after a resume ignores the stop, help lists every binding."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import socket
import time

import pytest
from fault_helpers import cli
from tui_pilot import pilot_test, until

from d2ltui.config.presets import SAVED, SHIPPED, list_presets, save_preset
from d2ltui.tasks.resolve import resolve
from d2ltui.config.schema import SECTIONS, field_rule
from d2ltui.errors import UserError
from d2ltui.tui.widgets.config_fields import FIELDS, field_id, field_problem


def ruled_keys() -> list[str]:
    """Every "section.name" whose schema field carries a rule (choices or bounds)."""
    return [f"{s}.{f.name}" for s, kind in SECTIONS.items() for f in dataclasses.fields(kind)
            if set(f.metadata) - {"applies"}]


def _presets_table() -> dict[str, list[str]]:
    code, out, err = cli("presets")
    assert code == 0, err
    return {line.split()[0]: line.split() for line in out.splitlines()[1:]}


def test_a_preset_saved_by_the_panel_trains_by_name_and_is_listed_as_saved():
    raw = {"model": {"name": "mlp", "dropout": 0.25}, "data": {"name": "moons", "batch_size": 32},
           "optim": {"name": "adam", "lr": 0.003}, "train": {"epochs": 2}}
    path = save_preset("my-moons", raw)
    assert path.parent.name == "presets" and path.parent.parent.name == "d2ltui"  # $XDG_DATA_HOME/d2ltui/presets
    cfg, _ = resolve("my-moons")
    assert (cfg.model.name, cfg.model.knobs["dropout"], cfg.data.name, cfg.optim.name, cfg.optim.lr,
            cfg.train.epochs) == ("mlp", 0.25, "moons", "adam", 0.003, 2)
    row = _presets_table()["my-moons"]
    assert row[1:4] == ["mlp", "moons", SAVED]
    assert _presets_table()["lenet"][3] == SHIPPED


def test_a_saved_preset_shadows_the_shipped_one_of_its_name():
    shipped, _ = resolve("lenet")
    raw = {"model": {"name": "lenet"}, "data": {"name": "shapes"}, "train": {"epochs": 3}}
    save_preset("lenet", raw, description="my own LeNet")
    mine, description = resolve("lenet")
    assert (mine.data.name, mine.train.epochs, description) == ("shapes", 3, "my own LeNet")
    assert shipped.data.name != "shapes"
    listed = [p for p in list_presets() if p.name == "lenet"]
    assert len(listed) == 1 and listed[0].source == SAVED
    assert _presets_table()["lenet"][1:4] == ["lenet", "shapes", SAVED]


def test_a_bad_preset_name_is_refused_and_an_unreadable_saved_preset_is_listed_not_fatal(tmp_path):
    with pytest.raises(UserError, match="preset name"):
        save_preset("../escape", {"model": {"name": "mlp"}})
    folder = tmp_path / "xdg" / "d2ltui" / "presets"
    folder.mkdir(parents=True)
    (folder / "broken.toml").write_text("[model\n")
    row = _presets_table()["broken"]
    assert row[3] == SAVED and "(unreadable:" in " ".join(row) and "broken.toml" in " ".join(row)


def _probes(key: str) -> list:
    """Values on and just past each bound of `key`'s rule, its 'off' value, its choices and a wrong choice."""
    r = field_rule(key)
    if "pattern" in r:  # train.device: names the schema's pattern takes and refuses
        return ["auto", "cpu", "cuda", "mps", "tpu", "cuda:x"]
    if "choices" in r:
        return [*r["choices"], "bogus"] if not isinstance(r["choices"][0], int) else [*r["choices"], 2, -1, 7]
    values = [r.get("off")] if "off" in r else []
    for bound in ("min", "max", "gt", "lt"):
        if bound in r:
            b = r[bound]
            step = 1 if isinstance(b, int) and key not in ("optim.lr", "optim.momentum") else 1e-6
            values += [b - step, b, b + step]
    return [v for v in values if v is not None]


PAIRED = {"optim.schedule": ["optim.milestones=[2]"]}  # a field another needs (config.schema.check_optim)


@pytest.mark.parametrize("key", ruled_keys())
def test_the_panel_refuses_exactly_what_validate_refuses(key):
    assert _probes(key)
    for value in _probes(key):
        text = value if isinstance(value, str) else repr(value)
        try:
            resolve("mlp", [f"{key}={text}", *PAIRED.get(key, [])])
            accepted = True
        except UserError:
            accepted = False
        assert (field_problem(key, text) is None) == accepted, (key, value)


def test_every_panel_field_has_a_schema_rule():
    assert {key for key, _ in FIELDS} <= set(ruled_keys())


@pilot_test
async def test_the_panel_widgets_use_the_schema_bounds(tmp_path):
    from d2ltui.tui.app import create_app

    app = create_app(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("t")
        await until(pilot, lambda: bool(app.screen.query(f"#{field_id('data.resize')}")))
        for key, text, ok in (("data.resize", "4096", False), ("data.resize", "0", True), ("data.resize", "1024", True),
                              ("data.resize", "4", False), ("optim.lr", "100", True), ("optim.lr", "20000", False),
                              ("optim.weight_decay", "5", True), ("data.augment", "flip,flop", False)):
            field = app.screen.query_one(f"#{field_id(key)}")
            field.value = text
            await pilot.pause()
            assert field.is_valid == ok, (key, text)
            try:
                resolve("mlp", [f"{key}={text}", *PAIRED.get(key, [])])
                assert ok, (key, text)
            except UserError:
                assert not ok, (key, text)


def test_tui_and_cli_print_the_same_totals(capsys):
    from d2ltui.cli.inspecting import run_inspect
    from d2ltui.tui.inspection import inspect_model

    tui = inspect_model("alexnet", {}, "1x1x224x224")
    assert tui.error is None
    run_inspect("alexnet", input_spec="1x1x224x224", overrides=[], depth=1, json_out=False)
    out = capsys.readouterr().out
    assert f"params {tui.totals['params']} (trainable {tui.totals['trainable']}" in out
    assert f"FLOPs {tui.totals['FLOPs']} (" in out and f"activations {tui.totals['activations']}" in out
    assert f"), {tui.totals['weights']}" in out
    assert "MiB" in tui.totals["weights"] and "G" in tui.totals["FLOPs"]  # binary bytes, SI counts in both
    rows = [line.split() for line in out.splitlines()]
    assert any(r[-2:] == [tui.rows[0].flops, tui.rows[0].rf] for r in rows if r and r[0] == tui.rows[0].name)


def _resumed_run(root):
    """A run stopped for an hour at step 50 and resumed: 0.1 s of training per step on the engine's clock."""
    path = root / "resumed"
    path.mkdir(parents=True)
    (path / "config.toml").write_text('[model]\nname = "mlp"\n[data]\nname = "moons"\n')
    with open(path / "metrics.jsonl", "w") as f:
        for step in range(10, 101, 10):
            f.write(json.dumps({"step": step, "epoch": 1, "split": "train", "loss": 1.0, "time": step * 0.1}) + "\n")
    now = time.time()
    from d2ltui.rundir.store import pid_start

    status = {"state": "running", "pid": os.getpid(), "pid_start": pid_start(os.getpid()), "host": socket.gethostname(),
              "message": "resumed at step 50", "started": now - 3600 - 10, "updated": now, "step": 100,
              "start_step": 50, "epoch": 1, "total_epochs": 2, "total_steps": 200}
    (path / "status.json").write_text(json.dumps(status))
    return path, status


def test_eta_after_resume_excludes_the_stopped_time(tmp_path):
    from d2ltui.engine.loop.progress import ConsolePrinter
    from d2ltui.engine.loop import events as ev
    from d2ltui.rundir.store import read_status
    from d2ltui.tui.runlog import MetricsTail
    from d2ltui.tui.widgets.progress_line import progress_text

    path, _ = _resumed_run(tmp_path)
    tail = MetricsTail(path)
    tail.poll()
    text = progress_text(read_status(path), tail.records[-1], *tail.series("train", "time")).plain
    assert "ETA 0:10" in text, text  # 100 steps left at 0.1 s each, not an hour's worth
    printer = ConsolePrinter(live=False, stream=io.StringIO())
    printer(ev.Started(run_id="resumed", model="mlp", data="moons", task="classification", device="cpu", num_params=1,
                       steps_per_epoch=100, total_steps=200, total_epochs=2, start_step=50))
    for record in tail.records:
        printer(ev.Metrics(record))
    assert printer.out.getvalue().splitlines()[-1].endswith("ETA 0:10")


@pilot_test
async def test_dashboard_eta_after_resume_excludes_the_stopped_time(tmp_path):
    from d2ltui.tui.app import create_app
    from d2ltui.tui.widgets.progress_line import ProgressLine

    path, _ = _resumed_run(tmp_path / "runs")
    app = create_app(runs_dir=tmp_path / "runs", attach="resumed")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: "ETA" in getattr(app.screen.query(ProgressLine).first(), "_shown", "")
                    if app.screen.query(ProgressLine) else False)
        assert "ETA 0:10" in app.screen.query_one(ProgressLine)._shown


@pilot_test
async def test_help_lists_every_binding_of_every_screen(tmp_path):
    from textual.widgets import Markdown

    from d2ltui.tui.app import create_app
    from d2ltui.tui.screens.dialogs import screens_with_keys

    app = create_app(runs_dir=tmp_path / "runs")
    async with app.run_test(size=(120, 60)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen" and bool(app.screen.query(Markdown)))
        source = app.screen.query_one(Markdown).source
        import importlib
        import pkgutil

        from textual.screen import ModalScreen, Screen

        import d2ltui.tui.screens as screens_pkg

        for info in pkgutil.iter_modules(screens_pkg.__path__):  # every full screen with keys is there
            module = importlib.import_module(f"d2ltui.tui.screens.{info.name}")
            for obj in vars(module).values():
                if isinstance(obj, type) and issubclass(obj, Screen) and obj.__module__ == module.__name__ \
                        and obj.__dict__.get("BINDINGS") and not issubclass(obj, ModalScreen):
                    assert obj in {owner for _, owner in screens_with_keys()}, obj
        for where, owner in screens_with_keys():
            for binding in owner.BINDINGS:
                keys = binding.key_display or " / ".join(binding.key.split(","))
                assert f"| `{keys}` | {where} | {binding.tooltip or binding.description} |" in source, binding
