"""Task-aware losses, metrics and samples: regression, classification, language models, seq2seq."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn
from torch.nn import functional as F

from d2ltui.config.schema import RunConfig
from d2ltui.data.base import Batch, DataModule
from d2ltui.engine import attention_maps
from d2ltui.data.thumbnails import thumbnails
from d2ltui.engine.batches import DatasetBatches
from d2ltui.engine.finetune import prepare_model
from d2ltui.engine.optim import Optimization
from d2ltui.engine.window import StepStats
from d2ltui.metrics import HIGHER_IS_BETTER
from d2ltui.zoo.build import BOS, EOS, PAD

EVAL_BATCH = 512


@dataclass
class StepContext:
    """What the loop hands a task before training: the config, the model as checkpointed and evaluated,
    the model that trains (wrapped for data parallelism or compiled), the device, mixed precision, the
    planned number of steps, this rank's share of an order, whether images go channels-last, and `check`,
    which a step calls on each loss before its optimizer steps (on the CPU a loss that is not finite then
    ends the run before it reaches the weights; elsewhere the loop checks one step later, without a sync)."""

    cfg: RunConfig
    model: nn.Module
    train_model: nn.Module
    device: torch.device
    autocast: Callable[[], Any]
    total_steps: int
    shard: Callable[[torch.Tensor], torch.Tensor]
    channels_last: bool = False
    check: Callable[[torch.Tensor], None] = lambda loss: None
    steps_per_epoch: int = 1  # epoch-based schedules (factor, multi-factor) count these


class Task:
    """A task owns its training step (`train_step`) and reports: the loss and on-device statistics of
    one batch, validation metrics, samples; and what it adds to a checkpoint.

    The default step is supervised learning: one model, one loss, one optimizer over batches of a
    dataset. A task with other needs (several models and optimizers, episodes of an environment)
    overrides `setup`, `batches`, `train_step`, `state_dict` and `load_state_dict`.
    """

    name = ""
    metric: str | None = None  # the headline metric besides the loss: acc, ppl or bleu

    @property
    def higher_is_better(self) -> bool:
        """Whether a larger headline metric is better (rundir.index.HIGHER_IS_BETTER)."""
        return HIGHER_IS_BETTER[self.metric or "loss"]

    def __init__(self, data: DataModule) -> None:
        self.data = data

    # -- the training step -------------------------------------------------------------------------
    def setup(self, ctx: StepContext) -> None:
        """Bind the models and make the optimizers; the loop calls it once, before training."""
        self.ctx = ctx
        params = prepare_model(ctx.cfg, ctx.model, self.data.prepare)  # train.init_from, freeze, head lr
        self.optimization = Optimization(ctx.cfg.optim, params, ctx.total_steps, steps_per_epoch=ctx.steps_per_epoch)

    def batches(self) -> DatasetBatches:
        """The source of training batches (after `setup`)."""
        ctx = self.ctx
        return DatasetBatches(self.data, ctx.cfg.data.batch_size, ctx.shard, ctx.device, ctx.channels_last)

    def train_step(self, batch: Batch) -> StepStats:
        """One optimizer step on `batch`; the statistics stay on the device."""
        with self.ctx.autocast():
            loss, count, correct = self.loss(self.ctx.train_model, batch)
        self.ctx.check(loss)
        self.optimization.step(loss)
        return StepStats(loss.detach(), count, correct, len(batch[0]))

    def lr(self) -> float:
        return self.optimization.lr

    def state_dict(self) -> dict[str, Any]:
        """Every model and optimizer the task trains, and the data preparation's generator, for the checkpoint."""
        state = {"model": self.ctx.model.state_dict(), **self.optimization.state_dict()}
        if hasattr(self.data.prepare, "state_dict"):  # augmentation draws (data/transforms.py)
            state["prepare"] = self.data.prepare.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ctx.model.load_state_dict(state["model"])
        self.optimization.load_state_dict(state)
        if "prepare" in state and hasattr(self.data.prepare, "load_state_dict"):
            self.data.prepare.load_state_dict(state["prepare"])

    # -- losses, validation, samples ---------------------------------------------------------------

    def inputs_target(self, batch: Batch) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        return batch[:-1], batch[-1]

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, int | torch.Tensor, torch.Tensor | None]:
        """(mean loss, the units it averages over (an int, or a device tensor), correct predictions or None)."""
        raise NotImplementedError

    def summarise(self, loss: float, count: float, correct: float | None) -> dict[str, float]:
        """Metric values of a window from summed statistics."""
        return {"loss": loss / max(count, 1)}

    @torch.no_grad()
    def evaluate(self, model: nn.Module, prepare) -> dict[str, float]:
        """Validation loss and metrics over the whole val split, one host sync at the end."""
        val = self.data.val
        total = torch.zeros(3, device=val[0].device, dtype=torch.float64)
        n = len(val[0])
        for start in range(0, n, EVAL_BATCH):
            batch = prepare(tuple(t[start:start + EVAL_BATCH] for t in val), False)
            loss, count, correct = self.loss(model, batch)
            total[0] += loss.double() * count
            total[1] += count
            if correct is not None:
                total[2] += correct
        loss_sum, count, correct = total.tolist()
        return self.summarise(loss_sum, count, correct if self.metric == "acc" else None)

    def samples(self, model: nn.Module, prepare) -> dict[str, Any]:
        return {}


