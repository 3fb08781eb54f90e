"""`d2l-tui predict`: every task kind answers from the latest checkpoint; bad input is one line and exit 2."""

from __future__ import annotations

import json

import pytest
import torch

from d2ltui.rundir.writer import RunWriter
from d2ltui.cli import main
from d2ltui.config.schema import dump_toml, from_dict
from d2ltui.engine.loop.trainer import fit
from d2ltui.rundir.checkpoint import load_checkpoint
from d2ltui.rundir.store import CHECKPOINT, DATA_CARD, RunDir

TINY_TF = {"name": "transformer", "num_hiddens": 8, "ffn_num_hiddens": 16, "num_heads": 2, "num_blks": 1}
BOOK = [("go .", "va !"), ("i lost .", "j'ai perdu ."), ("he's calm .", "il est calme ."),
        ("i'm home .", "je suis chez moi .")]
RUNS = {
    "s2s": {"model": TINY_TF, "data": {"name": "reverse", "num_train": 32, "num_val": 4, "batch_size": 16,
                                       "num_steps": 8}, "optim": {"name": "adam", "lr": 0.01}},
    "lm": {"model": {"name": "rnn-lm", "num_hiddens": 8}, "data": {"name": "python-docs", "num_train": 64,
                                                                   "num_val": 16, "batch_size": 16, "num_steps": 8}},
    "img": {"model": {"name": "lenet", "activation": "relu"},
            "data": {"name": "shapes", "num_train": 16, "num_val": 8, "batch_size": 8}},
    "nw": {"model": {"name": "nadaraya-watson"}, "data": {"name": "kernel-regression", "batch_size": 50},
           "optim": {"lr": 0.5}},
    "gan": {"model": {"name": "gan"}, "data": {"name": "gaussian-2d", "num_train": 16, "batch_size": 8}},
    "dcgan": {"model": {"name": "dcgan"}, "data": {"name": "sprites", "num_train": 8, "num_val": 4, "batch_size": 4}},
    "vi": {"model": {"name": "value-iteration"}, "data": {"name": "frozenlake-4x4"}},
    "ssd": {"model": {"name": "tiny-ssd"}, "data": {"name": "bananas", "resize": 64, "num_train": 8, "num_val": 4,
                                                    "batch_size": 8}},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny finished run per task kind, plus a fra-eng run on a small fra.txt with the book's sentences."""
    root = tmp_path_factory.mktemp("predict") / "runs"
    fra = root.parent / "fra.txt"
    pairs = [("Go.", "Va !"), ("I lost.", "J'ai perdu."), ("He's calm.", "Il est calme."),
             ("I'm home.", "Je suis chez moi.")] * 3
    fra.write_text("".join(f"{en}\t{fr}\tCC-BY\n" for en, fr in pairs))
    specs = {**RUNS, "fra": {"model": TINY_TF, "data": {"name": "fra-eng", "path": str(fra), "num_steps": 6,
                                                        "batch_size": 4}, "optim": {"name": "adam", "lr": 0.01}}}
    torch.set_num_threads(1)
    for run_id, raw in specs.items():
        cfg = from_dict({**raw, "train": {"epochs": 3 if run_id == "vi" else 1, "max_steps": 2 if run_id != "vi" else 0}})
        assert fit(cfg, RunWriter.create(root, dump_toml(cfg), run_id)).state == "finished"
    return root


def predict(runs, capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(["predict", *args, "--runs-dir", str(runs)])
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


def answer(runs, capsys, run: str, text: str) -> dict:
    code, out, err = predict(runs, capsys, run, text, "--json")
    assert code == 0, err
    return json.loads(out)


def test_a_language_model_continues_a_prefix(runs, capsys):
    got = answer(runs, capsys, "lm", "The time")
    assert got["prefix"] == "the time" and len(got["continuation"]) == 60 and got["unknown"] == []
    code, out, _ = predict(runs, capsys, "lm", "the time")
    assert code == 0 and out.startswith("the time|")


def test_seq2seq_translates_with_a_heatmap_and_names_unknown_tokens(runs, capsys):
    got = answer(runs, capsys, "s2s", "abc")
    assert got["tokens"] == ["a", "b", "c"] and got["unknown"] == []
    cross = [m for m in got["attention"] if m["group"] == "decoder cross-attention"]
    assert cross and cross[0]["cols"] == ["a", "b", "c", "<eos>"]
    assert all(abs(sum(row) - 1) < 0.01 for m in got["attention"] for row in m["matrix"])
    assert answer(runs, capsys, "s2s", "a1c")["unknown"] == ["1"]
    code, out, _ = predict(runs, capsys, "s2s", "a1c")
    assert code == 0 and "unknown to the model, read as <unk>: 1" in out and "decoder cross-attention" in out


def test_the_books_sentences_get_bleu_against_the_books_french(runs, capsys):
    for english, french in BOOK:
        got = answer(runs, capsys, "fra", english)
        assert got["reference"] == french
        pred, ref = got["translation"].split(), french.split()
        assert got["bleu"] == pytest.approx(book_bleu(pred, ref), abs=1e-3)
    assert answer(runs, capsys, "fra", "Go.")["tokens"] == ["go", "."]  # the book's preprocessing
    assert answer(runs, capsys, "fra", "go home .")["unknown"] == []  # 'home' is in the vocabulary
    assert answer(runs, capsys, "fra", "go zebra .")["unknown"] == ["zebra"]


def book_bleu(pred: list[str], label: list[str], k: int = 2) -> float:
    """Section 10.7.6's bleu, written out again here."""
    import collections
    import math

    if not pred:
        return 0.0
    score = math.exp(min(0, 1 - len(label) / len(pred)))
    for n in range(1, min(k, len(pred)) + 1):
        matches, subs = 0, collections.defaultdict(int)
        for i in range(len(label) - n + 1):
            subs[" ".join(label[i:i + n])] += 1
        for i in range(len(pred) - n + 1):
            if subs[" ".join(pred[i:i + n])] > 0:
                matches += 1
                subs[" ".join(pred[i:i + n])] -= 1
        score *= math.pow(matches / (len(pred) - n + 1), math.pow(0.5, n))
    return score


def test_an_image_classifier_answers_its_top_5(runs, capsys, tmp_path):
    from PIL import Image

    image = tmp_path / "shape.png"
    picture = Image.new("RGB", (30, 40))
    picture.paste((255, 255, 255), (5, 10, 25, 30))
    picture.save(image)
    got = answer(runs, capsys, "img", str(image))
    probs = [t["probability"] for t in got["top"]]
    assert len(got["top"]) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1.0001
    from d2ltui.data.shapes import CLASSES

    assert {t["label"] for t in got["top"]} <= set(CLASSES)
    (tmp_path / "notes.png").write_text("not an image")
    for bad, says in ((str(tmp_path / "missing.png"), "no image file"), (str(tmp_path / "notes.png"), "not an image")):
        code, out, err = predict(runs, capsys, "img", bad)
        assert code == 2 and out == "" and err.count("\n") == 1 and says in err


def test_nadaraya_watson_pools_the_training_values(runs, capsys):
    got = answer(runs, capsys, "nw", "2.5")
    card = json.loads((runs / "nw" / DATA_CARD).read_text())
    keys, values = torch.tensor(card["pooling"]["keys"]), torch.tensor(card["pooling"]["values"])
    w = 1 / got["width"]
    weights = torch.softmax(-((2.5 - keys) * w) ** 2 / 2, 0)
    assert got["predicted"] == pytest.approx(float(weights @ values), abs=2e-3)
    (heat,) = got["attention"]
    assert heat["rows"] == ["2.5"] and len(heat["cols"]) == 50


def test_value_iteration_gives_a_states_greedy_action_and_value(runs, capsys):
    from d2ltui.zoo.rl import ACTIONS

    table = load_checkpoint(runs / "vi" / CHECKPOINT, "cpu")["model"]["table"]
    for text, state in (("14", 14), ("3,2", 14), ("0", 0)):
        got = answer(runs, capsys, "vi", text)
        assert got["state"] == state and got["value"] == pytest.approx(float(table[state].max()), abs=1e-5)
        assert got["action"] == ACTIONS[int(table[state].argmax())]
    assert float(table[14].max()) > 0  # three sweeps reach the state beside the goal
    code, out, _ = predict(runs, capsys, "vi", "3,2")
    assert code == 0 and out.startswith("state 14 (row 3, column 2): the greedy action is ")


def test_a_gan_draws_a_sample_from_a_seed_and_says_it(runs, capsys):
    from d2ltui.zoo.registry import get_spec
    from d2ltui.zoo.build import build_model

    got = answer(runs, capsys, "gan", "7")
    model = build_model(get_spec("gan"), {}, ((1, 2),), "cpu")
    model.load_state_dict(load_checkpoint(runs / "gan" / CHECKPOINT, "cpu")["model"])
    with torch.no_grad():
        point = model.generator(model.latent(1, "cpu", torch.Generator().manual_seed(7)))[0].tolist()
    assert got["generated"] == pytest.approx(point, abs=1e-4) and 0 <= got["real_probability"] <= 1
    assert answer(runs, capsys, "gan", "7") == got and answer(runs, capsys, "gan", "8") != got
    code, out, _ = predict(runs, capsys, "dcgan", "3")
    assert code == 0 and "seed 3: the generator draws a 64x64 colour image" in out and "odds of being real" in out


def test_a_detector_lists_its_boxes_in_an_image(runs, capsys, tmp_path):
    from PIL import Image

    image = tmp_path / "scene.png"
    Image.new("RGB", (80, 60), (40, 120, 200)).save(image)
    got = answer(runs, capsys, "ssd", str(image))
    assert got["said"] and all(0 <= d["score"] <= 1 and len(d["box"]) == 4 for d in got["detections"])
    assert all(d["score"] >= 0.1 for d in got["detections"]) and len(got["detections"]) <= 5


@pytest.mark.parametrize("run, text, says", [
    ("s2s", "", "input: empty"), ("s2s", "   ", "input: empty"), ("s2s", "abcdefghij", "at most 7"),
    ("lm", "x" * 1001, "at most 1000"), ("lm", "123", "no letters"), ("nw", "1, 2", "this model reads 1"),
    ("nw", "two", "not numbers"), ("nw", "nan", "not finite"), ("nw", "inf", "not finite"), ("nope", "abc", "no run 'nope'"), ("vi", "16", "give a number in 0..15"),
    ("vi", "left", "is not a state"), ("gan", "z", "not a whole number"), ("ssd", "/no/such.png", "no image file")])
def test_bad_input_is_one_line_and_exit_2(runs, capsys, run, text, says):
    code, out, err = predict(runs, capsys, run, text)
    assert code == 2 and out == "" and err.startswith("d2l-tui: error: ") and err.count("\n") == 1 and says in err


def test_a_run_without_a_checkpoint_or_data_card(runs, capsys, tmp_path):
    import shutil

    copy = runs / "s2s-copy"
    shutil.copytree(runs / "s2s", copy)
    (copy / DATA_CARD).unlink()  # a run from before data.json: its data is loaded again
    assert answer(runs, capsys, "s2s-copy", "abc")["tokens"] == ["a", "b", "c"]
    (copy / CHECKPOINT).unlink()
    code, _, err = predict(runs, capsys, "s2s-copy", "abc")
    assert code == 2 and "no checkpoint yet" in err
