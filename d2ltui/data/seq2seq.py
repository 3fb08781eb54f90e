"""Seq2seq pairs: embedded `reverse` and `dates` (character tokens) and the book's English-French pairs.

Ids: <pad>=0, <bos>=1, <eos>=2, <unk>=3, then the other tokens sorted. Every sequence ends in
<eos> and is padded with <pad> (or cut, keeping <eos> last) to data.num_steps.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import torch

from d2ltui.data.base import DataModule
from d2ltui.data.common import build_vocab, generator, sizes
from d2ltui.data.fetch import ensure_file
from d2ltui.data.hub import DATA_HUB, download_extract
from d2ltui.data.registry import data_root
from d2ltui.errors import UserError
from d2ltui.zoo.build import EOS, PAD, UNK

RESERVED = ["<pad>", "<bos>", "<eos>", "<unk>"]
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def to_array(seqs: list[list[str]], vocab: list[str], num_steps: int) -> torch.Tensor:
    """(N, num_steps) int64 ids: tokens + <eos>, padded with <pad> or cut keeping <eos> last."""
    index = {t: i for i, t in enumerate(vocab)}
    out = torch.full((len(seqs), num_steps), PAD, dtype=torch.int64)
    for row, seq in enumerate(seqs):
        ids = [index.get(t, UNK) for t in seq[:num_steps - 1]] + [EOS]
        out[row, :len(ids)] = torch.tensor(ids)
    return out


def pairs_module(cfg, task: str, src: list[list[str]], tgt: list[list[str]], src_vocab: list[str],
                 tgt_vocab: list[str], num_train: int, info: dict) -> DataModule:
    s, t = to_array(src, src_vocab, cfg.num_steps), to_array(tgt, tgt_vocab, cfg.num_steps)
    steps = cfg.num_steps
    return DataModule(
        name=cfg.name, task=task, train=(s[:num_train], t[:num_train]), val=(s[num_train:], t[num_train:]),
        input_shape=((1, steps), (1, steps)), model_knobs={"src_vocab": len(src_vocab), "tgt_vocab": len(tgt_vocab)},
        vocab=tgt_vocab, src_vocab=src_vocab,
        info={**info, "truncated": sum(len(x) >= steps for x in src) + sum(len(y) >= steps for y in tgt)})


def load_reverse(cfg, task: str) -> DataModule:
    """Random lowercase strings of 3..12 letters; the target is the string reversed."""
    num_train, num_val = sizes(cfg, 10000, 1000)
    n = num_train + num_val
    g = generator(cfg.seed, 21)
    lengths = torch.randint(3, 13, (n,), generator=g).tolist()
    letters = torch.randint(0, len(LETTERS), (n, 12), generator=g).tolist()
    src = [[LETTERS[c] for c in row[:k]] for row, k in zip(letters, lengths)]
    tgt = [s[::-1] for s in src]
    vocab = RESERVED + list(LETTERS)
    return pairs_module(cfg, task, src, tgt, vocab, vocab, num_train, {"example": ("".join(src[0]), "".join(tgt[0]))})


DATE_FORMATS = ("{d} {B} {Y}", "{B} {d}, {Y}", "{d} {b} {Y}", "{b} {d} {Y}", "{A}, {d} {B} {Y}", "{d}.{m}.{Y}",
                "{d}/{m}/{Y}")


def _written(date: dt.date, fmt: str) -> str:
    return fmt.format(d=date.day, m=date.month, Y=date.year, B=date.strftime("%B").lower(),
                      b=date.strftime("%b").lower(), A=date.strftime("%A").lower())


def load_dates(cfg, task: str) -> DataModule:
    """Dates 1900..2099 written in 7 styles -> ISO 8601, e.g. '27 november 2026' -> '2026-11-27'."""
    num_train, num_val = sizes(cfg, 10000, 1000)
    n = num_train + num_val
    g = generator(cfg.seed, 22)
    start, span = dt.date(1900, 1, 1).toordinal(), (dt.date(2099, 12, 31) - dt.date(1900, 1, 1)).days + 1
    days = torch.randint(0, span, (n,), generator=g).tolist()
    styles = torch.randint(0, len(DATE_FORMATS), (n,), generator=g).tolist()
    dates = [dt.date.fromordinal(start + d) for d in days]
    src = [list(_written(day, DATE_FORMATS[s])) for day, s in zip(dates, styles)]
    tgt = [list(day.isoformat()) for day in dates]
    src_vocab = RESERVED + sorted(set(LETTERS + "0123456789 ,./"))
    tgt_vocab = RESERVED + sorted(set("0123456789-"))
    return pairs_module(cfg, task, src, tgt, src_vocab, tgt_vocab, num_train,
                        {"example": ("".join(src[0]), "".join(tgt[0]))})


def preprocess(text: str) -> str:
    """The book's: no-break spaces to spaces, lowercase, a space before , . ! ? when missing."""
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    return "".join(" " + c if i > 0 and c in ",.!?" and text[i - 1] != " " else c for i, c in enumerate(text))


def tokenize(text: str, max_examples: int) -> tuple[list[list[str]], list[list[str]]]:
    """Word tokens of the first max_examples tab-separated pairs (extra columns ignored)."""
    src, tgt = [], []
    for line in text.split("\n"):
        if len(src) >= max_examples:
            break
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0].strip() and parts[1].strip():
            src.append([t for t in parts[0].split(" ") if t])
            tgt.append([t for t in parts[1].split(" ") if t])
    return src, tgt


def _fra_file(cfg) -> Path:
    """data.path when set, else <root>/fra-eng/fra.txt, downloaded from the book's URL when allowed."""
    if cfg.path:
        path = Path(cfg.path).expanduser()
        if not path.is_file():
            raise UserError(f"data.path: no such file {path} (fra-eng wants a tab-separated fra.txt)")
        return path
    root = data_root(cfg)
    path = root / "fra-eng" / "fra.txt"

    return ensure_file("fra-eng", path, root, cfg.download, lambda: download_extract("fra-eng", root),
                       f"Put fra.txt there (from {DATA_HUB['fra-eng'].url}), set data.path, "
                       f"or use data.name=dates or data.name=reverse")


def load_fra_eng(cfg, task: str) -> DataModule:
    """The book's MTFraEng: the first 512 + 128 pairs, word vocabularies with min_freq 2."""
    path = _fra_file(cfg)
    num_train, num_val = sizes(cfg, 512, 128)
    try:
        raw = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise UserError(f"fra-eng: cannot read {path} ({err.strerror or err})") from None
    src, tgt = tokenize(preprocess(raw), num_train + num_val)
    if len(src) < 2:
        raise UserError(f"fra-eng: {path} has {len(src)} tab-separated sentence pairs, need at least 2")
    num_train = min(num_train, len(src) - 1)
    src_vocab = build_vocab((t for s in src for t in s), RESERVED, min_freq=2)
    tgt_vocab = build_vocab((t for s in tgt for t in s), RESERVED, min_freq=2)
    return pairs_module(cfg, task, src, tgt, src_vocab, tgt_vocab, num_train, {"source": str(path)})