class Regression(Task):
    name = "regression"

    def __init__(self, data: DataModule) -> None:
        super().__init__(data)
        if data.info.get("target_transform") == "log":  # the Kaggle measure on a log-price target
            self.metric = "log_rmse"

    def loss(self, model, batch):
        inputs, y = self.inputs_target(batch)
        out = model(*inputs).reshape(y.shape).float()
        return F.mse_loss(out, y.float()), len(y), None

    @torch.no_grad()
    def evaluate(self, model, prepare):
        out = super().evaluate(model, prepare)
        if self.metric == "log_rmse":
            preds, targets = [], []
            for start in range(0, len(self.data.val[0]), EVAL_BATCH):
                *inputs, y = prepare(tuple(t[start:start + EVAL_BATCH] for t in self.data.val), False)
                preds.append(model(*inputs).reshape(y.shape).float())
                targets.append(y.float())
            out["log_rmse"] = log_rmse(torch.cat(preds), torch.cat(targets), log_space=True) if preds else 0.0
        return out

    @torch.no_grad()
    def samples(self, model, prepare):
        *inputs, y = prepare(tuple(t[:8] for t in self.data.val), False)
        out = {"kind": "regression",
               "predictions": [{"predicted": round(float(p), 4), "true": round(float(t), 4)}
                               for p, t in zip(model(*inputs).reshape(-1).tolist(), y.reshape(-1).tolist())]}
        if (pooling := attention_maps.kernel_regression(model, prepare(self.data.val, False))) is not None:
            return {**out, **pooling}
        linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
        if len(linear) == 1 and linear[0].out_features == 1:
            out.update(kind="linear-regression", **self.weights(linear[0], prepare))
        return out

    def weights(self, layer: nn.Linear, prepare) -> dict[str, Any]:
        """Learned, true (when the data knows them) and least-squares weights and bias."""
        X, y = prepare(self.data.train, False)
        X = X.reshape(len(X), -1).double()
        design = torch.cat([X, torch.ones(len(X), 1, dtype=X.dtype, device=X.device)], 1)
        solution = torch.linalg.lstsq(design.cpu(), y.reshape(-1, 1).double().cpu()).solution.reshape(-1)
        info = self.data.info
        return {"learned": {"w": layer.weight.reshape(-1).tolist(), "b": float(layer.bias.reshape(-1)[0])},
                "analytic": {"w": solution[:-1].tolist(), "b": float(solution[-1])},
                "true": {"w": list(info["true_w"]), "b": float(info["true_b"])} if "true_w" in info else None}


