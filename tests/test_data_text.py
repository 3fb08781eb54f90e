"""Text corpora and fra-eng from local files in their real formats; offline errors leave nothing."""

from __future__ import annotations

import io
import urllib.request

import pytest
import torch

from d2ltui.config.schema import DataConfig
from d2ltui.data import load_data
from d2ltui.data.seq2seq import preprocess
from d2ltui.errors import UserError
from data_files import FRA, TIME_MACHINE


def test_time_machine_from_root(tmp_path):
    (tmp_path / "timemachine.txt").write_text(TIME_MACHINE)
    dm = load_data(DataConfig(name="time-machine", root=str(tmp_path), download=False, num_steps=10, batch_size=4),
                   "language-model", "cpu")
    X, Y = dm.train
    assert X.shape[1] == 10 and X.dtype == torch.int64 and torch.equal(X[:, 1:], Y[:, :-1])
    text = "".join(dm.vocab[i] for i in X[0]) + "".join(dm.vocab[i] for i in X[4])
    assert text == text.lower() and all(c == " " or c.isalpha() for c in text)
    assert dm.vocab[:2] == [" ", "<unk>"] and dm.model_knobs["vocab_size"] == len(dm.vocab)
    assert X[0, 0] != dm.vocab.index("<unk>")
    capped = load_data(DataConfig(name="time-machine", root=str(tmp_path), download=False, num_steps=10,
                                  num_train=7, num_val=3), "language-model", "cpu")
    assert capped.train[0].shape == (7, 10) and capped.val[0].shape == (3, 10)


def test_text_file(tmp_path):
    path = tmp_path / "poem.txt"
    path.write_text("Tyger Tyger, burning bright, In the forests of the night; " * 20)
    dm = load_data(DataConfig(name="text-file", path=str(path), num_steps=8), "language-model", "cpu")
    assert dm.train[0].shape[1] == 8 and dm.info["source"] == str(path)
    text = "tyger tyger burning bright in the forests of the night"
    assert dm.vocab == sorted(set(text) | {"<unk>"})
    with pytest.raises(UserError, match="data.path"):
        load_data(DataConfig(name="text-file"), "language-model", "cpu")
    with pytest.raises(UserError, match="no such file"):
        load_data(DataConfig(name="text-file", path=str(tmp_path / "none.txt")), "language-model", "cpu")
    (tmp_path / "tiny.txt").write_text("ab")
    with pytest.raises(UserError, match="num_steps"):
        load_data(DataConfig(name="text-file", path=str(tmp_path / "tiny.txt")), "language-model", "cpu")


def test_fra_eng_from_local_fra_txt(tmp_path):
    (tmp_path / "fra-eng").mkdir()
    (tmp_path / "fra-eng" / "fra.txt").write_text(FRA, encoding="utf-8")
    dm = load_data(DataConfig(name="fra-eng", root=str(tmp_path), download=False, num_steps=9, num_train=16,
                              num_val=4), "seq2seq", "cpu")
    src, tgt = dm.train
    assert src.shape == (16, 9) == tgt.shape and dm.val[0].shape == (4, 9)
    assert dm.src_vocab[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"] == dm.vocab[:4]
    assert "!" in dm.vocab and "." in dm.src_vocab  # min_freq 2 keeps the punctuation
    assert "hi" not in dm.src_vocab and "go" in dm.src_vocab  # 'hi' is seen once: <unk> (min_freq 2)
    assert dm.src_vocab[src[1, 0]] == "<unk>" and dm.src_vocab[src[1, 1]] == "." and src[1, 2] == 2
    assert [dm.src_vocab[i] for i in src[0, :3]] == ["go", ".", "<eos>"]
    assert dm.vocab[tgt[0, 1]] == "!" and tgt[0, 2] == 2 and (tgt[0, 3:] == 0).all()
    assert dm.model_knobs == {"src_vocab": len(dm.src_vocab), "tgt_vocab": len(dm.vocab)}
    path = tmp_path / "pairs.tsv"
    path.write_text(FRA.replace("\n", "\tCC-BY 2.0 (France)\n"))  # the three-column manythings format
    three = load_data(DataConfig(name="fra-eng", path=str(path), num_steps=9, num_train=16, num_val=4),
                      "seq2seq", "cpu")
    assert torch.equal(three.train[0], src) and torch.equal(three.train[1], tgt)


def test_book_preprocessing_of_pairs():
    assert preprocess("Run!\tCours\u202f!") == "run !\tcours !"
    assert preprocess("Hello,World.") == "hello ,world ."


@pytest.mark.parametrize("name,task,where,instead", [
    ("time-machine", "language-model", "timemachine.txt", "python-docs"),
    ("fra-eng", "seq2seq", "fra-eng/fra.txt", "dates")])
def test_offline_missing(tmp_path, name, task, where, instead):
    root = tmp_path / "data"
    with pytest.raises(UserError) as err:
        load_data(DataConfig(name=name, root=str(root), download=False), task, "cpu")
    msg = str(err.value)
    assert str(root / where) in msg and instead in msg and "\n" not in msg and not root.exists()


@pytest.mark.parametrize("name,task", [("time-machine", "language-model"), ("fra-eng", "seq2seq")])
def test_failed_download_leaves_nothing(tmp_path, monkeypatch, name, task):
    class HalfStream(io.RawIOBase):
        def __init__(self):
            self.sent = False

        def readable(self):
            return True

        def readinto(self, buf):
            if self.sent:
                raise TimeoutError("timed out")
            self.sent = True
            buf[:5] = b"half "
            return 5

    def urlopen(url, timeout=None):
        assert timeout and timeout <= 30
        return io.BufferedReader(HalfStream())

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    root = tmp_path / "deep" / "data"
    with pytest.raises(UserError, match="download failed") as err:
        load_data(DataConfig(name=name, root=str(root), download=True), task, "cpu")
    assert "timed out" in str(err.value)
    assert not (tmp_path / "deep").exists()
