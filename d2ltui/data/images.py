"""Real image sets (Fashion-MNIST, MNIST, CIFAR-10) in torchvision's on-disk layout, held as uint8 tensors.

A split is read once into memory as (N, C, H, W) uint8; `ImagePrepare` turns each batch into
floats on the device (resize, augmentation, normalisation). Offline and missing, the error
names the exact folder and files torchvision expects.
"""

from __future__ import annotations

import gzip
import pickle
import shutil
from pathlib import Path

import torch

from d2ltui.data.base import DataModule
from d2ltui.data.common import generator
from d2ltui.data.fetch import describe, no_leftovers, socket_timeout
from d2ltui.data.registry import data_root
from d2ltui.data.transforms import ImagePrepare
from d2ltui.errors import UserError

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)  # the book's CIFAR-10 normalisation (section 14.13)
CIFAR_STD = (0.2023, 0.1994, 0.2010)


def _missing(cfg, folder: Path, files: tuple[str, ...], also: str, err: Exception | None) -> UserError:
    why = f"download failed ({describe(err)})" if err else "data.download is off"
    return UserError(f"{cfg.name}: files not found in {folder} (need {', '.join(files)}{also}); {why}. "
                     f"Put them there, set data.root, or use an embedded set such as data.name=shapes")


def _subset(tensors: tuple[torch.Tensor, ...], n: int, seed: int, salt: int) -> tuple[torch.Tensor, ...]:
    """A seeded random subset of n examples (all of them, in order, when n is 0 or too large)."""
    total = len(tensors[0])
    if not n or n >= total:
        return tensors
    idx = torch.randperm(total, generator=generator(seed, salt))[:n]
    return tuple(t[idx] for t in tensors)


def _module(cfg, task, train, val, classes, size, channels, mean=None, std=None) -> DataModule:
    train, val = _subset(train, cfg.num_train, cfg.seed, 1), _subset(val, cfg.num_val, cfg.seed, 2)
    if task == "gan":  # images alone, 64x64 colour in [-1, 1] unless data.resize / data.channels say otherwise
        from d2ltui.data.generative import gan_images

        return gan_images(cfg, task, train[0], val[0], size, channels)
    out_c = cfg.channels or channels
    out = cfg.resize or size
    return DataModule(
        name=cfg.name, task=task, train=train, val=val, input_shape=((1, out_c, out, out),),
        model_knobs={"num_classes": len(classes), "in_channels": out_c},
        prepare=ImagePrepare(size, cfg.resize, cfg.channels, cfg.augment, mean, std, seed=cfg.seed),
        classes=list(classes),
        info={"size": size, "normalize": "mean/std" if mean else "[0, 1]"})


def _gunzip(raw: Path, name_: str) -> None:
    """Decompress `<file>.gz` placed in the raw folder where the plain file is missing (as torchvision does)."""
    for name in MNIST_FILES:
        plain, packed = raw / name, raw / (name + ".gz")
        if not plain.exists() and packed.exists():
            tmp = plain.with_name(name + ".part")
            try:
                with gzip.open(packed, "rb") as src, tmp.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
                tmp.replace(plain)
            except (OSError, EOFError) as err:
                tmp.unlink(missing_ok=True)
                raise UserError(f"{name_}: cannot decompress {packed} ({err})") from None


def _mnist_like(cfg, task: str, tv_name: str) -> DataModule:
    import torchvision.datasets as tvd

    tv_cls = getattr(tvd, tv_name)
    root = data_root(cfg)
    raw = root / tv_name / "raw"
    with no_leftovers(root):
        _gunzip(raw, cfg.name)
        err = None
        if cfg.download and not all((raw / f).exists() for f in MNIST_FILES):
            try:
                with socket_timeout():
                    tv_cls(str(root), train=True, download=True)
                    tv_cls(str(root), train=False, download=True)
            except Exception as e:  # noqa: BLE001 - any download failure becomes one line
                err = e
        if not all((raw / f).exists() for f in MNIST_FILES):
            raise _missing(cfg, raw, MNIST_FILES, " or the same names with .gz", err)
    try:
        tr, te = tv_cls(str(root), train=True), tv_cls(str(root), train=False)
    except (RuntimeError, AssertionError, ValueError, TypeError) as e:
        raise UserError(f"{cfg.name}: cannot read the IDX files in {raw} ({e})") from None
    train = (tr.data.unsqueeze(1).contiguous(), tr.targets.long())
    val = (te.data.unsqueeze(1).contiguous(), te.targets.long())
    return _module(cfg, task, train, val, tv_cls.classes, tr.data.shape[-1], 1)


def load_fashion_mnist(cfg, task: str) -> DataModule:
    return _mnist_like(cfg, task, "FashionMNIST")


def load_mnist(cfg, task: str) -> DataModule:
    return _mnist_like(cfg, task, "MNIST")


class _ArraysOnly(pickle.Unpickler):
    """Unpickles CIFAR batches (dicts of numpy arrays, lists, strings) and refuses anything else."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"unexpected object {module}.{name}")


def _read_pickle(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            entry = _ArraysOnly(f, encoding="latin1").load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as err:
        raise UserError(f"cifar10: cannot read {path} ({err})") from None
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in entry.items()}


def _cifar_split(folder: Path, names: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    for name in names:
        entry = _read_pickle(folder / name)
        xs.append(torch.as_tensor(entry["data"], dtype=torch.uint8).reshape(-1, 3, 32, 32))
        ys.append(torch.as_tensor(entry["labels"], dtype=torch.int64))
    return torch.cat(xs), torch.cat(ys)


def load_cifar10(cfg, task: str) -> DataModule:
    """CIFAR-10 from torchvision's `cifar-10-batches-py` pickles, read here (torchvision insists on md5s)."""
    root = data_root(cfg)
    folder = root / CIFAR_FOLDER
    with no_leftovers(root):
        err = None
        if cfg.download and not all((folder / f).exists() for f in CIFAR_FILES):
            try:
                import torchvision.datasets as tvd

                with socket_timeout():
                    tvd.CIFAR10(str(root), train=True, download=True)
            except Exception as e:  # noqa: BLE001
                err = e
        if not all((folder / f).exists() for f in CIFAR_FILES):
            raise _missing(cfg, folder, CIFAR_FILES, "", err)
    train = _cifar_split(folder, CIFAR_FILES[:5])
    val = _cifar_split(folder, ("test_batch",))
    classes = [str(c) for c in _read_pickle(folder / "batches.meta")["label_names"]]
    return _module(cfg, task, train, val, classes, 32, 3, CIFAR_MEAN, CIFAR_STD)
