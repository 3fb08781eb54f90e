"""Image sets in torchvision's ImageFolder layout (`<split>/<class>/<image>`): the book's hot dog set.

Images come in every size; each is read once, resized to 256 x 256 (the book's test pipeline
starts with `Resize([256, 256])`) and held as uint8. Training batches then take the dataset's
augmentation (the book: RandomResizedCrop 224 and a horizontal flip), evaluation batches the
centre 224 x 224; both are normalised with ImageNet's statistics, as the book does.
"""

from __future__ import annotations

from pathlib import Path

import torch

from d2ltui.data.base import DataModule
from d2ltui.data.fetch import ensure_file
from d2ltui.data.registry import data_root
from d2ltui.data.transforms import IMAGENET_MEAN, IMAGENET_STD, ImagePrepare
from d2ltui.errors import UserError

STORED = 256  # the side every image is kept at
HOTDOG_OUT = 224  # the side the network sees


def read_folder(folder: Path, name: str, side: int = STORED) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(images (N, 3, side, side) uint8, labels (N,), class names) of an ImageFolder tree."""
    import torchvision.datasets as tvd
    from PIL import Image
    from torchvision.transforms.v2 import functional as TF

    try:
        found = tvd.ImageFolder(str(folder), loader=lambda p: p)
    except (FileNotFoundError, OSError) as err:
        raise UserError(f"{name}: no images in {folder} ({err})") from None
    images, labels = torch.empty(len(found), 3, side, side, dtype=torch.uint8), torch.empty(len(found), dtype=torch.long)
    for i, (path, label) in enumerate(found.samples):
        try:
            with Image.open(path) as pil:
                img = TF.pil_to_tensor(pil.convert("RGB"))
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            raise UserError(f"{name}: cannot read {path} ({str(err).splitlines()[0][:120]})") from None
        images[i] = TF.resize(img, [side, side], antialias=True)
        labels[i] = label
    return images, labels, list(found.classes)


def load_hotdog(cfg, task: str) -> DataModule:
    """The book's hot dog set: `<data.root>/hotdog/{train,test}/{hotdog,not-hotdog}/*`, downloaded (SHA-1
    checked) when missing and allowed."""
    from d2ltui.data.hub import download_extract
    from d2ltui.data.images import _subset

    root = data_root(cfg)
    folder = root / "hotdog"
    ensure_file(cfg.name, folder / "test", root, cfg.download, lambda: download_extract("hotdog", root),
                f"Unzip the book's hotdog.zip into {root} (it holds hotdog/train and hotdog/test), or set data.root")
    if not (folder / "train").is_dir():
        raise UserError(f"{cfg.name}: {folder / 'train'} not found; the book's hotdog.zip holds train and test")
    xtr, ytr, classes = read_folder(folder / "train", cfg.name)
    xte, yte, test_classes = read_folder(folder / "test", cfg.name)
    if test_classes != classes:
        raise UserError(f"{cfg.name}: the test classes {test_classes} differ from the train classes {classes}")
    train = _subset((xtr, ytr), cfg.num_train, cfg.seed, 1)
    val = _subset((xte, yte), cfg.num_val, cfg.seed, 2)
    out = cfg.resize or HOTDOG_OUT
    if out > STORED:
        raise UserError(f"data.resize: {out} is larger than the {STORED} px the hot dog images are kept at")
    channels = cfg.channels or 3
    return DataModule(
        name=cfg.name, task=task, train=train, val=val, input_shape=((1, channels, out, out),),
        model_knobs={"num_classes": len(classes), "in_channels": channels},
        prepare=ImagePrepare(STORED, out, cfg.channels, cfg.augment, IMAGENET_MEAN, IMAGENET_STD, seed=cfg.seed,
                             centre=True),
        classes=classes, info={"size": STORED, "normalize": "ImageNet mean/std"})
