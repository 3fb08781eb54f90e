"""Writers of small data files in the real on-disk formats, for the data loader tests."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np


def write_idx(root: Path, folder: str, n_train: int = 60, n_test: int = 20, gz: bool = True, seed: int = 0) -> Path:
    """MNIST-style IDX files (big-endian header, ubyte data) in torchvision's <root>/<folder>/raw."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        files = {f"{split}-images-idx3-ubyte": struct.pack(">IIII", 0x0803, n, 28, 28) + images.tobytes(),
                 f"{split}-labels-idx1-ubyte": struct.pack(">II", 0x0801, n) + labels.tobytes()}
        for name, payload in files.items():
            if gz:
                with gzip.open(raw / f"{name}.gz", "wb") as f:
                    f.write(payload)
            else:
                (raw / name).write_bytes(payload)
    return raw


CIFAR_LABELS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar(root: Path, per_batch: int = 12, n_test: int = 10, seed: int = 0) -> Path:
    """CIFAR-10 python batches (pickled dicts with a (N, 3072) uint8 array) in <root>/cifar-10-batches-py."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        n = n_test if name == "test_batch" else per_batch
        entry = {"batch_label": name, "labels": [int(v) for v in rng.integers(0, 10, n)],
                 "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 "filenames": [f"img_{i}.png" for i in range(n)]}
        with (folder / name).open("wb") as f:
            pickle.dump(entry, f, protocol=2)
    with (folder / "batches.meta").open("wb") as f:
        pickle.dump({"label_names": CIFAR_LABELS, "num_cases_per_batch": per_batch, "num_vis": 3072}, f, protocol=2)
    return folder


TIME_MACHINE = """The Project Gutenberg EBook of The Time Machine, by H. G. Wells

I.
Introduction

The Time Traveller (for so it will be convenient to speak of him) was
expounding a recondite matter to us. His grey eyes shone and twinkled, and
his usually pale face was flushed and animated. The fire burned brightly,
and the soft radiance of the incandescent lights in the lilies of silver
caught the bubbles that flashed and passed in our glasses.
""" * 8

FRA = """Go.\tVa !
Hi.\tSalut !
Run!\tCours\u202f!
Run!\tCourez\u202f!
Who?\tQui ?
Wow!\tÇa alors\u202f!
Fire!\tAu feu !
Help!\tÀ l'aide\u202f!
Jump.\tSaute.
Stop!\tÇa suffit\u202f!
Stop!\tStop\u202f!
Wait!\tAttends !
Go on.\tPoursuis.
Hello!\tBonjour !
I see.\tJe comprends.
I try.\tJ'essaye.
I won!\tJ'ai gagné !
Oh no!\tOh non !
Relax.\tDétends-toi.
I ran.\tJ'ai couru.
"""


def write_hotdog(root: Path, per_class: int = 3, seed: int = 0) -> Path:
    """The book's hot dog set as hotdog.zip unpacks: <root>/hotdog/{train,test}/{hotdog,not-hotdog}/*.png,
    images of several sizes and aspect ratios (class 0 reddish, class 1 greenish)."""
    import torch
    from PIL import Image

    g = torch.Generator().manual_seed(seed)
    folder = root / "hotdog"
    for split in ("train", "test"):
        for label, cls in enumerate(("hotdog", "not-hotdog")):
            (folder / split / cls).mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                h, w = 40 + 17 * i, 60 + 11 * i
                img = torch.randint(0, 120, (3, h, w), generator=g, dtype=torch.uint8)
                img[label] += 120
                Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / split / cls / f"{i}.png")
    return folder
