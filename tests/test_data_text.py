"""Text corpora and fra-eng from local files in their real formats; offline errors leave nothing."""

from __future__ import annotations

import io
import re
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


def time_machine(tmp_path, **kw):
    (tmp_path / "timemachine.txt").write_text(TIME_MACHINE)
    cfg = DataConfig(name="time-machine", root=str(tmp_path), download=False, **kw)
    return load_data(cfg, "language-model", "cpu")


def test_time_machine_windows_are_the_books(tmp_path):
    dm = time_machine(tmp_path, num_steps=5, num_train=10, num_val=4)
    tokens = [c for c in re.sub("[^A-Za-z]+", " ", TIME_MACHINE).lower()]  # the book's _preprocess
    vocab = sorted(set(tokens) | {"<unk>"})

    def text(row):
        return "".join(vocab[i] for i in row)

    assert dm.vocab == vocab and dm.info["partition"] == "windows"
    X, Y = dm.train
    assert X.shape == (10, 5) == Y.shape and dm.val[0].shape == (4, 5)
    for i in range(10):  # row i is the window starting at token i; Y is it shifted by one
        assert text(X[i]) == "".join(tokens[i:i + 5]) and text(Y[i]) == "".join(tokens[i + 1:i + 6])
    for j in range(4):  # validation windows follow the training ones, as in the book's get_dataloader
        assert text(dm.val[0][j]) == "".join(tokens[10 + j:15 + j])


def test_time_machine_window_counts(tmp_path):
    n_tokens = len(re.sub("[^A-Za-z]+", " ", TIME_MACHINE))
    big = time_machine(tmp_path, num_steps=4, num_train=10**6, num_val=10**6)  # more than there are windows
    assert len(big.train[0]) + len(big.val[0]) == n_tokens - 4 and len(big.val[0]) >= 1
    default = DataConfig()
    assert (default.partition, default.num_train, default.num_val) == ("windows", 0, 0)
    from d2ltui.data.text import WINDOWS_TRAIN, WINDOWS_VAL
    assert (WINDOWS_TRAIN, WINDOWS_VAL) == (10000, 5000)  # the book's TimeMachine defaults


def test_sequential_partition_stays_an_option(tmp_path):
    dm = time_machine(tmp_path, num_steps=6, batch_size=3, partition="sequential")
    X, Y = dm.train
    assert dm.info["partition"] == "sequential" and "offset" in dm.info
    assert torch.equal(X[0, 1:], Y[0, :-1]) and torch.equal(X[3, 0], Y[0, -1])  # row 3 continues row 0
    with pytest.raises(UserError, match="data.partition"):
        time_machine(tmp_path, partition="random")


def test_train_windows_are_reshuffled_each_epoch_by_the_seed(tmp_path):
    from d2ltui.tasks.resolve import resolve
    from d2ltui.engine.loop.trainer import fit

    def first_rows_per_epoch():
        dm = time_machine(tmp_path, num_steps=5, num_train=40, num_val=8)
        seen = []

        def prepare(batch, train):
            if train:
                seen.append(batch[0][:, 0].tolist())
            return batch

        dm.prepare = prepare
        cfg = resolve("rnn-lm", ["data.batch_size=40", "train.epochs=3", "train.device=cpu", "num_hiddens=4"])[0]
        fit(cfg, None, data=dm)
        return seen

    once, again = first_rows_per_epoch(), first_rows_per_epoch()
    assert len(once) == 3 and once == again  # seeded
    assert once[0] != once[1] != once[2] and sorted(once[0]) == sorted(once[1])  # a new order each epoch
