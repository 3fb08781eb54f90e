"""Answer a user's own input from a run's latest checkpoint, on the CPU, reading the run dir only.

The generic part: the model is rebuilt from config.toml and data.json (or the reloaded data of a
run without one), loaded from the checkpoint in eval mode, and the input handed to the run's task
(its `answer` and `hint`, d2ltui/tasks/), which reads it as its kind of input. The run's process is
never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from d2ltui.config.schema import RunConfig
from d2ltui.data.suggested import suggested_inputs
from d2ltui.engine.loop.datacard import data_card
from d2ltui.errors import UserError
from d2ltui.rundir.checkpoint import load_checkpoint
from d2ltui.rundir.store import CHECKPOINT, DATA_CARD, read_json
from d2ltui.tasks.resolve import merge_data_knobs
from d2ltui.tasks.spec import task_spec
from d2ltui.zoo.build import build_model
from d2ltui.zoo.registry import spec_of

MAX_CHARS = 1000  # longest input of any kind


@dataclass
class Predictor:
    """A run's model at its latest checkpoint, in eval mode on the CPU, with what its data fixed."""

    cfg: RunConfig
    card: dict[str, Any]
    model: nn.Module
    step: int
    checkpoint_mtime: float

    @property
    def task(self) -> str:
        return self.card["task"]

    def suggestions(self) -> list[str]:
        """Inputs worth trying: the book's sentences for English-French, else none."""
        return suggested_inputs(self.card.get("name"))

    def answer(self, text: str) -> dict[str, Any]:
        text = (text or "").strip()
        if not text:
            raise UserError(f"input: empty; {self.hint()}")
        if len(text) > MAX_CHARS:
            raise UserError(f"input: {len(text)} characters, at most {MAX_CHARS}")
        with torch.no_grad():
            return task_spec(self.task).task_class().answer(self.model, self.card, self.cfg, text)

    def hint(self) -> str:
        return task_spec(self.task).task_class().hint(self.card)


def load_predictor(run_path: Path) -> Predictor:
    """The run's model at its latest checkpoint (read-only, on the CPU); a UserError when it has none yet."""
    from d2ltui.engine.job import load_config

    run_path = Path(run_path)
    cfg = load_config(run_path)  # your own model: built from the run's copy of its file
    ckpt = run_path / CHECKPOINT
    if not ckpt.is_file():
        raise UserError(f"run {run_path.name}: no checkpoint yet (one is written at the end of each epoch)")
    mtime = ckpt.stat().st_mtime
    state = load_checkpoint(ckpt, "cpu")
    card = read_json(run_path / DATA_CARD) or reload_card(cfg)
    spec = spec_of(cfg)
    knobs = merge_data_knobs(cfg, spec, card["model_knobs"], card["name"])
    shapes = tuple(tuple(s) for s in card["input_shape"])
    model = build_model(spec, knobs, shapes, "cpu")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise UserError(f"run {run_path.name}: the checkpoint does not fit model {spec.name} "
                        f"({str(err).splitlines()[0][:120]})") from None
    model.eval()
    return Predictor(cfg, card, model, int(state.get("step", 0)), mtime)


def reload_card(cfg: RunConfig) -> dict[str, Any]:
    """A run written before data.json existed: load its data again (on the CPU) for the card."""
    from d2ltui.data.registry import load_data, task_for

    spec = spec_of(cfg)
    return data_card(load_data(cfg.data, task_for(spec, cfg.data.name), "cpu"))


def headline_map(maps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The map a one-screen answer shows: Bahdanau's, else the last layer's first cross-attention head."""
    pick = [m for m in maps if m.get("group") in ("decoder attention", "attention pooling")]
    cross = [m for m in maps if m.get("group") == "decoder cross-attention"]
    if not pick and cross:
        last = max(m["layer"] for m in cross)
        pick = [m for m in cross if m["layer"] == last]
    return pick[0] if pick else None


def grid_lines(heat: dict[str, Any], width: int = 6) -> list[str]:
    """A heatmap as aligned numbers: a header of keys, one line per query."""
    label_w = max([len(r) for r in heat["rows"]] + [2])
    lines = [" " * label_w + " " + "".join(c[:width - 1].rjust(width) for c in heat["cols"])]
    for label, row in zip(heat["rows"], heat["matrix"]):
        lines.append(label.rjust(label_w) + " " + "".join(f"{v:.2f}".rjust(width) for v in row))
    return lines


def answer_lines(answer: dict[str, Any]) -> list[str]:
    """A predict answer as plain lines (the CLI's output, the TUI's text beside the heatmap)."""
    lines = []
    if answer.get("unknown"):
        lines.append(f"unknown to the model, read as <unk>: {', '.join(answer['unknown'])}")
    if "continuation" in answer:
        lines.append(f"{answer['prefix']}|{answer['continuation']}")
    if "translation" in answer:
        lines.append(f"{answer['input']} => {answer['translation'] or '(nothing)'}")
        if "reference" in answer:
            lines.append(f"the book's reference: {answer['reference']}  (BLEU {answer['bleu']:.3f})")
    for i, item in enumerate(answer.get("top", [])):
        lines.append(f"{i + 1}. {item['label']}  {item['probability']:.1%}")
    if "predicted" in answer:
        width = f"  (Gaussian width {answer['width']:.3f})" if "width" in answer else ""
        lines.append(f"predicted: {answer['predicted']}{width}")
    lines.extend(answer.get("said", []))  # what a task says in words (a GAN's sample, an RL state's action)
    return lines
