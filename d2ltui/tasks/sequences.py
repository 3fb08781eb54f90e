"""Sequences: language models (perplexity, greedy continuation) and seq2seq (BLEU, greedy decoding)."""

from __future__ import annotations

import math
from collections import Counter

import torch
from torch import nn
from torch.nn import functional as F

from d2ltui.data.seq2seq import preprocess as sentence_preprocess
from d2ltui.data.suggested import reference as book_reference
from d2ltui.data.text import preprocess as text_preprocess
from d2ltui.errors import UserError
from d2ltui.tasks import attention_maps
from d2ltui.tasks.base import Task
from d2ltui.zoo.build import BOS, EOS, PAD, UNK

LM_PREDICTIONS = 60  # tokens a language model adds to a user's prefix


def join_tokens(tokens: list[str]) -> str:
    return "".join(tokens) if all(len(t) <= 1 for t in tokens) else " ".join(tokens)


class LanguageModel(Task):
    name = "language-model"
    metric = "ppl"

    @classmethod
    def learning_bar(cls, data):
        """Perplexity at most half the vocabulary."""
        return "ppl", len(data.vocab) / 2

    def loss(self, model, batch):
        (X,), Y = self.inputs_target(batch)
        logits = model(X).float()
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1)), Y.numel(), None

    def summarise(self, loss, count, correct):
        mean = loss / max(count, 1)
        return {"loss": mean, "ppl": math.exp(min(mean, 50.0))}

    @torch.no_grad()
    def samples(self, model, prepare, prefix_len: int = 10, num_preds: int = 60):
        vocab = self.data.vocab
        rows = self.data.val[0][:2, :prefix_len]
        out = []
        for row in rows.tolist():
            ids = greedy_continue(model, row, num_preds)
            out.append({"prefix": join_tokens([vocab[i] for i in row]),
                        "continuation": join_tokens([vocab[i] for i in ids[len(row):]])})
        return {"kind": "text", "items": out}

    @classmethod
    def hint(cls, card):
        return "type the start of a text to continue"

    @classmethod
    def answer(cls, model, card, cfg, text):
        """A prefix in (characters or words, as the run's vocabulary), its greedy continuation out."""
        vocab = card["vocab"]
        char_level = all(len(t) <= 1 for t in vocab if t != "<unk>")
        tokens = list(text_preprocess(text)) if char_level else text.lower().split()
        if not "".join(tokens).strip():
            raise UserError(f"input: {text!r} has no letters the model reads; {cls.hint(card)}")
        ids, unknown = token_ids(tokens, vocab)
        out = greedy_continue(model, ids, LM_PREDICTIONS)
        return {"task": cls.name, "input": text, "tokens": tokens, "unknown": unknown,
                "prefix": join_tokens([vocab[i] for i in ids]),
                "continuation": join_tokens([vocab[i] for i in out[len(ids):]])}


def token_ids(tokens: list[str], vocab: list[str]) -> tuple[list[int], list[str]]:
    """Token ids, unknown tokens as <unk> (and the list of them)."""
    index = {t: i for i, t in enumerate(vocab)}
    unk = index.get("<unk>", UNK)
    return [index.get(t, unk) for t in tokens], [t for t in tokens if t not in index]


@torch.no_grad()
def greedy_continue(model: nn.Module, prefix: list[int], num_preds: int) -> list[int]:
    """The prefix followed by num_preds greedily predicted ids (the model's own predict when it has one)."""
    if hasattr(model, "predict"):
        return list(model.predict(list(prefix), num_preds))
    device = next(model.parameters()).device
    ids = list(prefix)
    for _ in range(num_preds):
        ids.append(int(model(torch.tensor([ids], device=device))[0, -1].argmax()))
    return ids


