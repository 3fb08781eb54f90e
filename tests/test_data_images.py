"""Shapes and the real image loaders (on small files in torchvision's layout), and per-batch prepare."""

from __future__ import annotations

import time

import pytest
import torch
import torchvision

from d2ltui.config.schema import DataConfig
from d2ltui.data import load_data
from d2ltui.data.shapes import CLASSES, one_thread, render
from d2ltui.errors import UserError
from data_files import CIFAR_LABELS, write_cifar, write_idx


def cfg(name, root, **kw):
    return DataConfig(name=name, root=str(root), download=False, **kw)


def test_shapes_defaults_and_speed():
    start = time.perf_counter()
    images, labels = render(10000, 28, 1, seed=0)
    assert time.perf_counter() - start < 10.0  # ~0.1-0.2 s on an idle 2-core CPU; slack for a busy one
    assert images.shape == (10000, 1, 28, 28) and images.dtype == torch.uint8 and labels.dtype == torch.int64
    assert labels.bincount().min() > 800  # balanced over the 10 classes
    dm = load_data(DataConfig(name="shapes"), "classification", "cpu")
    assert dm.train[0].shape == (10000, 1, 28, 28) and dm.val[0].shape == (2000, 1, 28, 28)
    assert dm.model_knobs == {"num_classes": 10, "in_channels": 1} and dm.classes == CLASSES
    assert dm.input_shape == ((1, 1, 28, 28),)
    # no fixed template: the per-class mean images are far less distinct than single images
    x = dm.train[0].float()
    assert x.std() > 20


@pytest.mark.parametrize("size,channels", [(28, 3), (96, 1), (224, 3)])
def test_shapes_render_at_any_size(size, channels):
    dm = load_data(DataConfig(name="shapes", resize=size, channels=channels, num_train=20, num_val=10),
                   "classification", "cpu")
    assert dm.train[0].shape == (20, channels, size, size) and dm.val[0].shape == (10, channels, size, size)
    assert dm.input_shape == ((1, channels, size, size),) and dm.model_knobs["in_channels"] == channels
    x, y = dm.prepare(dm.train, False)
    assert x.shape == (20, channels, size, size) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1


def test_shapes_learnable_by_a_small_cnn_not_by_a_linear_model():
    torch.manual_seed(0)
    dm = load_data(DataConfig(name="shapes", num_train=3000, num_val=1000), "classification", "cpu")
    nn = torch.nn
    cnn = nn.Sequential(nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1),
                        nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(),
                        nn.Linear(32, 10))
    linear = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

    def accuracy(model, lr):
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        X, y = dm.train
        for _ in range(3):
            perm = torch.randperm(len(y))
            for i in range(0, len(y), 64):
                xb, yb = dm.prepare((X[perm[i:i + 64]], y[perm[i:i + 64]]), True)
                loss = nn.functional.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            xv, yv = dm.prepare(dm.val, False)
            return (model(xv).argmax(1) == yv).float().mean().item()

    with one_thread():  # a few hundred small steps: one thread is far faster than two on a busy CPU
        assert accuracy(linear, 1e-2) < 0.3
        assert accuracy(cnn, 5e-3) > 0.45


def test_fashion_mnist_from_gzipped_idx_in_torchvision_layout(tmp_path):
    write_idx(tmp_path, "FashionMNIST", gz=True)
    dm = load_data(cfg("fashion-mnist", tmp_path), "classification", "cpu")
    X, y = dm.train
    assert X.shape == (60, 1, 28, 28) and X.dtype == torch.uint8 and y.dtype == torch.int64
    assert dm.val[0].shape == (20, 1, 28, 28) and y[:10].tolist() == list(range(10))
    assert dm.classes == torchvision.datasets.FashionMNIST.classes and dm.classes[0] == "T-shirt/top"
    assert dm.model_knobs == {"num_classes": 10, "in_channels": 1} and dm.input_shape == ((1, 1, 28, 28),)
    small = load_data(cfg("fashion-mnist", tmp_path, num_train=10, num_val=5), "classification", "cpu")
    again = load_data(cfg("fashion-mnist", tmp_path, num_train=10, num_val=5), "classification", "cpu")
    assert small.train[0].shape[0] == 10 and small.val[0].shape[0] == 5
    assert torch.equal(small.train[0], again.train[0])


def test_damaged_idx_files_are_one_line_errors(tmp_path):
    raw = write_idx(tmp_path, "MNIST", gz=True)
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(UserError, match="cannot decompress .*t10k-labels-idx1-ubyte.gz"):
        load_data(cfg("mnist", tmp_path), "classification", "cpu")
    assert not (raw / "t10k-labels-idx1-ubyte").exists() and not (raw / "train-images-idx3-ubyte").exists()
    (raw / "t10k-labels-idx1-ubyte.gz").unlink()
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x0c\x01" + bytes(8))  # labels typed as int16
    with pytest.raises(UserError, match="cannot read the IDX files"):
        load_data(cfg("mnist", tmp_path), "classification", "cpu")


@pytest.mark.parametrize("size", [224, 96])
def test_mnist_resize_and_channels(tmp_path, size):
    write_idx(tmp_path, "MNIST", gz=False)
    dm = load_data(cfg("mnist", tmp_path, resize=size, channels=3, augment=["flip", "crop", "jitter"]),
                   "classification", "cpu")
    assert dm.input_shape == ((1, 3, size, size),) and dm.model_knobs["in_channels"] == 3
    assert dm.train[0].shape == (60, 1, 28, 28)  # held at its own size; prepare resizes per batch
    batch = (dm.train[0][:8], dm.train[1][:8])
    for train in (True, False):
        x, y = dm.prepare(batch, train)
        assert x.shape == (8, 3, size, size) and x.dtype == torch.float32 and torch.equal(y, batch[1])
        assert x.min() >= 0 and x.max() <= 1


