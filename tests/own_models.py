"""Model files the own-model tests write into a temporary folder: each a user's `model.py`."""

CNN = '''
from torch import nn


class Net(nn.Module):
    """A plain CNN."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: int = 8, dropout: float = 0.1):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * width, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


def small(width: int = 4, norm: str = "none", blocks=(1, 2), *, scale=None, act=nn.ReLU, hidden: int | None = None):
    return Net(width=width)


def needs(width: int, depth) -> nn.Module:
    return Net(width=width)
'''

TWO_INPUTS = '''
import torch
import torch.nn.functional as F
from torch import nn


class TwoInputs(nn.Module):
    """An image and a feature vector, joined: a buffer, a module called twice, functional ops."""

    def __init__(self, num_classes: int = 5, extra: int = 6):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.act = nn.ReLU()
        self.proj = nn.Linear(extra, 8)
        self.head = nn.Linear(16, num_classes)
        self.register_buffer("scale", torch.ones(8))

    def forward(self, image, extra):
        x = F.adaptive_avg_pool2d(self.act(self.conv(image)), 1).flatten(1) * self.scale
        return self.head(torch.cat([x, self.act(self.proj(extra))], dim=1))


class Batch(nn.Module):
    def forward(self, batch: dict):
        return batch["x"]
'''

OUTPUTS = '''
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Out:
    logits: torch.Tensor
    boxes: torch.Tensor


class Heads(nn.Module):
    """Returns a dict of tensors."""

    def __init__(self, width: int = 16, classes: int = 3):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, stride=2), nn.BatchNorm2d(width), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.cls = nn.Linear(width, classes)
        self.box = nn.Linear(width, 4)

    def forward(self, x):
        f = self.body(x)
        return {"logits": self.cls(f), "boxes": self.box(f)}


class Tupled(Heads):
    def forward(self, x):
        f = self.body(x)
        return self.cls(f), self.box(f)


class Both(nn.Module):
    """Its heads return one dataclass."""

    def __init__(self):
        super().__init__()
        self.heads = Dataclassed()

    def forward(self, x):
        return self.heads(x)


class Dataclassed(Heads):
    def forward(self, x):
        f = self.body(x)
        return Out(self.cls(f), self.box(f))
'''

TIED = '''
from torch import nn


class TiedLM(nn.Module):
    """A language model whose output layer shares the embedding's weight."""

    def __init__(self, vocab_size: int = 50, dim: int = 16):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.rnn = nn.GRU(dim, dim, batch_first=True)
        self.out = nn.Linear(dim, vocab_size, bias=False)
        self.out.weight = self.embed.weight

    def forward(self, tokens):
        y, _ = self.rnn(self.embed(tokens))
        return self.out(y)
'''

LAZY = '''
from torch import nn


class LazyNet(nn.Module):
    """Lazy layers after a frozen stem."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3)
        self.stem.requires_grad_(False)
        self.body = nn.Sequential(nn.LazyConv2d(8, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(num_classes))

    def forward(self, x):
        return self.body(self.stem(x))
'''

RAISES = '''
from torch import nn


class Net(nn.Module):
    def __init__(self, width: int = 4):
        super().__init__()
        if width > 100:
            raise ValueError("width too big")
        self.fc = nn.Linear(3, width)

    def forward(self, x):
        y = self.fc(x.mean((2, 3)))
        raise RuntimeError("boom in forward")


class NotModule:
    pass


def make():
    return 3
'''

SYNTAX = '''
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2
'''

FILES = {"cnn.py": CNN, "two.py": TWO_INPUTS, "outputs.py": OUTPUTS, "tied.py": TIED, "lazy.py": LAZY,
         "raises.py": RAISES, "syntax.py": SYNTAX, "json.py": CNN}

DETECTOR = '''
import torch
from torch import nn

from d2ltui.zoo.anchors import multibox_prior


class Boxes(nn.Module):
    """One scale of anchors over a strided conv: the detection task's interface."""

    def __init__(self, num_classes: int = 1, in_channels: int = 3, width: int = 8):
        super().__init__()
        self.num_classes, self.sizes, self.ratios = num_classes, (0.2, 0.4), (1.0, 2.0, 0.5)
        per = len(self.sizes) + len(self.ratios) - 1
        self.body = nn.Sequential(nn.Conv2d(in_channels, width, 3, 4, 1), nn.ReLU(), nn.Conv2d(width, width, 3, 2, 1))
        self.cls = nn.Conv2d(width, per * (num_classes + 1), 3, padding=1)
        self.box = nn.Conv2d(width, per * 4, 3, padding=1)

    def forward(self, x):
        f = self.body(x)
        anchors = multibox_prior(f, self.sizes, self.ratios)
        cls = self.cls(f).permute(0, 2, 3, 1).flatten(1).reshape(len(x), -1, self.num_classes + 1)
        return anchors, cls, self.box(f).permute(0, 2, 3, 1).flatten(1)
'''

GAN_PAIR = '''
import torch
from torch import nn


class Pair(nn.Module):
    """A generator and a discriminator: the GAN task's interface."""

    def __init__(self, latent_dim: int = 2, data_dim: int = 2):
        super().__init__()
        self.latent_dim = latent_dim
        self.generator = nn.Linear(latent_dim, data_dim)
        self.discriminator = nn.Sequential(nn.Linear(data_dim, 8), nn.Tanh(), nn.Linear(8, 1))

    def latent(self, n, device, generator=None):
        return torch.randn((n, self.latent_dim), generator=generator).to(device)

    def forward(self, z):
        return self.discriminator(self.generator(z))


class Lonely(nn.Module):
    def __init__(self, data_dim: int = 2):
        super().__init__()
        self.generator = nn.Linear(2, data_dim)

    def forward(self, z):
        return self.generator(z)
'''

FILES.update({"detector.py": DETECTOR, "pair.py": GAN_PAIR})
