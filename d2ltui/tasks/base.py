"""The task interface: what the loop hands a task (StepContext) and what a task owns (Task)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from d2ltui.config.schema import RunConfig
from d2ltui.data.base import Batch, DataModule
from d2ltui.errors import UserError
from d2ltui.metrics import HIGHER_IS_BETTER
from d2ltui.optim.optimization import Optimization
from d2ltui.tasks.batches import DatasetBatches
from d2ltui.tasks.finetune import prepare_model

EVAL_BATCH = 512


@dataclass
class StepStats:
    """One step's report, left on the device: the mean loss, the units it averages over (an int, or a
    device tensor), correct predictions (or None), examples seen, and further named means (a GAN's
    two losses, an episode's return) averaged over the steps of the window."""

    loss: torch.Tensor
    count: int | torch.Tensor
    correct: torch.Tensor | None = None
    samples: int = 0
    extra: dict[str, torch.Tensor | float] = field(default_factory=dict)


@dataclass
class StepContext:
    """What the loop hands a task before training: the config, the model as checkpointed and evaluated,
    the model that trains (wrapped for data parallelism or compiled), the device, mixed precision, the
    planned number of steps, this rank's share of an order, whether images go channels-last, `check`,
    which a step calls on each loss before its optimizer steps (on the CPU a loss that is not finite then
    ends the run before it reaches the weights; elsewhere the loop checks one step later, without a sync),
    and `scaler`, which makes the loss scaler of one optimizer (fp16) or None."""

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
    scaler: Callable[[], Any] = lambda: None  # a new loss scaler for each optimizer (fp16, train.precision)


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
        """Whether a larger headline metric is better (d2ltui.metrics owns each metric's direction)."""
        return HIGHER_IS_BETTER[self.metric or "loss"]

    def headline(self) -> tuple[str, bool]:
        """(the validation value whose best the run keeps, whether higher is better): the metric, else the loss."""
        return self.metric or "loss", self.higher_is_better

    def __init__(self, data: DataModule) -> None:
        self.data = data

    # -- the training step -------------------------------------------------------------------------
    def setup(self, ctx: StepContext) -> None:
        """Bind the models and make the optimizers; the loop calls it once, before training."""
        self.ctx = ctx
        params = prepare_model(ctx.cfg, ctx.model, self.data.prepare)  # train.init_from, freeze, head lr
        self.optimization = Optimization(ctx.cfg.optim, params, ctx.total_steps, steps_per_epoch=ctx.steps_per_epoch,
                                         scaler=ctx.scaler())

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

    def summarise(self, loss: float, count: float, correct: float) -> dict[str, float]:
        """Metric values of a window from its summed statistics (a task that reports no `correct` ignores it)."""
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
        return self.summarise(loss_sum, count, correct)

    def samples(self, model: nn.Module, prepare) -> dict[str, Any]:
        return {}

    @classmethod
    def learning_bar(cls, data: Any) -> tuple[str, float] | None:
        """(val metric, threshold) beyond which a run on `data` (a DataModule) has clearly learned; None when
        the task has no such measure."""
        return None

    # -- a user's own input (`predict`), from a run's checkpoint on the CPU --------------------------
    @classmethod
    def hint(cls, card: dict[str, Any]) -> str:
        """What input the task answers, in a few words (the ask box's placeholder, the empty-input error)."""
        return f"a {cls.name} run answers no input of yours"

    @classmethod
    def answer(cls, model: nn.Module, card: dict[str, Any], cfg: RunConfig, text: str) -> dict[str, Any]:
        """The model's answer to `text` as plain JSON (under no_grad, `model` in eval mode): the keys
        engine/analysis/predict.py `answer_lines` reads, or `said` (lines in words); a UserError when it
        cannot answer."""
        raise UserError(f"predict: {cls.hint(card)}")




def make_task(data: DataModule) -> Task:
    """The task that trains on `data`, from its spec (its module is imported now)."""
    from d2ltui.tasks.spec import task_spec

    return task_spec(data.task).task_class()(data)
