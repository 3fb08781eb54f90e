"""The book's Pokemon sprites (section 20.2): pokemon.zip from the book's hub, SHA-1 checked, read as an ImageFolder."""

from __future__ import annotations

import torch

from d2ltui.data.base import DataModule
from d2ltui.data.fetch import ensure_file
from d2ltui.data.generative import GAN_SIDE, gan_images
from d2ltui.data.registry import data_root
from d2ltui.errors import UserError

FOLDER = "pokemon"  # <root>/pokemon/<class>/<image>, as the archive unpacks
DEFAULT_VAL = 256


def read_images(folder, side: int = GAN_SIDE) -> torch.Tensor:
    """Every image of an ImageFolder tree as uint8 (N, 3, side, side), in the folder's sorted order."""
    import numpy as np
    import torchvision
    from PIL import Image

    try:
        dataset = torchvision.datasets.ImageFolder(str(folder))
    except (FileNotFoundError, RuntimeError) as err:
        raise UserError(f"pokemon: {folder} is not an image folder ({str(err).splitlines()[0]})") from None
    out = torch.empty(len(dataset.samples), 3, side, side, dtype=torch.uint8)
    for i, (path, _) in enumerate(dataset.samples):
        try:
            with Image.open(path) as im:
                im = im.convert("RGB").resize((side, side), Image.BILINEAR)
                out[i] = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)
        except OSError as err:
            raise UserError(f"pokemon: cannot read {path} ({err})") from None
    return out


def load_pokemon(cfg, task: str) -> DataModule:
    """<root>/pokemon, downloaded (SHA-1 checked) and unpacked from the book's pokemon.zip when missing and allowed."""
    from d2ltui.data.hub import download_extract, hub_entry

    root = data_root(cfg)
    folder = root / FOLDER
    ensure_file("pokemon", folder, root, cfg.download, lambda: download_extract("pokemon", root),
                f"Unzip the book's pokemon.zip ({hub_entry('pokemon').url}) into {root}, set data.root, "
                f"or use data.name=sprites")
    images = read_images(folder)
    if len(images) < 2:
        raise UserError(f"pokemon: {folder} holds {len(images)} image(s); need at least 2")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(cfg.seed))
    num_val = min(cfg.num_val or DEFAULT_VAL, max(1, len(images) // 5))
    num_train = min(cfg.num_train or len(images), len(images) - num_val)
    train, val = images[order[num_val:num_val + num_train]], images[order[:num_val]]
    return gan_images(cfg, task, train, val, GAN_SIDE, 3)