def test_cifar10_from_python_batches(tmp_path):
    write_cifar(tmp_path)
    dm = load_data(cfg("cifar10", tmp_path), "classification", "cpu")
    X, y = dm.train
    assert X.shape == (60, 3, 32, 32) and X.dtype == torch.uint8 and y.dtype == torch.int64
    assert dm.val[0].shape == (10, 3, 32, 32) and dm.classes == CIFAR_LABELS
    assert dm.model_knobs == {"num_classes": 10, "in_channels": 3}
    x, _ = dm.prepare((X[:4], y[:4]), False)
    assert x.shape == (4, 3, 32, 32) and x.min() < 0 < x.max()  # normalised by the book's mean/std
    grey = load_data(cfg("cifar10", tmp_path, channels=1, resize=96), "classification", "cpu")
    assert grey.prepare((X[:4], y[:4]), True)[0].shape == (4, 1, 96, 96) and grey.model_knobs["in_channels"] == 1


def test_cifar10_refuses_foreign_pickles(tmp_path):
    folder = write_cifar(tmp_path)
    import pickle

    (folder / "data_batch_3").write_bytes(pickle.dumps({"data": time.perf_counter}))
    with pytest.raises(UserError, match="data_batch_3"):
        load_data(cfg("cifar10", tmp_path), "classification", "cpu")


@pytest.mark.parametrize("name,folder", [("fashion-mnist", "FashionMNIST/raw"), ("mnist", "MNIST/raw"),
                                         ("cifar10", "cifar-10-batches-py")])
def test_offline_missing_says_where_and_leaves_nothing(tmp_path, name, folder):
    root = tmp_path / "data"
    with pytest.raises(UserError) as err:
        load_data(cfg(name, root), "classification", "cpu")
    msg = str(err.value)
    assert str(root / folder) in msg and "shapes" in msg and "\n" not in msg
    assert not root.exists()


@pytest.mark.parametrize("name,tv_name", [("fashion-mnist", "FashionMNIST"), ("cifar10", "CIFAR10")])
def test_failed_download_removes_partial_files(tmp_path, monkeypatch, name, tv_name):
    root = tmp_path / "data"

    def broken(self, *args, **kwargs):  # a download that dies half-way
        (root / "partial").mkdir(parents=True)
        (root / "partial" / "file.gz.part").write_bytes(b"\x1f\x8b half")
        raise RuntimeError("Error downloading: <urlopen error timed out>")

    monkeypatch.setattr(getattr(torchvision.datasets, tv_name), "download", broken)
    with pytest.raises(UserError, match="download failed") as err:
        load_data(DataConfig(name=name, root=str(root), download=True), "classification", "cpu")
    assert "timed out" in str(err.value)
    assert not root.exists()


def test_failed_download_keeps_what_was_there(tmp_path, monkeypatch):
    root = tmp_path / "data"
    (root / "cifar-10-batches-py").mkdir(parents=True)
    (root / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"mine")
    (root / "keep.txt").write_text("mine")

    def broken(self, *args, **kwargs):
        (root / "cifar-10-python.tar.gz").write_bytes(b"half")
        (root / "cifar-10-batches-py" / "data_batch_2").write_bytes(b"half")
        raise RuntimeError("timed out")

    monkeypatch.setattr(torchvision.datasets.CIFAR10, "download", broken)
    with pytest.raises(UserError, match="download failed"):
        load_data(DataConfig(name="cifar10", root=str(root), download=True), "classification", "cpu")
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        "cifar-10-batches-py", "cifar-10-batches-py/data_batch_1", "keep.txt"]


def test_prepare_augments_per_example():
    dm = load_data(DataConfig(name="shapes", num_train=64, num_val=8, augment=["flip"]), "classification", "cpu")
    batch = dm.train
    plain, _ = dm.prepare(batch, False)
    torch.manual_seed(1)
    flipped, _ = dm.prepare(batch, True)
    same = (flipped == plain).flatten(1).all(1)
    mirrored = (flipped == plain.flip(-1)).flatten(1).all(1)
    assert (same | mirrored).all() and (same & ~mirrored).any() and (mirrored & ~same).any()
    dm.prepare.augment = ("crop", "jitter")
    out, _ = dm.prepare(batch, True)
    assert out.shape == plain.shape and 0 <= out.min() and out.max() <= 1 and not torch.equal(out, plain)
    assert torch.equal(dm.prepare(batch, False)[0], plain)  # no augmentation at evaluation


@pytest.mark.gpu
def test_prepare_on_cuda(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    write_cifar(tmp_path)
    dm = load_data(cfg("cifar10", tmp_path, resize=96, augment=["flip", "crop", "jitter"]), "classification", "cuda")
    assert dm.train[0].is_cuda and dm.val[1].is_cuda
    x, y = dm.prepare(dm.train, True)
    assert x.is_cuda and x.shape == (60, 3, 96, 96) and torch.isfinite(x).all()
    shapes = load_data(DataConfig(name="shapes", resize=224, num_train=64, num_val=8, augment=["crop"]),
                       "classification", "cuda")
    assert shapes.prepare(shapes.train, True)[0].shape == (64, 1, 224, 224)
