"""Character corpora for language models: Python docs (pydoc_data), The Time Machine, any text file.

The book's preprocessing: non-letters become one space, lowercase, character tokens, and a
vocabulary `sorted(set(tokens) | {'<unk>'})` (28 tokens for English text). Sequences, by
data.partition:
- windows (the book's TimeMachine): every window of num_steps + 1 tokens, one starting at each
  position; the first num_train (10,000) train, the next num_val (5,000) validate; X is a
  window's first num_steps tokens, Y its last. The trainer shuffles the train rows each epoch.
- sequential: a seed-chosen offset, the corpus cut into `batch_size` parallel streams, rows
  ordered so that row i + batch_size continues row i; the last 10% of the tokens validate.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from d2ltui.data.base import DataModule
from d2ltui.data.common import generator, sizes, split
from d2ltui.data.fetch import ensure_file
from d2ltui.data.hub import DATA_HUB, download_hub
from d2ltui.data.registry import data_root
from d2ltui.errors import UserError

VAL_FRACTION = 0.1
WINDOWS_TRAIN, WINDOWS_VAL = 10000, 5000  # the book's TimeMachine(num_train=10000, num_val=5000)


def preprocess(text: str) -> str:
    return re.sub("[^A-Za-z]+", " ", text).lower()


def sequential(ids: torch.Tensor, num_steps: int, batch_size: int, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(X, Y) rows of num_steps tokens by sequential partition; row j*B + b is stream b's j-th chunk."""
    streams = max(1, min(batch_size, (len(ids) - offset - 1) // num_steps))
    per_stream = ((len(ids) - offset - 1) // streams // num_steps) * num_steps
    if per_stream < num_steps:
        raise UserError(f"data.num_steps: {num_steps} is longer than the corpus ({len(ids)} tokens)")
    n = per_stream * streams
    xs = ids[offset:offset + n].reshape(streams, per_stream // num_steps, num_steps)
    ys = ids[offset + 1:offset + 1 + n].reshape(streams, per_stream // num_steps, num_steps)
    return xs.transpose(0, 1).reshape(-1, num_steps), ys.transpose(0, 1).reshape(-1, num_steps)


def windows(ids: torch.Tensor, num_steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(X, Y) of every window of num_steps + 1 tokens: row i is ids[i:i + num_steps], Y shifted by one."""
    if len(ids) <= num_steps:
        raise UserError(f"data.num_steps: {num_steps} is longer than the corpus ({len(ids)} tokens)")
    array = ids.unfold(0, num_steps + 1, 1)  # (len - num_steps, num_steps + 1), a view
    return array[:, :-1].clone(), array[:, 1:].clone()


def corpus_module(cfg, task: str, text: str, source: str) -> DataModule:
    """A DataModule from raw text, partitioned by data.partition (see the module docstring)."""
    tokens = list(preprocess(text))
    if len(tokens) < 2 * (cfg.num_steps + 2):
        raise UserError(f"{source}: only {len(tokens)} characters of letters, need at least "
                        f"{2 * (cfg.num_steps + 2)} for data.num_steps={cfg.num_steps}")
    vocab = sorted(set(tokens) | {"<unk>"})
    index = {t: i for i, t in enumerate(vocab)}
    ids = torch.tensor([index[t] for t in tokens], dtype=torch.int64)
    info = {"source": source, "num_tokens": len(ids), "partition": cfg.partition}
    if cfg.partition == "windows":
        num_train, num_val = sizes(cfg, WINDOWS_TRAIN, WINDOWS_VAL)
        train, val = split(windows(ids, cfg.num_steps), num_train, num_val, cfg.seed, shuffle=False)
    else:
        n_val = max(cfg.num_steps + 2, int(len(ids) * VAL_FRACTION))
        offset = int(torch.randint(0, cfg.num_steps, (1,), generator=generator(cfg.seed, 11)))
        train = sequential(ids[:-n_val], cfg.num_steps, cfg.batch_size, offset)
        val = sequential(ids[-n_val:], cfg.num_steps, cfg.batch_size, 0)
        if cfg.num_train:
            train = tuple(t[:cfg.num_train] for t in train)
        if cfg.num_val:
            val = tuple(t[:cfg.num_val] for t in val)
        info["offset"] = offset
    return DataModule(
        name=cfg.name, task=task, train=train, val=val, input_shape=((1, cfg.num_steps),),
        model_knobs={"vocab_size": len(vocab)}, vocab=vocab, info=info)


def load_python_docs(cfg, task: str) -> DataModule:
    from pydoc_data.topics import topics

    text = "\n".join(topics[k] for k in sorted(topics))
    return corpus_module(cfg, task, text, "pydoc_data.topics")


def _read(path: Path, field: str) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise UserError(f"{field}: no such file {path}") from None
    except OSError as err:
        raise UserError(f"{field}: cannot read {path} ({err.strerror or err})") from None


def load_text_file(cfg, task: str) -> DataModule:
    if not cfg.path:
        raise UserError("data.path: text-file needs the file to read, e.g. --set data.path=book.txt")
    path = Path(cfg.path).expanduser()
    if path.is_dir():
        raise UserError(f"data.path: {path} is a folder, not a text file")
    return corpus_module(cfg, task, _read(path, "data.path"), str(path))


def load_time_machine(cfg, task: str) -> DataModule:
    """`<root>/timemachine.txt`, downloaded from the book's URL when missing and data.download is on."""
    root = data_root(cfg)
    path = root / "timemachine.txt"
    ensure_file("time-machine", path, root, cfg.download, lambda: download_hub("time_machine", root),
                f"Put timemachine.txt there (from {DATA_HUB['time_machine'].url}), set data.root, "
                f"or use data.name=python-docs")
    return corpus_module(cfg, task, _read(path, "data.root"), str(path))

