"""Inspect a ~100-million-parameter model of your own from a file: no memory for its weights, time against torchinfo.

Usage: python benchmarks/bench_own_model.py [--repeat 5]

Writes a model file (a ViT-B/16-like transformer of about 100M parameters), then times two fresh
processes, alternated `repeat` times, medians compared (target: ratio <= 1.1):
- `d2l-tui inspect FILE:Net` (the table printed, the process exited; the pass runs on the meta device),
- a process that imports torch and torchinfo, builds the same model on the CPU and prints torchinfo's summary.
Each process's peak resident memory above a bare `import torch` is printed beside it: the
inspection's stays far below the weights' 384 MB, torchinfo's holds them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench_startup import timed as startup_timed  # this folder is on the path when run as a script

MODEL = '''
import torch
from torch import nn


class Net(nn.Module):
    """A ViT-like encoder of about 100M parameters (ViT-B/16 has 86.6M)."""

    def __init__(self, dim: int = 768, depth: int = 14, heads: int = 12, patch: int = 16, num_classes: int = 1000):
        super().__init__()
        self.patches = nn.Conv2d(3, dim, patch, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, (224 // patch) ** 2 + 1, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patches(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        return self.head(self.norm(self.encoder(x))[:, 0])
'''

TORCHINFO = '''
import sys, torch, torchinfo
sys.path.insert(0, sys.argv[1])
from net import Net
print(torchinfo.summary(Net(), input_size=(1, 3, 224, 224), verbose=0))
'''


def timed(argv: list[str], expect: str) -> tuple[float, float]:
    """Seconds from spawning `argv` until it exits having printed `expect`, and its peak resident MB."""
    return startup_timed(argv, expect, lambda usage: usage.ru_maxrss / 1024)  # Linux: kilobytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each process; medians compared")
    args = parser.parse_args()
    py = sys.executable
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; cpus: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "net.py").write_text(MODEL)
        ours, theirs = [], []
        for _ in range(args.repeat):
            ours.append(timed([py, "-m", "d2ltui", "inspect", f"{tmp}/net.py:Net"], "params 10"))
            theirs.append(timed([py, "-c", TORCHINFO, tmp], "Total params: 10"))
    (mo, mt) = (statistics.median(x[0] for x in ours), statistics.median(x[0] for x in theirs))
    base = statistics.median(timed([py, "-c", "import torch; print('ok')"], "ok")[1] for _ in range(2))
    (ro, rt) = (statistics.median(x[1] for x in ours) - base, statistics.median(x[1] for x in theirs) - base)
    verdict = "ok" if mo / mt <= 1.1 else "OVER"
    print(f"d2l-tui inspect net.py:Net: {mo * 1000:.0f} ms, peak {ro:.0f} MB; torchinfo summary of the same Net: "
          f"{mt * 1000:.0f} ms, peak {rt:.0f} MB (medians of {args.repeat}, alternated; peaks above `import torch`'s "
          f"{base:.0f} MB); time ratio {mo / mt:.2f} (target <= 1.1) {verdict}; weights {100_743_400 * 4 >> 20} MB")


if __name__ == "__main__":
    main()