class Seq2Seq(Task):
    name = "seq2seq"
    metric = "bleu"
    bleu_examples = 128  # greedy decoding of this many val pairs per validation

    @classmethod
    def learning_bar(cls, data):
        return "bleu", 0.3

    def loss(self, model, batch):
        src, tgt = batch
        tgt_in = torch.cat([torch.full_like(tgt[:, :1], BOS), tgt[:, :-1]], 1)
        logits = model(src, tgt_in).float()
        mask = tgt != PAD
        losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), reduction="none")
        count = mask.sum()
        return (losses * mask.reshape(-1)).sum() / count.clamp_min(1), count, None

    def summarise(self, loss, count, correct):
        mean = loss / max(count, 1)
        return {"loss": mean, "ppl": math.exp(min(mean, 50.0))}

    def evaluate(self, model, prepare):
        out = super().evaluate(model, prepare)
        src, tgt = prepare(tuple(t[:self.bleu_examples] for t in self.data.val), False)
        preds = greedy_decode(model, src, tgt.shape[1])
        scores = [bleu(p, strip(t), k=2) for p, t in zip(preds, tgt.tolist())]
        out["bleu"] = sum(scores) / max(len(scores), 1)
        return out

    @torch.no_grad()
    def samples(self, model, prepare, count: int = 5):
        src, tgt = prepare(tuple(t[:count] for t in self.data.val), False)
        preds = greedy_decode(model, src, tgt.shape[1])
        src_vocab = self.data.src_vocab or self.data.vocab
        items = []
        for s, p, t in zip(src.tolist(), preds, tgt.tolist()):
            ref = strip(t)
            items.append({"source": join_tokens([src_vocab[i] for i in strip(s)]),
                          "predicted": join_tokens([self.data.vocab[i] for i in p]),
                          "target": join_tokens([self.data.vocab[i] for i in ref]),
                          "bleu": round(bleu(p, ref, k=2), 3)})
        maps = attention_maps.seq2seq_maps(model, src, preds, src_vocab, self.data.vocab)
        return {"kind": "translations", "items": items, **({"attention": {"maps": maps}} if maps else {})}

    @classmethod
    def hint(cls, card):
        return "type a sentence to translate"

    @classmethod
    def answer(cls, model, card, cfg, text):
        """A sentence in, its greedy translation and attention maps out (and the book's reference and BLEU)."""
        src_vocab, tgt_vocab = card["src_vocab"] or card["vocab"], card["vocab"]
        char_level = all(len(t) <= 1 for t in src_vocab[4:])
        tokens = list(text) if char_level else sentence_preprocess(text).split()
        steps = cfg.data.num_steps
        if len(tokens) > steps - 1:
            raise UserError(f"input: {len(tokens)} tokens, this run reads at most {steps - 1} "
                            f"(data.num_steps={steps} counts <eos>)")
        ids, unknown = token_ids(tokens, src_vocab)
        src = torch.tensor([ids + [EOS] + [PAD] * (steps - len(ids) - 1)])
        pred = greedy_decode(model, src, steps)[0]
        words = [tgt_vocab[i] for i in pred]
        out = {"task": cls.name, "input": text, "tokens": tokens, "unknown": unknown,
               "translation": join_tokens(words),
               "attention": attention_maps.seq2seq_maps(model, src, [pred], src_vocab, tgt_vocab)}
        reference = book_reference(card.get("name"), " ".join(tokens))
        if reference:
            out.update(reference=reference, bleu=round(bleu(words, reference.split(), k=2), 3))
        return out


def strip(ids: list[int]) -> list[int]:
    """Token ids up to the first EOS, without PAD/BOS."""
    out = []
    for i in ids:
        if i == EOS:
            break
        if i not in (PAD, BOS):
            out.append(i)
    return out


@torch.no_grad()
def greedy_decode(model: nn.Module, src: torch.Tensor, max_len: int) -> list[list[int]]:
    """Greedy decoding of a batch from BOS (re-running the decoder on the prefix), cut at EOS."""
    was_training = model.training
    model.eval()
    dec = torch.full((len(src), 1), BOS, dtype=torch.long, device=src.device)
    done = torch.zeros(len(src), dtype=torch.bool, device=src.device)
    for _ in range(max_len):
        nxt = model(src, dec)[:, -1].argmax(-1)
        dec = torch.cat([dec, nxt[:, None]], 1)
        done |= nxt == EOS
        if bool(done.all()):
            break
    model.train(was_training)
    return [strip(row) for row in dec[:, 1:].tolist()]


def bleu(pred: list, label: list, k: int = 2) -> float:
    """The book's BLEU (section 10.7.6): brevity penalty times n-gram precisions weighted by 1/2^n."""
    len_pred, len_label = len(pred), len(label)
    if len_pred == 0:
        return 0.0
    score = math.exp(min(0.0, 1 - len_label / len_pred))
    for n in range(1, min(k, len_pred) + 1):
        num_matches = 0
        label_subs = Counter(tuple(label[i:i + n]) for i in range(len_label - n + 1))
        for i in range(len_pred - n + 1):
            gram = tuple(pred[i:i + n])
            if label_subs[gram] > 0:
                num_matches += 1
                label_subs[gram] -= 1
        score *= math.pow(num_matches / (len_pred - n + 1), math.pow(0.5, n))
    return score


