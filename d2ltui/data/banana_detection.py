"""The book's real banana-detection set (section 14.6): `label.csv` plus `images/` per split, SHA-1-checked zip."""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from d2ltui.data.bananas import CLASSES, check_no_augment, detection_module
from d2ltui.data.base import DataModule
from d2ltui.data.fetch import describe, no_leftovers, socket_timeout
from d2ltui.data.hub import download_extract
from d2ltui.data.registry import data_root
from d2ltui.errors import UserError

FOLDER = "banana-detection"  # the DATA_HUB zip of that name extracts to this folder
SPLITS = ("bananas_train", "bananas_val")
COLUMNS = ("img_name", "label", "xmin", "ymin", "xmax", "ymax")


def read_split(folder: Path, size: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, 3, S, S), labels (N, 1, 5) with corners as fractions of each image).

    S is `size`, or when 0 the first image's height; other sizes are resized to it."""
    from PIL import Image, UnidentifiedImageError
    from torchvision.transforms.v2.functional import pil_to_tensor, resize

    csv_path = folder / "label.csv"
    try:
        with csv_path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as err:
        raise UserError(f"banana-detection: cannot read {csv_path} ({err.strerror or err})") from None
    if not rows or any(c not in rows[0] for c in COLUMNS):
        raise UserError(f"banana-detection: {csv_path} needs the columns {', '.join(COLUMNS)}")
    images, labels = [], []
    for line, row in enumerate(rows, start=2):
        path = folder / "images" / row["img_name"]
        try:
            with Image.open(path) as img:
                image = pil_to_tensor(img.convert("RGB"))
            values = [float(row[c]) for c in COLUMNS[1:]]
        except (UnidentifiedImageError, OSError, ValueError) as err:
            raise UserError(f"banana-detection: {csv_path} line {line}: {path.name}: {err}".splitlines()[0]) from None
        h, w = image.shape[-2:]
        size = size or h
        labels.append([values[0], values[1] / w, values[2] / h, values[3] / w, values[4] / h])
        images.append(image if (h, w) == (size, size) else resize(image, [size, size], antialias=True))
    return torch.stack(images), torch.tensor(labels, dtype=torch.float32).unsqueeze(1)


def load_banana_detection(cfg, task: str) -> DataModule:
    """`<data.root>/banana-detection/bananas_train` and `bananas_val`, downloaded when missing and allowed."""
    check_no_augment(cfg)
    root = data_root(cfg)
    base = root / FOLDER
    need = [base / s / "label.csv" for s in SPLITS]
    err = None
    if cfg.download and not all(p.exists() for p in need):
        try:
            with no_leftovers(root), socket_timeout():
                download_extract(FOLDER, root)
        except Exception as e:  # noqa: BLE001 - any failure becomes one line
            err = e
    if not all(p.exists() for p in need):
        why = f"download failed ({describe(err)})" if err else "data.download is off"
        raise UserError(f"banana-detection: {base} needs {SPLITS[0]}/ and {SPLITS[1]}/, each with label.csv and "
                        f"images/; {why}. Put them there, set data.root, or use the embedded data.name=bananas")
    train = read_split(base / SPLITS[0], cfg.resize)
    size = train[0].shape[-1]
    val = read_split(base / SPLITS[1], size)
    train = tuple(t[:cfg.num_train] for t in train) if cfg.num_train else train
    val = tuple(t[:cfg.num_val] for t in val) if cfg.num_val else val
    if bool((train[1][..., 0] >= len(CLASSES)).any()):
        raise UserError(f"banana-detection: labels must be 0 (banana); found {int(train[1][..., 0].max())}")
    return detection_module(cfg, task, train, val, size, {"size": size, "normalize": "[0, 1]"})
