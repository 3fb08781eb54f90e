"""Pilot tests of the smaller promises on the home screen: a field's problem said once, a preset selector that
forgets its preset when the model changes, and a training panel that offers only what the task reads."""

from __future__ import annotations

from tui_pilot import pilot_test, settle_summary, until

from d2ltui.tasks.spec import task_spec
from d2ltui.tui.app import create_app
from d2ltui.tui.widgets.catalog import Catalog


@pilot_test
async def test_a_bad_input_shape_is_named_once():
    app = create_app()
    async with app.run_test(size=(100, 30)) as pilot:
        table = await settle_summary(pilot)
        app.screen.query_one("#input-shape").value = "abc"
        failure = table.query_one("#failure")
        await until(pilot, lambda: failure.display and "abc" in str(failure.render()))
        text = str(failure.render())
        assert "input:" in text and "input: input" not in text, text


async def train_panel(pilot):
    """The home screen's training panel, opened with `t`."""
    await settle_summary(pilot)
    await pilot.press("t")
    await until(pilot, lambda: bool(pilot.app.screen.query("#config")))
    return pilot.app.screen.query_one("#config")


@pilot_test
async def test_the_preset_selector_forgets_its_preset_when_the_model_changes():
    app = create_app()
    async with app.run_test(size=(100, 30)) as pilot:
        picker = (await train_panel(pilot)).query_one("#preset")
        picker.value = "quick-lenet-shapes"
        await until(pilot, lambda: app.screen.model == "lenet")
        await pilot.pause(0.3)
        assert picker.value == "quick-lenet-shapes"  # loading a preset of another model keeps it shown
        app.screen.query_one(Catalog).select_model("mlp")
        await until(pilot, lambda: app.screen.model == "mlp")
        await until(pilot, lambda: picker.is_blank())
        assert app.screen.model == "mlp"  # clearing the selector loaded nothing


@pilot_test
async def test_the_panel_offers_only_the_fields_its_task_reads():
    app = create_app()
    async with app.run_test(size=(100, 30)) as pilot:
        panel = await train_panel(pilot)
        for key in ("optim-name", "optim-lr", "optim-weight_decay", "model-init"):
            assert panel.query_one(f"#cfg-{key}").display  # the MLP trains with an optimizer from an init
        app.screen.query_one(Catalog).select_model("value-iteration")
        await until(pilot, lambda: app.screen.model == "value-iteration")
        await until(pilot, lambda: not panel.query_one("#cfg-optim-lr").display)
        spec = task_spec("value-iteration")
        for key in ("optim-name", "optim-lr", "optim-weight_decay", "model-init", "data-batch_size"):
            assert not panel.query_one(f"#cfg-{key}").display, key
        assert panel.query_one("#cfg-train-epochs").display and panel.query_one("#cfg-train-seed").display
        values = panel.values()
        assert values and all(spec.applies(key) for key in values), values
        cfg = app.screen.plan.with_values(values).config()  # what Start would run
        assert cfg.model.name == "value-iteration" and cfg.data.name.startswith("frozenlake")
        app.screen.query_one(Catalog).select_model("mlp")
        await until(pilot, lambda: panel.query_one("#cfg-optim-lr").display)


def test_a_task_declares_the_config_it_reads():
    rl, sup = task_spec("value-iteration"), task_spec("classification")
    assert not rl.applies("optim.lr") and not rl.applies("optim.name") and not rl.applies("data.augment")
    assert rl.applies("train.epochs") and rl.applies("data.name")
    assert all(sup.applies(k) for k in ("optim.lr", "data.batch_size", "data.augment", "train.epochs"))
