"""The dashboard for GAN and RL runs, used as a person would (Textual Pilot) and pictured (SVG snapshots):
the real/generated scatter, the generated image grid, the value grid stepped with [ ] { }, and their curves."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from tui_pilot import pilot_test, until, write_run

from d2ltui.rundir.writer import RunWriter
from d2ltui.tasks.resolve import resolve
from d2ltui.config.schema import dump_toml
from d2ltui.engine.loop.trainer import fit
from d2ltui.rundir.store import RunDir
from d2ltui.tui.app import create_app
from d2ltui.tui.widgets.ask_box import AskBox
from d2ltui.tui.widgets.metric_plot import MetricPlot
from d2ltui.tui.widgets.samples_view import SamplesView

BOOK_MAP = ["SFFF", "FHFH", "FFFH", "HFFG"]


def gan_points() -> dict:
    real = [[1 + math.cos(i) * (1 + i % 3) * 0.4, 2 + math.sin(i) * (1 + i % 5) * 0.5] for i in range(60)]
    fake = [[0.5 + 0.01 * i, 1.0 + 0.02 * i] for i in range(60)]
    return {"epoch": 3, "kind": "gan-points", "real": real, "generated": fake}


def gan_images() -> dict:
    items = [{"rgb": [[[(40 * k + 8 * r) % 256, (16 * c) % 256, (200 - 6 * r) % 256] for c in range(16)]
                      for r in range(16)]} for k in range(14)]
    return {"epoch": 2, "kind": "gan-images", "columns": 7, "items": items}


def value_history() -> dict:
    """Value iteration's first sweeps on the book's map, written out by hand (reward 1 on entering G)."""
    history, values = [], [0.0] * 16
    dist = {14: 1, 10: 2, 13: 2, 9: 3, 6: 3, 8: 4, 2: 4, 4: 5, 1: 5, 3: 5, 0: 6, 12: 0}
    for k in range(4):
        values = [0.95 ** (dist[s] - 1) if dist.get(s, 0) and dist[s] <= k else 0.0 for s in range(16)]
        history.append({"step": k, "values": values, "policy": [1 if s % 2 else 2 for s in range(16)]})
    return {"epoch": 3, "kind": "rl-values", "task": "value-iteration", "map": BOOK_MAP, "slippery": False,
            "actions": ["left", "down", "right", "up"], "step_name": "iteration",
            "values": history[-1]["values"], "policy": history[-1]["policy"], "history": history}


def write_kind_run(root: Path, run_id: str, model: str, data: str, samples: dict, keys: dict) -> Path:
    """A finished run written by hand whose metric lines carry the keys of a GAN or an RL run."""
    path = write_run(root, run_id, model=model, data=data, samples=samples)
    lines = []
    for step in range(1, 11):
        lines.append({"step": step, "epoch": (step - 1) // 5 + 1, "split": "train", "samples_per_s": 100.0,
                      "lr": 0.05, "time": float(step), **{k: f(step) for k, f in keys.items()}})
        if step % 5 == 0:
            lines.append({"step": step, "epoch": step // 5, "split": "val", "time": float(step),
                          **{k: f(step) for k, f in keys.items()}})
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    status = json.loads((path / "status.json").read_text())
    status.update(started=1_700_000_000.0, updated=1_700_000_090.0)
    (path / "status.json").write_text(json.dumps(status))
    return path


GAN_KEYS = {"loss": lambda s: 1.4 + 0.1 / s, "loss_d": lambda s: 0.69 + 0.05 / s, "loss_g": lambda s: 0.71 + 0.05 / s}
RL_KEYS = {"loss": lambda s: 1.0 / s, "return": lambda s: 0.77 if s > 5 else 0.0, "success": lambda s: s / 10}


async def _dashboard(pilot) -> None:
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "DashboardScreen")
    await until(pilot, lambda: bool(getattr(pilot.app.screen.query_one(SamplesView), "samples", None)))
    await pilot.pause(0.8)


@pytest.mark.parametrize("kind", ["gan-points", "gan-images", "rl-values"])
def test_dashboard_of_gan_and_rl_runs(snap_compare, tmp_path, kind):
    samples, model, data, keys = {"gan-points": (gan_points(), "gan", "gaussian-2d", GAN_KEYS),
                                  "gan-images": (gan_images(), "dcgan", "sprites", GAN_KEYS),
                                  "rl-values": (value_history(), "value-iteration", "frozenlake-4x4", RL_KEYS)}[kind]
    write_kind_run(tmp_path / "runs", "run-a", model, data, samples, keys)

    async def ready(pilot):
        await _dashboard(pilot)
        if kind == "rl-values":
            await pilot.press("left_square_bracket")  # one sweep back: iteration 2
            await pilot.pause(0.3)

    assert snap_compare(create_app(runs_dir=tmp_path / "runs", attach="run-a"), terminal_size=(110, 34),
                        run_before=ready)


def _text(app) -> str:
    return str(app.screen.query_one(SamplesView).render())


@pilot_test
async def test_a_real_value_iteration_run_steps_through_its_iterations(tmp_path):
    cfg, _ = resolve("value-iteration")
    run = RunWriter.create(tmp_path / "runs", dump_toml(cfg), "vi")
    assert fit(cfg, run).state == "finished"
    app = create_app(runs_dir=tmp_path / "runs", attach=run.id)
    async with app.run_test(size=(120, 36)) as pilot:
        await _dashboard(pilot)
        assert "iteration 10 (11 of 11 kept)" in _text(app)
        assert " S↓0.77" in _text(app) and " G 0.00" in _text(app)  # the start's value and the greedy arrow
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert "iteration 8 (9 of 11 kept)" in _text(app)
        await pilot.press("left_curly_bracket")
        assert "iteration 0 (1 of 11 kept)" in _text(app) and "0.77" not in _text(app)
        await pilot.press("right_square_bracket")
        assert "iteration 1 " in _text(app) and " F→1.00" in _text(app)  # beside G after one sweep
        await pilot.press("right_curly_bracket")
        assert "iteration 10 " in _text(app)
        plots = [p.id for p in app.screen.query(MetricPlot)]
        assert plots == ["plot-return", "plot-metric", "plot-speed", "plot-lr"]  # the RL spec's panels
        plot = app.screen.query_one("#plot-return", MetricPlot)
        await until(pilot, lambda: bool(plot.series.get("train", ([], []))[0]))
        assert plot.title == "return"
        assert len(plot.series["train"][0]) == 10 and plot.series["train"][1][-1] == pytest.approx(0.95 ** 5)
        metric = app.screen.query_one("#plot-metric", MetricPlot)
        await until(pilot, lambda: metric.title == "success")
        assert metric.series["val success"][1][-1] == 1.0
        box = app.screen.query_one(AskBox)
        await pilot.press("slash", *"3,2", "enter")  # the `/` box asks the run's task: the state beside the goal
        await until(pilot, lambda: box.answer is not None, timeout=60)
        assert box.answer["state"] == 14 and box.answer["action"] == "right" and box.answer["value"] == 1.0
        assert "state 14 (row 3, column 2): the greedy action is right" in str(box.query_one("#answer").render())


@pilot_test
async def test_a_real_gan_run_shows_both_losses_and_its_scatter(tmp_path):
    cfg, _ = resolve("quick-gan", ["data.num_train=64", "train.epochs=2", "train.log_every=2"])
    run = RunWriter.create(tmp_path / "runs", dump_toml(cfg), "gan")
    assert fit(cfg, run).state == "finished"
    app = create_app(runs_dir=tmp_path / "runs", attach=run.id)
    async with app.run_test(size=(120, 36)) as pilot:
        await _dashboard(pilot)
        text = _text(app)
        assert "real and generated points" in text and "real" in text and "generated" in text
        plots = [p.id for p in app.screen.query(MetricPlot)]
        assert plots == ["plot-gan-losses", "plot-speed", "plot-lr"]  # no metric panel left empty
        plot = app.screen.query_one("#plot-gan-losses", MetricPlot)
        assert plot.title == "loss (D, G)" and plot.styles.column_span == 2
        await until(pilot, lambda: bool(plot.series.get("train D", ([], []))[0]))
        assert set(plot.series) == {"train D", "train G", "val D", "val G"}
        assert len(plot.series["train D"][0]) == 8 and len(plot.series["val G"][0]) == 2
