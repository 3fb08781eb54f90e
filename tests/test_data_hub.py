"""The book's DATA_HUB: SHA-1-checked downloads and safe, atomic zip extraction, with faked downloads."""

from __future__ import annotations

import hashlib
import io
import urllib.request
import zipfile

import pytest

from d2ltui.config.schema import DataConfig
from d2ltui.data import load_data
from d2ltui.data.hub import DATA_HUB, download_extract, download_hub, extract_zip
from d2ltui.errors import UserError
from data_files import FRA, TIME_MACHINE

# The hashes as d2l/torch.py (d2l-ai/d2l-en) registers them, transcribed independently of hub.py.
BOOK_SHA1 = {
    "time_machine": ("timemachine.txt", "090b5e7e70c295757f55df93cb0a180b9691891a"),
    "fra-eng": ("fra-eng.zip", "94646ad1522d915e7b0f9296181140edcf86a4f5"),
    "kaggle_house_train": ("kaggle_house_pred_train.csv", "585e9cc93e70b39160e7921475f9bcd7d31219ce"),
    "kaggle_house_test": ("kaggle_house_pred_test.csv", "fa19780a7b011d9b009e8bff8e99922a8ee2eb90"),
    "banana-detection": ("banana-detection.zip", "5de26c8fce5ccdea9f91267273464dc968d20d72"),
    "hotdog": ("hotdog.zip", "fba480ffa8aa7e0febbb511d181409f899b9baa5"),
    "pokemon": ("pokemon.zip", "c065c0e2593b8b161a2d7873e42418bf6a21106c"),
}


def test_hub_holds_the_books_entries():
    for name, (filename, sha1) in BOOK_SHA1.items():
        entry = DATA_HUB[name]
        assert entry.filename == filename and entry.sha1 == sha1
        assert entry.url == "http://d2l-data.s3-accelerate.amazonaws.com/" + filename


def serve(monkeypatch, payloads: dict[str, bytes]) -> list[str]:
    """Make urlopen serve `payloads` by file name; returns the URLs asked for."""
    asked = []

    def urlopen(url, timeout=None):
        assert timeout and timeout <= 30
        asked.append(url)
        return io.BytesIO(payloads[url.rsplit("/", 1)[-1]])

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return asked


def with_hash(monkeypatch, name: str, payload: bytes) -> None:
    """Pretend the hub entry `name` has the SHA-1 of `payload` (the real files cannot be fetched here)."""
    entry = DATA_HUB[name]
    monkeypatch.setitem(DATA_HUB, name, type(entry)(entry.url, hashlib.sha1(payload).hexdigest()))


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_good_hash_lands(tmp_path, monkeypatch):
    payload = TIME_MACHINE.encode()
    with_hash(monkeypatch, "time_machine", payload)
    asked = serve(monkeypatch, {"timemachine.txt": payload})
    path = download_hub("time_machine", tmp_path / "data")
    assert path == tmp_path / "data" / "timemachine.txt" and path.read_bytes() == payload
    assert asked == [DATA_HUB["time_machine"].url]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["timemachine.txt"]


def test_bad_hash_leaves_nothing(tmp_path, monkeypatch):
    serve(monkeypatch, {"timemachine.txt": b"not the book"})
    root = tmp_path / "deep" / "data"
    with pytest.raises(UserError) as err:
        load_data(DataConfig(name="time-machine", root=str(root), download=True), "language-model", "cpu")
    msg = str(err.value)
    actual = hashlib.sha1(b"not the book").hexdigest()
    assert msg.startswith("time-machine: timemachine.txt: SHA-1 mismatch") and "\n" not in msg
    assert "090b5e7e70c295757f55df93cb0a180b9691891a" in msg and actual in msg
    assert not (tmp_path / "deep").exists()


def test_time_machine_download_then_load(tmp_path, monkeypatch):
    payload = TIME_MACHINE.encode()
    with_hash(monkeypatch, "time_machine", payload)
    serve(monkeypatch, {"timemachine.txt": payload})
    dm = load_data(DataConfig(name="time-machine", root=str(tmp_path), num_steps=5, num_train=20, num_val=10),
                   "language-model", "cpu")
    assert dm.train[0].shape == (20, 5) and (tmp_path / "timemachine.txt").exists()


def test_fra_eng_download_extract(tmp_path, monkeypatch):
    payload = zip_bytes({"fra-eng/fra.txt": FRA.encode(), "fra-eng/_about.txt": b"about"})
    with_hash(monkeypatch, "fra-eng", payload)
    serve(monkeypatch, {"fra-eng.zip": payload})
    dm = load_data(DataConfig(name="fra-eng", root=str(tmp_path), num_steps=9, num_train=16, num_val=4),
                   "seq2seq", "cpu")
    assert dm.train[0].shape == (16, 9)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fra-eng"]  # no archive, no temp folder left
    assert (tmp_path / "fra-eng" / "_about.txt").read_bytes() == b"about"


def test_fra_eng_bad_hash_leaves_nothing(tmp_path, monkeypatch):
    serve(monkeypatch, {"fra-eng.zip": zip_bytes({"fra-eng/fra.txt": FRA.encode()})})
    root = tmp_path / "data"
    with pytest.raises(UserError, match="fra-eng: fra-eng.zip: SHA-1 mismatch, expected 94646ad"):
        load_data(DataConfig(name="fra-eng", root=str(root)), "seq2seq", "cpu")
    assert not root.exists()


def test_download_extract_returns_the_books_folder(tmp_path, monkeypatch):
    payload = zip_bytes({"hotdog/train/hotdog/0.png": b"png", "hotdog/test/not-hotdog/1.png": b"png"})
    with_hash(monkeypatch, "hotdog", payload)
    serve(monkeypatch, {"hotdog.zip": payload})
    folder = download_extract("hotdog", tmp_path, keep_archive=True)
    assert folder == tmp_path / "hotdog" and (folder / "train" / "hotdog" / "0.png").read_bytes() == b"png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hotdog", "hotdog.zip"]


@pytest.mark.parametrize("evil", ["../escape.txt", "/abs/escape.txt", "ok/../../escape.txt"])
def test_extraction_refuses_path_traversal(tmp_path, evil):
    archive = tmp_path / "evil.zip"
    archive.write_bytes(zip_bytes({"ok/a.txt": b"a", evil: b"x"}))
    target = tmp_path / "out"
    with pytest.raises(UserError, match="unsafe path") as err:
        extract_zip(archive, target)
    assert "evil.zip" in str(err.value)
    assert list(target.iterdir()) == [] and not (tmp_path / "escape.txt").exists()


def test_extraction_refuses_links_and_non_zips(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("ok/link")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UserError, match="symbolic link"):
        extract_zip(archive, tmp_path / "out")
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not a zip archive"):
        extract_zip(tmp_path / "bad.zip", tmp_path / "out2")
    assert list((tmp_path / "out2").iterdir()) == []


def test_extraction_replaces_an_older_folder(tmp_path):
    (tmp_path / "pokemon" / "old").mkdir(parents=True)
    archive = tmp_path / "p.zip"
    archive.write_bytes(zip_bytes({"pokemon/1/a.png": b"a"}))
    assert extract_zip(archive, tmp_path) == [tmp_path / "pokemon"]
    assert sorted(p.name for p in (tmp_path / "pokemon").iterdir()) == ["1"]
