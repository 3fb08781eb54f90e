"""Generative adversarial networks of chapter 20: the book's first GAN and DCGAN, each one module
holding a `generator` and a `discriminator`."""

from __future__ import annotations

import torch
from torch import nn


class GAN(nn.Module):
    """A generator and a discriminator side by side.

    `forward(z)` is D(G(z)) (one logit per example), which is what the inspector walks, so both networks
    appear with their shapes and parameter counts. `latent_shape` is one latent vector's shape and
    `adam_betas` the Adam betas the book trains this pair with (None: torch's defaults).
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, latent_shape: tuple[int, ...],
                 adam_betas: tuple[float, float] | None = None) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.latent_shape = tuple(latent_shape)
        self.adam_betas = adam_betas
        for w in self.parameters():  # the book's initialisation of both networks: N(0, 0.02) for every parameter
            nn.init.normal_(w, 0, 0.02)

    def latent(self, n: int, device: torch.device | str, generator: torch.Generator | None = None) -> torch.Tensor:
        """n latent vectors z ~ N(0, 1) (from `generator` when given, else torch's global generator)."""
        if generator is None:
            return torch.randn((n, *self.latent_shape), device=device)
        return torch.randn((n, *self.latent_shape), generator=generator).to(device)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.discriminator(self.generator(z))


def gan(latent_dim: int = 2, data_dim: int = 2) -> GAN:
    """The book's first GAN (section 20.1): a linear generator and a 5-3-1 tanh MLP discriminator."""
    generator = nn.Sequential(nn.Linear(latent_dim, data_dim))                          # (N, data_dim)
    discriminator = nn.Sequential(nn.Linear(data_dim, 5), nn.Tanh(),                    # (N, 5)
                                  nn.Linear(5, 3), nn.Tanh(),                           # (N, 3)
                                  nn.Linear(3, 1))                                      # (N, 1) logit
    return GAN(generator, discriminator, (latent_dim,))


class GBlock(nn.Sequential):
    """Transposed conv (no bias), batch norm, ReLU: doubles the side with the defaults (section 20.2)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 4, stride: int = 2,
                 padding: int = 1) -> None:
        super().__init__()
        self.conv2d_trans = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.batch_norm = nn.BatchNorm2d(out_channels)
        self.activation = nn.ReLU()


class DBlock(nn.Sequential):
    """Conv (no bias), batch norm, leaky ReLU (slope 0.2): halves the side (section 20.2)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 4, stride: int = 2,
                 padding: int = 1, alpha: float = 0.2) -> None:
        super().__init__()
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.batch_norm = nn.BatchNorm2d(out_channels)
        self.activation = nn.LeakyReLU(alpha)


def dcgan(latent_dim: int = 100, base_width: int = 64, in_channels: int = 3) -> GAN:
    """DCGAN (Radford et al., 2016) as in d2l section 20.2: 64x64 images from a latent_dim x 1 x 1 vector."""
    n = base_width
    generator = nn.Sequential(
        GBlock(latent_dim, n * 8, stride=1, padding=0),  # (8n, 4, 4)
        GBlock(n * 8, n * 4),                            # (4n, 8, 8)
        GBlock(n * 4, n * 2),                            # (2n, 16, 16)
        GBlock(n * 2, n),                                # (n, 32, 32)
        nn.ConvTranspose2d(n, in_channels, 4, 2, 1, bias=False),
        nn.Tanh())                                       # (C, 64, 64) in [-1, 1]
    discriminator = nn.Sequential(
        DBlock(in_channels, n),                          # (n, 32, 32)
        DBlock(n, n * 2),                                # (2n, 16, 16)
        DBlock(n * 2, n * 4),                            # (4n, 8, 8)
        DBlock(n * 4, n * 8),                            # (8n, 4, 4)
        nn.Conv2d(n * 8, 1, 4, bias=False),              # (1, 1, 1) logit
        nn.Flatten())                                    # (1,)
    return GAN(generator, discriminator, (latent_dim, 1, 1), adam_betas=(0.5, 0.999))
