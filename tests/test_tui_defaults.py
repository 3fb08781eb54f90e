"""Pilot tests: Start launches the model's training defaults, and the defaults follow the device picked."""

from __future__ import annotations

from tui_pilot import pilot_test, settle_summary, until

from d2ltui.tasks.defaults import train_defaults
from d2ltui.tasks.resolve import resolve
from d2ltui.config.schema import dump_toml, from_dict
from d2ltui.tui.app import create_app
from d2ltui.tui.widgets.catalog import Catalog
from d2ltui.zoo.registry import get_spec, resolve_knobs


def recording(app) -> list[tuple]:
    """Make Start record what it would launch instead of spawning the engine."""
    launched: list[tuple] = []
    app.start_run = lambda cfg=None, nproc=0, resume="": launched.append((cfg, nproc))
    return launched


def launched_config(tmp_path, launch):
    """The config Start resolved, as the run's config.toml will hold it (read back through TOML)."""
    cfg, _nproc = launch
    path = tmp_path / "config.toml"
    path.write_text(dump_toml(cfg))
    return resolve(str(path))[0]


def same_training(cfg, expected_raw) -> None:
    expected = from_dict(expected_raw)
    expected.train.device = cfg.train.device
    spec = get_spec(cfg.model.name)
    assert resolve_knobs(spec, cfg.model.knobs) == resolve_knobs(spec, expected.model.knobs)
    got, want = cfg.to_dict(), expected.to_dict()
    for section in ("data", "optim", "train"):
        assert got[section] == want[section], section


@pilot_test
async def test_start_on_lenet_launches_its_cpu_defaults_with_the_books_architecture(tmp_path):
    app = create_app(runs_dir=tmp_path / "runs")
    launched = recording(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle_summary(pilot)
        await pilot.press("t")
        await until(pilot, lambda: bool(app.screen.query("#config")))
        app.screen.query_one("#cfg-device").value = "cpu"
        await pilot.pause(0.1)
        lr = train_defaults(get_spec("lenet"), "cpu")["optim"]["lr"]
        assert app.screen.query_one("#cfg-optim-lr").value == str(lr)  # the panel shows the defaults
        await pilot.press("s")
        await until(pilot, lambda: bool(launched))
    cfg = launched_config(tmp_path, launched[0])
    same_training(cfg, train_defaults(get_spec("lenet"), "cpu"))
    assert resolve_knobs(get_spec("lenet"), cfg.model.knobs)["activation"] == "sigmoid"


@pilot_test
async def test_defaults_follow_a_gpu_but_keep_the_users_edits(tmp_path):
    app = create_app(runs_dir=tmp_path / "runs")
    launched = recording(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle_summary(pilot)
        app.screen.query_one(Catalog).select_model("alexnet")
        await until(pilot, lambda: app.screen.plan is not None and app.screen.plan.model == "alexnet")
        await pilot.press("t")
        await until(pilot, lambda: bool(app.screen.query("#config")))
        panel = app.screen.query_one("#config")
        await until(pilot, lambda: panel.devices_listed)
        cpu = train_defaults(get_spec("alexnet"), "cpu")
        assert panel.query_one("#cfg-data-resize").value == str(cpu["data"]["resize"])
        panel.query_one("#cfg-train-epochs").value = "2"  # the user's own choice
        panel._set_devices([("CPU", "cpu"), ("cuda:0 a GPU", "cuda:0")])  # as on a GPU box: auto is the GPU
        await pilot.pause(0.2)
        assert panel.query_one("#cfg-data-resize").value == "224"
        assert panel.query_one("#cfg-train-epochs").value == "2"
        panel.query_one("#cfg-device").value = "cpu"
        await pilot.pause(0.2)
        assert panel.query_one("#cfg-data-resize").value == str(cpu["data"]["resize"])
        panel.query_one("#cfg-device").value = "cuda:0"
        await pilot.pause(0.2)
        await pilot.press("s")
        await until(pilot, lambda: bool(launched))
    assert launched[0][0].train.device == "cuda:0"
    cfg = launched_config(tmp_path, launched[0])  # resolving for cuda:0 needs no GPU; training would
    gpu = train_defaults(get_spec("alexnet"), "gpu")
    gpu["train"]["epochs"] = 2
    same_training(cfg, gpu)
    assert (cfg.data.resize, cfg.optim.lr, cfg.optim.name, cfg.data.num_train) == (224, 0.01, "sgd", 0)
