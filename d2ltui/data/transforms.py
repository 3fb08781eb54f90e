"""Per-batch image preparation on the device: to float, channels, resize, augmentation, normalisation.

Augmentation draws per example (torchvision's v2 ops draw once per batched tensor, so a whole
batch would flip or crop together): `flip` mirrors half the images, `crop` takes a random
square crop of 64-100% of the area and scales it back (one `grid_sample`, fused with the
resize), `jitter` scales brightness, contrast and saturation by factors in [0.6, 1.4].
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from d2ltui.data.base import Batch

GREY = (0.299, 0.587, 0.114)  # ITU-R 601 luma, as torchvision's rgb_to_grayscale


def to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey to colour by repetition, colour to grey by luma; 0 or equal keeps x."""
    have = x.shape[1]
    if channels in (0, have):
        return x
    if have == 1 and channels == 3:
        return x.expand(-1, 3, -1, -1)
    r, g, b = x.unbind(1)
    return (GREY[0] * r + GREY[1] * g + GREY[2] * b).unsqueeze(1)


def random_crop_resize(x: torch.Tensor, size: int, min_area: float = 0.64) -> torch.Tensor:
    """A random square crop per example (min_area..1 of the image) resampled to size x size."""
    b = x.shape[0]
    scale = torch.sqrt(torch.empty(b, device=x.device).uniform_(min_area, 1.0))
    shift = (1 - scale).unsqueeze(1) * (torch.rand(b, 2, device=x.device) * 2 - 1)
    theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = scale
    theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, [b, x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_flip(x: torch.Tensor) -> torch.Tensor:
    mask = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
    return torch.where(mask, x.flip(-1), x)


def jitter(x: torch.Tensor, strength: float = 0.4) -> torch.Tensor:
    b = x.shape[0]

    def factor() -> torch.Tensor:
        return torch.empty(b, 1, 1, 1, device=x.device, dtype=x.dtype).uniform_(1 - strength, 1 + strength)

    x = x * factor()
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * factor() + mean
    if x.shape[1] == 3:
        grey = to_channels(x, 1)
        x = (x - grey) * factor() + grey
    return x.clamp(0, 1)


class ImagePrepare:
    """Callable `prepare(batch, train)` for (images, labels) batches; a picklable class, not a closure."""

    def __init__(self, size: int, resize: int = 0, channels: int = 0, augment: Sequence[str] = (),
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None):
        self.size, self.resize, self.channels = size, resize, channels
        self.augment = tuple(augment)
        self.mean, self.std = mean, std
        self._stats: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

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

    def __call__(self, batch: Batch, train: bool) -> Batch:
        x, *rest = batch
        x = x.float().div_(255) if x.dtype == torch.uint8 else x.float()
        x = to_channels(x, self.channels)
        out = self.resize or self.size
        if train and "crop" in self.augment:
            x = random_crop_resize(x, out)
        elif x.shape[-1] != out or x.shape[-2] != out:
            x = F.interpolate(x, size=(out, out), mode="bilinear", align_corners=False,
                              antialias=out < x.shape[-1])
        if train and "flip" in self.augment:
            x = random_flip(x)
        if train and "jitter" in self.augment:
            x = jitter(x)
        if self.mean is not None:
            mean, std = self.stats(x.shape[1], x.device)
            x = (x - mean) / std
        return (x.contiguous(), *rest)
