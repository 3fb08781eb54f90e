"""The first minute: the dashboard's one-line hint where the book's architecture starts slowly (sigmoid LeNet)."""

from __future__ import annotations

import json

import pytest
from tui_pilot import pilot_test, until, write_run

from d2ltui.tasks.defaults import MODEL_DEFAULTS, first_minute_hint
from d2ltui.tui.app import create_app


def test_hint_only_for_a_slow_first_validation_with_the_books_knobs():
    lenet = {"model": {"name": "lenet"}}
    hint = first_minute_hint(lenet, "acc", 0.12)
    assert hint and "quick-lenet-shapes" in hint and "Batch norm" in hint
    assert first_minute_hint(lenet, "acc", 0.5) is None  # past the halfway mark: nothing to say
    assert first_minute_hint({"model": {"name": "lenet", "activation": "sigmoid"}}, "acc", 0.12) == hint
    assert first_minute_hint({"model": {"name": "lenet", "activation": "relu"}}, "acc", 0.12) is None
    assert first_minute_hint({"model": {"name": "lenet", "norm": "batch"}}, "acc", 0.12) is None
    assert first_minute_hint({"model": {"name": "mlp"}}, "acc", 0.12) is None  # no hint for it
    assert first_minute_hint({"model": {"name": "lenet"}}, "ppl", 0.12) is None


@pytest.mark.parametrize("name", [n for n, e in MODEL_DEFAULTS.items() if "hint" in e])
def test_hints_offer_a_preset_that_exists_and_book_knobs_of_the_model(name):
    from d2ltui.config.presets import preset_names
    from d2ltui.zoo.registry import get_spec

    import re

    entry = MODEL_DEFAULTS[name]
    named = re.findall(r"\bquick-[a-z0-9-]*[a-z0-9]", entry["hint"]["text"])  # the presets the hint offers
    assert named and set(named) <= set(preset_names())
    assert "quick" not in entry or entry["quick"] in named
    assert set(entry["hint"]["book_knobs"]) <= set(get_spec(name).knobs)


def _first_val(path, acc: float) -> None:
    lines = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    first = next(r for r in lines if r["split"] == "val")
    first["acc"] = acc
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))


@pilot_test
async def test_dashboard_shows_the_hint_after_a_slow_first_epoch_and_not_otherwise(tmp_path):
    runs = tmp_path / "runs"
    _first_val(write_run(runs, "slow", model="lenet"), 0.11)
    _first_val(write_run(runs, "bn", model="lenet", knobs={"norm": "batch"}), 0.11)
    _first_val(write_run(runs, "fast", model="lenet"), 0.6)
    for run_id, shown in (("slow", True), ("bn", False), ("fast", False)):
        app = create_app(runs_dir=runs, attach=run_id)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen")
            await until(pilot, lambda: app.screen._hinted)
            await pilot.pause(0.1)
            hint = app.screen.query_one("#run-hint")
            assert hint.display is shown, run_id
            if shown:
                text = str(hint.render())
                assert "sigmoid LeNet" in text and "quick-lenet-shapes" in text


def test_a_big_model_says_on_a_cpu_only_that_it_cannot_learn_in_a_minute():
    for name in ("vgg11", "nin", "googlenet", "resnext", "densenet", "vit"):
        text = first_minute_hint({"model": {"name": name}}, "acc", 0.1, "cpu")
        assert text and text.startswith(name) and "GPU" in text
        assert first_minute_hint({"model": {"name": name}}, "acc", 0.1, "cuda:0") is None  # a GPU run learns
        assert first_minute_hint({"model": {"name": name}}, "acc", 0.6, "cpu") is None  # it did learn
    assert first_minute_hint({"model": {"name": "resnet18"}}, "acc", 0.1, "cpu") is None  # it learns in a minute
