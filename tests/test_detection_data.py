"""The banana sets: procedural boxes that fit their bananas, and the real loader on files in the book's layout."""

from __future__ import annotations

import hashlib
import io
import urllib.request
import zipfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from d2ltui.config.schema import DataConfig
from d2ltui.data import load_data
from d2ltui.data import hub
from d2ltui.data.bananas import render_bananas
from d2ltui.errors import UserError


def cfg(name, root, **kw):
    return DataConfig(name=name, root=str(root), download=False, **kw)


def test_bananas_boxes_are_tight_and_deterministic():
    images, labels = render_bananas(12, 64, seed=3)
    again, labels2 = render_bananas(12, 64, seed=3)
    assert images.shape == (12, 3, 64, 64) and images.dtype == torch.uint8 and labels.shape == (12, 1, 5)
    assert torch.equal(images, again) and torch.equal(labels, labels2)
    assert not torch.equal(images, render_bananas(12, 64, seed=4)[0])
    assert (labels[..., 0] == 0).all()
    boxes = labels[:, 0, 1:]
    assert ((boxes >= 0) & (boxes <= 1)).all() and (boxes[:, 2:] > boxes[:, :2]).all()
    # the pixels just outside each box are background-coloured, the box's edge rows hold the banana:
    # yellow = red and green well above blue
    for image, (x0, y0, x1, y1) in zip(images.int(), (boxes * 64).round().long().tolist()):
        yellow = (image[0] > image[2] + 60) & (image[1] > image[2] + 40)
        inside = yellow[y0:y1, x0:x1]
        assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
    sides = (boxes[:, 2:] - boxes[:, :2]).max(1).values
    assert 0.1 < float(sides.min()) and float(sides.max()) < 0.7


def test_bananas_load_at_any_size_and_refuse_augment():
    dm = load_data(DataConfig(name="bananas", resize=32, num_train=6, num_val=2), "detection")
    assert dm.train[0].shape == (6, 3, 32, 32) and dm.val[1].shape == (2, 1, 5)
    x, y = dm.prepare(dm.train, True)
    assert x.dtype == torch.float32 and float(x.max()) <= 1.0 and torch.equal(y, dm.train[1])
    assert dm.model_knobs == {"num_classes": 1, "in_channels": 3} and dm.classes == ["banana"]
    with pytest.raises(UserError, match="data.augment"):
        load_data(DataConfig(name="bananas", resize=32, num_train=6, num_val=2, augment=["flip"]), "detection")
    with pytest.raises(UserError, match="does not fit the task"):
        load_data(DataConfig(name="bananas"), "classification")


def write_bananas(root: Path, n_train: int = 5, n_val: int = 3, side: int = 32) -> Path:
    """The book's layout: banana-detection/bananas_{train,val}/label.csv + images/N.png, pixel boxes."""
    base = root / "banana-detection"
    for split, n in (("bananas_train", n_train), ("bananas_val", n_val)):
        (base / split / "images").mkdir(parents=True)
        lines = ["img_name,label,xmin,ymin,xmax,ymax"]
        for i in range(n):
            Image.new("RGB", (side, side), (40 + 10 * i,) * 3).save(base / split / "images" / f"{i}.png")
            lines.append(f"{i}.png,0,{i},{2 * i},{i + 16},{2 * i + 8}")
        (base / split / "label.csv").write_text("\n".join(lines) + "\n")
    return base


def test_banana_detection_reads_the_books_layout(tmp_path):
    write_bananas(tmp_path)
    dm = load_data(cfg("banana-detection", tmp_path), "detection")
    assert dm.train[0].shape == (5, 3, 32, 32) and dm.val[0].shape == (3, 3, 32, 32)
    assert dm.train[1][2].tolist() == [[0.0, 2 / 32, 4 / 32, 18 / 32, 12 / 32]]
    assert int(dm.train[0][3, 0, 0, 0]) == 70
    resized = load_data(cfg("banana-detection", tmp_path, resize=16, num_train=2), "detection")
    assert resized.train[0].shape == (2, 3, 16, 16) and torch.equal(resized.train[1], dm.train[1][:2])


def test_banana_detection_damaged_or_missing_is_one_line(tmp_path):
    with pytest.raises(UserError, match="banana-detection: .*bananas_train.*data.download is off"):
        load_data(cfg("banana-detection", tmp_path), "detection")
    base = write_bananas(tmp_path)
    (base / "bananas_val" / "images" / "1.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match=r"line 3: 1.png") as err:
        load_data(cfg("banana-detection", tmp_path), "detection")
    assert "\n" not in str(err.value)


def zipped(tmp_path: Path) -> bytes:
    src = tmp_path / "src"
    write_bananas(src)
    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(src.rglob("*")):
            zf.write(path, path.relative_to(src).as_posix())
    return archive.read_bytes()


def test_banana_download_is_checked_against_the_sha1(tmp_path, monkeypatch):
    payload = zipped(tmp_path)
    root = tmp_path / "data"

    def fake_urlopen(url, timeout=None):  # the server answers with our small zip
        assert url == hub.DATA_HUB["banana-detection"].url
        return io.BytesIO(payload)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(UserError, match="SHA-1 mismatch"):
        load_data(DataConfig(name="banana-detection", root=str(root)), "detection")
    assert not root.exists()  # nothing left behind
    entry = hub.DATA_HUB["banana-detection"]
    monkeypatch.setitem(hub.DATA_HUB, "banana-detection", type(entry)(entry.url, hashlib.sha1(payload).hexdigest()))
    dm = load_data(DataConfig(name="banana-detection", root=str(root)), "detection")
    assert dm.num_train == 5 and not (root / "banana-detection.zip").exists()
