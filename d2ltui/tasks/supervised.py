"""Supervised learning on tensors: regression (the book's linear models, Kaggle house prices) and classification."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from d2ltui.data.base import DataModule
from d2ltui.data.thumbnails import thumbnails
from d2ltui.tasks import attention_maps, inputs
from d2ltui.tasks.base import EVAL_BATCH, Task


def features_hint(card: dict[str, Any]) -> str:
    return f"give {card['input_shape'][0][-1]} comma-separated numbers"


REGRESSION_FRACTION = 0.05  # a regression has learned once its val loss is below this share of the target variance


class Regression(Task):
    name = "regression"

    @classmethod
    def learning_bar(cls, data):
        """A val loss below REGRESSION_FRACTION of the target's variance."""
        return "loss", REGRESSION_FRACTION * float(data.val[-1].float().var())

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

    @classmethod
    def hint(cls, card):
        return features_hint(card)

    @classmethod
    def answer(cls, model, card, cfg, text):
        """Numbers in, the predicted value(s) out; attention pooling also gives its width and weights."""
        x = inputs.numbers(text, card["input_shape"][0][-1], cls.hint(card))
        if "pooling" in card:  # attention pooling: the query against every training point
            keys, vals = torch.tensor([card["pooling"]["keys"]]), torch.tensor([card["pooling"]["values"]])
            y = model(x, keys, vals).reshape(-1)
            pooled = attention_maps.kernel_regression(model, (x, keys, vals, y))
            return {"task": cls.name, "input": text, "predicted": round(float(y[0]), 4),
                    "width": pooled["width"], "attention": pooled["attention"]["maps"]}
        y = model(x).float()
        return {"task": cls.name, "input": text, "predicted": [round(v, 4) for v in y.reshape(-1).tolist()]}


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

    @classmethod
    def learning_bar(cls, data):
        """Accuracy at least twice chance (halfway from chance to perfect where that is lower: two classes)."""
        chance = 1 / (len(data.classes) or data.model_knobs["num_classes"])
        return "acc", min(2 * chance, (1 + chance) / 2)

    def loss(self, model, batch):
        inputs, y = self.inputs_target(batch)
        logits = model(*inputs).float()
        correct = (logits.argmax(1) == y).sum()
        return F.cross_entropy(logits, y), len(y), correct

    def summarise(self, loss, count, correct):
        return {"loss": loss / max(count, 1), "acc": correct / max(count, 1)}

    def label(self, i: int) -> str:
        return inputs.label(self.data.classes, i)

    @classmethod
    def hint(cls, card):
        return "give an image file's path" if len(card["input_shape"][0]) == 4 else features_hint(card)

    @classmethod
    def answer(cls, model, card, cfg, text):
        """An image file (or, for a features model, numbers) in, the top 5 classes out (and a ViT's attention)."""
        if len(card["input_shape"][0]) != 4:
            x = inputs.numbers(text, card["input_shape"][0][-1], cls.hint(card))
            return {"task": cls.name, "input": text, "top": inputs.top(model(x)[0], card["classes"])}
        path, x = inputs.image(text, card)
        out = {"task": cls.name, "input": str(path), "top": inputs.top(model(x)[0], card["classes"])}
        if (vit := attention_maps.vit_maps(model, 1)) is not None:
            out.update(attention=vit, image=thumbnails(x)[0])
        return out

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