def log_rmse(preds: torch.Tensor, labels: torch.Tensor, log_space: bool = False) -> float:
    """The book's log_rmse, sqrt(mean((log(clamp(pred, 1)) - log(label))^2)), the Kaggle measure.

    `log_space`: preds and labels are already log prices (the target is log(price)); clamping
    the price at 1 is then clamping its log at 0, and the labels' log is the labels.
    """
    if log_space:
        diff = preds.double().clamp(min=0.0) - labels.double()
    else:
        diff = torch.log(preds.double().clamp(min=1.0)) - torch.log(labels.double())
    return float(torch.sqrt(torch.mean(diff ** 2)))


class Classification(Task):
    name = "classification"
    metric = "acc"

    def loss(self, model, batch):
        inputs, y = self.inputs_target(batch)
        logits = model(*inputs).float()
        correct = (logits.argmax(1) == y).sum()
        return F.cross_entropy(logits, y), len(y), correct

    def summarise(self, loss, count, correct):
        out = {"loss": loss / max(count, 1)}
        if correct is not None:
            out["acc"] = correct / max(count, 1)
        return out

    def label(self, i: int) -> str:
        return self.data.classes[i] if i < len(self.data.classes) else str(i)

    @torch.no_grad()
    def samples(self, model, prepare):
        X, y = prepare(tuple(t[:8] for t in self.data.val), False)
        probs = model(X).float().softmax(1)
        conf, pred = probs.max(1)
        items = [{"predicted": self.label(p), "true": self.label(t), "confidence": round(c, 3)}
                 for p, t, c in zip(pred.tolist(), y.tolist(), conf.tolist())]
        if X.dim() == 4:
            for item, image in zip(items, thumbnails(X)):
                item["image"] = image
            attention = attention_maps.vit_maps(model)  # the class token's attention in that forward pass
            return {"kind": "images", "items": items, **({"attention": attention} if attention else {})}
        if X.dim() == 2 and X.shape[1] == 2:
            return {"kind": "points", "items": items, **self.boundary(model, prepare)}
        return {"kind": "predictions", "items": items}

    def boundary(self, model, prepare, size: int = 32) -> dict[str, Any]:
        """Predicted classes on a size x size grid over the data, plus a few labelled points."""
        X, y = prepare(self.data.val, False)
        lo, hi = X.min(0).values - 0.2, X.max(0).values + 0.2
        xs = torch.linspace(float(lo[0]), float(hi[0]), size, device=X.device)
        ys = torch.linspace(float(lo[1]), float(hi[1]), size, device=X.device)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2)
        classes = model(grid).argmax(1).reshape(size, size)
        return {"grid": {"x": [round(v, 3) for v in xs.tolist()], "y": [round(v, 3) for v in ys.tolist()],
                         "classes": classes.tolist()},
                "points": [[round(a, 3), round(b, 3), int(c)] for (a, b), c in zip(X[:200].tolist(), y[:200].tolist())]}


def join_tokens(tokens: list[str]) -> str:
    return "".join(tokens) if all(len(t) <= 1 for t in tokens) else " ".join(tokens)


class LanguageModel(Task):
    name = "language-model"
    metric = "ppl"

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


TASKS = {t.name: t for t in (Regression, Classification, LanguageModel, Seq2Seq)}
# Tasks in modules of their own, imported when a run needs them.
TASK_MODULES = {"detection": "d2ltui.engine.detection:Detection", "gan": "d2ltui.engine.gan_task:GANTask",
                "value-iteration": "d2ltui.engine.rl_tasks:ValueIteration",
                "q-learning": "d2ltui.engine.rl_tasks:QLearning"}


def make_task(data: DataModule) -> Task:
    if data.task in TASK_MODULES:
        import importlib

        module, _, cls = TASK_MODULES[data.task].partition(":")
        return getattr(importlib.import_module(module), cls)(data)
    return TASKS[data.task](data)
