"""Per-batch image preparation on the device: to float, channels, resize, augmentation, normalisation.

Augmentation is torchvision's `transforms.v2` with the book's parameters (section 14.1), drawn per
image: a v2 transform given a batched tensor draws once for the whole batch, so each image of a
training batch goes through the pipeline on its own. Flips, the first step of the book's order and
the most common augmentation, run on the whole batch on its device instead (`flip_batch`: one draw
per image, one `torch.where`), with no per-image loop. The draws come from the preparation's own
generator state (`state_dict`), which the task checkpoints, so a resumed run augments exactly as
the uninterrupted one would. Evaluation batches are never augmented.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

import torch
import torch.nn.functional as F

from d2ltui.data.base import Batch
from d2ltui.config.schema import AUGMENTS

if TYPE_CHECKING:  # pragma: no cover
    from torchvision.transforms import v2


def _v2():
    """torchvision's transforms.v2, imported when an augmentation is built (torchvision loads torch._dynamo: seconds)."""
    from torchvision.transforms import v2

    return v2

GREY = (0.299, 0.587, 0.114)  # ITU-R 601 luma, as torchvision's rgb_to_grayscale
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # the normalisation of torchvision's ImageNet weights
IMAGENET_STD = (0.229, 0.224, 0.225)

# name -> the v2 transform for output side `out`; the names (and their help) are owned by data.registry
FACTORIES: dict[str, Callable[[int], v2.Transform]] = {
    "flip": lambda out: _v2().RandomHorizontalFlip(),
    "vflip": lambda out: _v2().RandomVerticalFlip(),
    "crop": lambda out: _v2().RandomResizedCrop((out, out), scale=(0.1, 1), ratio=(0.5, 2), antialias=True),
    "resized-crop": lambda out: _v2().RandomResizedCrop(out, antialias=True),
    "brightness": lambda out: _v2().ColorJitter(brightness=0.5, contrast=0, saturation=0, hue=0),
    "hue": lambda out: _v2().ColorJitter(brightness=0, contrast=0, saturation=0, hue=0.5),
    "jitter": lambda out: _v2().ColorJitter(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.5),
}
assert set(FACTORIES) == set(AUGMENTS), "every augmentation name has its transform"
ORDER = ("flip", "vflip", "brightness", "hue", "jitter", "crop", "resized-crop")  # the book's composition order
FLIPS = {"flip": -1, "vflip": -2}  # batched on the device: the image dimension each one mirrors


def pipeline(names: Sequence[str], out: int) -> v2.Compose | None:
    """The v2 composition of the named augmentations (the book's order: flips, colour, shape), or None."""
    steps = [FACTORIES[n](out) for n in ORDER if n in names]
    return _v2().Compose(steps) if steps else None


def seeded_state(seed: int) -> torch.Tensor:
    """A CPU generator state fixed by `seed` (the format of torch.get_rng_state)."""
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + 41).get_state()


def per_image(x: torch.Tensor, transform: v2.Transform, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`transform` applied to each image of x (N, C, H, W) with its own draws from the generator `state`;
    returns the images stacked and the generator's state after the draws. The global generator is untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(state)
        out = torch.stack([transform(img) for img in x])
        return out, torch.get_rng_state()


def flip_batch(x: torch.Tensor, dim: int, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image of x (N, C, H, W) mirrored along `dim` with probability 1/2, drawn from the generator
    `state` (one draw per image), on x's device in one operation; returns the images and the new state."""
    gen = torch.Generator().manual_seed(0)
    gen.set_state(state)
    mask = torch.rand(len(x), generator=gen) < 0.5
    out = torch.where(mask.to(x.device).view(-1, *([1] * (x.dim() - 1))), x.flip(dim), x)
    return out, gen.get_state()


def to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey to colour by repetition, colour to grey by luma; 0 or equal keeps x."""
    have = x.shape[1]
    if channels in (0, have):
        return x
    if have == 1 and channels == 3:
        return x.expand(-1, 3, -1, -1)
    r, g, b = x.unbind(1)
    return (GREY[0] * r + GREY[1] * g + GREY[2] * b).unsqueeze(1)


def centre_crop(x: torch.Tensor, out: int) -> torch.Tensor:
    top, left = (x.shape[-2] - out) // 2, (x.shape[-1] - out) // 2
    return x[..., top:top + out, left:left + out]


class ImagePrepare:
    """Callable `prepare(batch, train)` for (images, labels) batches; a picklable class, not a closure.

    `size` is the stored side, `resize` the side the model sees (0: the stored one); with
    `centre` the images are centre-cropped to it instead of resized (the book's hot dog test
    pipeline: resize to 256, centre crop 224). `mean`/`std` normalise after augmentation.
    """

    def __init__(self, size: int, resize: int = 0, channels: int = 0, augment: Sequence[str] = (),
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None, seed: int = 0,
                 centre: bool = False):
        self.size, self.resize, self.channels, self.centre = size, resize, channels, centre
        self.augment = tuple(augment)
        self.mean, self.std = mean, std
        self.rng = seeded_state(seed)
        self._stats: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def out(self) -> int:
        return self.resize or self.size

    def normalise_as(self, mean: Sequence[float], std: Sequence[float]) -> None:
        """Normalise with these statistics from now on (pretrained weights expect their own)."""
        self.mean, self.std, self._stats = tuple(mean), tuple(std), {}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"rng": self.rng.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.rng = state["rng"].cpu().to(torch.uint8).clone()

    def stats(self, channels: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std shaped (1, C, 1, 1) on the device, made once per (channels, device)."""
        key = (channels, str(device))
        if key not in self._stats:
            mean, std = torch.tensor(self.mean), torch.tensor(self.std)
            if channels == 1:  # a colour set read as grey: the luma of the statistics
                luma = torch.tensor(GREY)
                mean, std = (mean * luma).sum(0, keepdim=True), (std * luma).sum(0, keepdim=True)
            self._stats[key] = (mean.view(1, -1, 1, 1).to(device), std.view(1, -1, 1, 1).to(device))
        return self._stats[key]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_stats": {}}

    def fit(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic size step: centre crop or resize to the output side."""
        out = self.out
        if x.shape[-1] == out and x.shape[-2] == out:
            return x
        if self.centre and x.shape[-1] >= out and x.shape[-2] >= out:
            return centre_crop(x, out)
        return F.interpolate(x, size=(out, out), mode="bilinear", align_corners=False,
                             antialias=out < x.shape[-1])

    def augmented(self, x: torch.Tensor, names: Sequence[str]) -> torch.Tensor:
        """x (N, C, H, W) floats in [0, 1] through the named augmentations, per image, at the output side."""
        crops = any(n in ("crop", "resized-crop") for n in names)
        if not crops:
            x = self.fit(x)
        for name in (n for n in ORDER if n in FLIPS and n in names):  # the book's order: flips come first
            x, self.rng = flip_batch(x, FLIPS[name], self.rng)
        transform = pipeline([n for n in names if n not in FLIPS], self.out)
        if transform is None:
            return x
        x, self.rng = per_image(x, transform, self.rng)
        return x

    def __call__(self, batch: Batch, train: bool) -> Batch:
        x, *rest = batch
        x = x.float().div_(255) if x.dtype == torch.uint8 else x.float()
        x = to_channels(x, self.channels)
        x = self.augmented(x, self.augment) if train and self.augment else self.fit(x)
        if self.mean is not None:
            mean, std = self.stats(x.shape[1], x.device)
            x = (x - mean) / std
        return (x.contiguous(), *rest)
