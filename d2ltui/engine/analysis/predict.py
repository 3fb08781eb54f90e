"""Answer a user's own input from a run's latest checkpoint, on the CPU, reading the run dir only.

A language model continues a prefix; a seq2seq model translates (with its attention heatmaps);
an image classifier reads a file and gives its top 5; a features model (regression, points,
attention pooling) reads comma-separated numbers. The model is rebuilt from config.toml and
data.json (or the reloaded data of a run without one) and never touches the run's process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from d2ltui.tasks.resolve import merge_data_knobs
from d2ltui.config.schema import RunConfig, from_dict, load_toml
from d2ltui.data.seq2seq import preprocess as sentence_preprocess
from d2ltui.data.suggested import reference as book_reference
from d2ltui.data.suggested import suggested_inputs
from d2ltui.data.text import preprocess as text_preprocess
from d2ltui.tasks import attention_maps
from d2ltui.rundir.checkpoint import load_checkpoint
from d2ltui.engine.loop.datacard import data_card
from d2ltui.data.thumbnails import thumbnails
from d2ltui.tasks.sequences import bleu, greedy_continue, greedy_decode, join_tokens
from d2ltui.errors import UserError
from d2ltui.rundir.store import CHECKPOINT, CONFIG, DATA_CARD, read_json
from d2ltui.zoo.build import EOS, PAD, UNK, build_model
from d2ltui.zoo.registry import get_spec

MAX_CHARS = 1000  # longest input of any kind
LM_PREDICTIONS = 60  # tokens a language model adds to a prefix
TOP_K = 5


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
            if self.task == "language-model":
                return self.continue_text(text)
            if self.task == "seq2seq":
                return self.translate(text)
            if len(self.card["input_shape"][0]) == 4:
                return self.classify_image(text)
            return self.features(text)

    def hint(self) -> str:
        return {"language-model": "type the start of a text to continue",
                "seq2seq": "type a sentence to translate"}.get(self.task) or (
            "give an image file's path" if len(self.card["input_shape"][0]) == 4
            else f"give {self.card['input_shape'][0][-1]} comma-separated numbers")

    # -- language models and seq2seq --------------------------------------------------------------
    def ids(self, tokens: list[str], vocab: list[str]) -> tuple[list[int], list[str]]:
        """Token ids, unknown tokens as <unk> (and the list of them)."""
        index = {t: i for i, t in enumerate(vocab)}
        unk = index.get("<unk>", UNK)
        return [index.get(t, unk) for t in tokens], [t for t in tokens if t not in index]

    def continue_text(self, text: str) -> dict[str, Any]:
        vocab = self.card["vocab"]
        char_level = all(len(t) <= 1 for t in vocab if t != "<unk>")
        tokens = list(text_preprocess(text)) if char_level else text.lower().split()
        if not "".join(tokens).strip():
            raise UserError(f"input: {text!r} has no letters the model reads; {self.hint()}")
        ids, unknown = self.ids(tokens, vocab)
        out = greedy_continue(self.model, ids, LM_PREDICTIONS)
        return {"task": self.task, "input": text, "tokens": tokens, "unknown": unknown,
                "prefix": join_tokens([vocab[i] for i in ids]),
                "continuation": join_tokens([vocab[i] for i in out[len(ids):]])}

    def translate(self, text: str) -> dict[str, Any]:
        src_vocab, tgt_vocab = self.card["src_vocab"] or self.card["vocab"], self.card["vocab"]
        char_level = all(len(t) <= 1 for t in src_vocab[4:])
        tokens = list(text) if char_level else sentence_preprocess(text).split()
        steps = self.cfg.data.num_steps
        if len(tokens) > steps - 1:
            raise UserError(f"input: {len(tokens)} tokens, this run reads at most {steps - 1} "
                            f"(data.num_steps={steps} counts <eos>)")
        ids, unknown = self.ids(tokens, src_vocab)
        src = torch.tensor([ids + [EOS] + [PAD] * (steps - len(ids) - 1)])
        pred = greedy_decode(self.model, src, steps)[0]
        words = [tgt_vocab[i] for i in pred]
        out = {"task": self.task, "input": text, "tokens": tokens, "unknown": unknown,
               "translation": join_tokens(words),
               "attention": attention_maps.seq2seq_maps(self.model, src, [pred], src_vocab, tgt_vocab)}
        reference = book_reference(self.card.get("name"), " ".join(tokens))
        if reference:
            out.update(reference=reference, bleu=round(bleu(words, reference.split(), k=2), 3))
        return out

    # -- images and features ----------------------------------------------------------------------
    def classify_image(self, text: str) -> dict[str, Any]:
        from PIL import Image, UnidentifiedImageError
        from torchvision.transforms.v2.functional import pil_to_tensor

        from d2ltui.data.transforms import ImagePrepare

        path = Path(text).expanduser()
        if not path.is_file():
            raise UserError(f"input: no image file {path}")
        try:
            with Image.open(path) as opened:
                image = pil_to_tensor(opened.convert("RGB"))  # uint8 (3, H, W)
        except (UnidentifiedImageError, OSError, ValueError) as err:
            raise UserError(f"input: {path} is not an image PIL can read ({type(err).__name__})") from None
        _, channels, side, _ = self.card["input_shape"][0]
        prep = self.card.get("image") or {}
        x, = ImagePrepare(side, 0, channels, (), prep.get("mean"), prep.get("std"))((image[None],), False)
        probs = self.model(x).float().softmax(1)[0]
        top = probs.topk(min(TOP_K, len(probs)))
        classes = self.card["classes"]
        out = {"task": self.task, "input": str(path), "top": [
            {"label": classes[i] if i < len(classes) else str(i), "probability": round(float(p), 4)}
            for p, i in zip(top.values.tolist(), top.indices.tolist())]}
        if (vit := attention_maps.vit_maps(self.model, 1)) is not None:
            out.update(attention=vit, image=thumbnails(x)[0])
        return out

    def features(self, text: str) -> dict[str, Any]:
        want = self.card["input_shape"][0][-1]
        try:
            values = [float(v) for v in text.replace(",", " ").split()]
        except ValueError:
            raise UserError(f"input: {text!r} is not numbers; {self.hint()}") from None
        if len(values) != want:
            raise UserError(f"input: {len(values)} number(s), this model reads {want}")
        x = torch.tensor([values])
        if "pooling" in self.card:  # attention pooling: the query against every training point
            keys, vals = torch.tensor([self.card["pooling"]["keys"]]), torch.tensor([self.card["pooling"]["values"]])
            y = self.model(x, keys, vals).reshape(-1)
            pooled = attention_maps.kernel_regression(self.model, (x, keys, vals, y))
            return {"task": self.task, "input": text, "predicted": round(float(y[0]), 4),
                    "width": pooled["width"], "attention": pooled["attention"]["maps"]}
        y = self.model(x).float()
        if self.task == "classification":
            probs = y.softmax(1)[0]
            top = probs.topk(min(TOP_K, len(probs)))
            classes = self.card["classes"]
            return {"task": self.task, "input": text, "top": [
                {"label": classes[i] if i < len(classes) else str(i), "probability": round(float(p), 4)}
                for p, i in zip(top.values.tolist(), top.indices.tolist())]}
        return {"task": self.task, "input": text, "predicted": [round(v, 4) for v in y.reshape(-1).tolist()]}


def load_predictor(run_path: Path) -> Predictor:
    """The run's model at its latest checkpoint (read-only, on the CPU); a UserError when it has none yet."""
    run_path = Path(run_path)
    cfg = from_dict(load_toml(run_path / CONFIG), source=str(run_path / CONFIG))
    ckpt = run_path / CHECKPOINT
    if not ckpt.is_file():
        raise UserError(f"run {run_path.name}: no checkpoint yet (one is written at the end of each epoch)")
    mtime = ckpt.stat().st_mtime
    state = load_checkpoint(ckpt, "cpu")
    card = read_json(run_path / DATA_CARD) or reload_card(cfg)
    spec = get_spec(cfg.model.name)
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

    spec = get_spec(cfg.model.name)
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
    return lines
