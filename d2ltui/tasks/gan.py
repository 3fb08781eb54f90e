"""The GAN task: the book's update_D then update_G each step, two optimizers, losses and samples of both nets."""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from d2ltui.errors import UserError
from d2ltui.optim.optimization import Optimization
from d2ltui.tasks.base import EVAL_BATCH, StepContext, StepStats, Task

SAMPLE_POINTS = 100  # real and generated points of the scatter (the book plots 100 of each)
SAMPLE_IMAGES = 21  # generated images of the grid (the book's 3 x 7)
SAMPLE_SIDE = 32  # side the images are stored at in samples.json
INTERFACE = ("generator", "discriminator", "latent")  # what a GAN module exposes (adam_betas optional)


def bce_sum(logits: torch.Tensor, label: float) -> torch.Tensor:
    """The book's loss: BCEWithLogitsLoss(reduction='sum') against an all-`label` target."""
    logits = logits.float().reshape(-1)
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label), reduction="sum")


class GANTask(Task):
    """Generator and discriminator trained in turn on batches of real data (inputs only).

    A step is the book's update_D (real labelled 1, generated 0, the mean of the two losses) then
    update_G (generated labelled 1), each with its own optimizer: optim.lr for the discriminator,
    optim.lr_g (optim.lr when 0) for the generator. Train lines report loss_d and loss_g per example,
    and loss, their sum. Samples come from one latent batch fixed by the seed, so the same points or
    faces can be followed epoch by epoch.
    """

    name = "gan"

    def setup(self, ctx: StepContext) -> None:
        self.ctx = ctx
        model, optim = ctx.model, ctx.cfg.optim
        missing = [n for n in INTERFACE if not hasattr(model, n)]
        if missing:
            raise UserError(f"model.task=gan: {ctx.cfg.model.name} has no {', '.join(missing)}; a GAN module holds "
                            "generator and discriminator modules and latent(n, device, generator=None)")
        betas = getattr(model, "adam_betas", None) if optim.name in ("adam", "adamw") else None
        self.opt_d = Optimization(optim, model.discriminator.parameters(), ctx.total_steps, optim.lr, betas,
                                  ctx.steps_per_epoch, ctx.scaler())
        self.opt_g = Optimization(optim, model.generator.parameters(), ctx.total_steps, optim.lr_g or optim.lr, betas,
                                  ctx.steps_per_epoch, ctx.scaler())
        if isinstance(ctx.train_model, torch.nn.parallel.DistributedDataParallel):
            raise UserError("train.nproc: a GAN trains in one process (its two networks step in turn)")
        self.train_g, self.train_d = ctx.train_model.generator, ctx.train_model.discriminator
        fixed = torch.Generator().manual_seed(ctx.cfg.train.seed + 20)
        self.fixed_z = model.latent(max(SAMPLE_POINTS, SAMPLE_IMAGES), ctx.device, fixed)

    def losses(self, X: torch.Tensor, Z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss_D, loss_G) summed over the batch, without updates (validation)."""
        D, G = self.ctx.model.discriminator, self.ctx.model.generator
        fake = G(Z)
        loss_d = (bce_sum(D(X), 1.0) + bce_sum(D(fake), 0.0)) / 2
        return loss_d, bce_sum(D(fake), 1.0)

    def train_step(self, batch) -> StepStats:
        (X,) = batch
        n = len(X)
        Z = self.ctx.model.latent(n, X.device)
        D, G = self.train_d, self.train_g
        with self.ctx.autocast():  # update_D: G's output detached, so only D learns
            fake = G(Z)
            loss_d = (bce_sum(D(X), 1.0) + bce_sum(D(fake.detach()), 0.0)) / 2
        self.ctx.check(loss_d)
        self.opt_d.step(loss_d)
        with self.ctx.autocast():  # update_G: D recomputed on the same Z after its update
            loss_g = bce_sum(D(G(Z)), 1.0)
        self.ctx.check(loss_g)
        self.opt_g.step(loss_g)
        loss_d, loss_g = loss_d.detach() / n, loss_g.detach() / n
        return StepStats(loss_d + loss_g, n, None, n, {"loss_d": loss_d, "loss_g": loss_g})

    def lr(self) -> float:
        return self.opt_d.lr

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.ctx.model.state_dict(), **self.opt_d.state_dict(),
                "optimizer_g": self.opt_g.optimizer.state_dict(), "scheduler_g": self.opt_g.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ctx.model.load_state_dict(state["model"])
        self.opt_d.load_state_dict(state)
        self.opt_g.load_state_dict({"optimizer": state["optimizer_g"], "scheduler": state["scheduler_g"]})

    @torch.no_grad()
    def evaluate(self, model, prepare) -> dict[str, float]:
        """Both losses per example on the val split, latents from a generator fixed by the seed."""
        (val,) = self.data.val
        fixed = torch.Generator().manual_seed(self.ctx.cfg.train.seed + 21)
        total_d = total_g = 0.0
        for start in range(0, len(val), EVAL_BATCH):
            (X,) = prepare((val[start:start + EVAL_BATCH],), False)
            loss_d, loss_g = self.losses(X, model.latent(len(X), X.device, fixed))
            total_d, total_g = total_d + float(loss_d), total_g + float(loss_g)
        n = max(len(val), 1)
        return {"loss": (total_d + total_g) / n, "loss_d": total_d / n, "loss_g": total_g / n}

    @torch.no_grad()
    def samples(self, model, prepare) -> dict[str, Any]:
        fake = model.generator(self.fixed_z).float()
        if fake.dim() == 2:  # points: real against generated, the book's scatter
            (real,) = prepare((self.data.val[0][:SAMPLE_POINTS],), False)
            return {"kind": "gan-points", "real": _points(real), "generated": _points(fake[:SAMPLE_POINTS])}
        images = fake[:SAMPLE_IMAGES] / 2 + 0.5  # back from [-1, 1], as the book shows them
        if images.shape[-1] > SAMPLE_SIDE:
            images = F.adaptive_avg_pool2d(images, SAMPLE_SIDE)
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        pixels = images.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1)  # N, H, W, RGB
        return {"kind": "gan-images", "columns": 7, "items": [{"rgb": image.tolist()} for image in pixels]}


    @classmethod
    def hint(cls, card):
        return "give a whole number: the seed of the latent vector the generator turns into a sample"

    @classmethod
    def answer(cls, model, card, cfg, text):
        """A seed in, one generated sample out, said in words: a point, or an image's size and colours,
        and how real the discriminator finds it."""
        try:
            seed = int(text)
        except ValueError:
            raise UserError(f"input: {text!r} is not a whole number; {cls.hint(card)}") from None
        z = model.latent(1, "cpu", torch.Generator().manual_seed(seed))
        fake = model.generator(z).float()
        real = float(torch.sigmoid(model.discriminator(fake).float().reshape(-1)[0]))
        judged = f"the discriminator gives it {real:.0%} odds of being real"
        if fake.dim() == 2:
            point = [round(v, 4) for v in fake[0].tolist()]
            return {"task": cls.name, "input": text, "generated": point, "real_probability": round(real, 4),
                    "said": [f"seed {seed}: the generator draws the point ({', '.join(f'{v:.4f}' for v in point)}); "
                             f"{judged}"]}
        image = (fake[0] / 2 + 0.5).clamp(0, 1)  # back from [-1, 1]
        channels, height, width = image.shape
        mean = [round(v, 3) for v in image.mean((1, 2)).tolist()]
        colour = f"mean RGB ({', '.join(f'{v:.2f}' for v in mean)})" if channels == 3 else f"mean grey {mean[0]:.2f}"
        return {"task": cls.name, "input": text, "shape": [channels, height, width], "mean": mean,
                "real_probability": round(real, 4),
                "said": [f"seed {seed}: the generator draws a {width}x{height} "
                         f"{'colour' if channels == 3 else 'grey'} image, {colour}, "
                         f"{float(image.std()):.2f} contrast; {judged}"]}


def _points(x: torch.Tensor) -> list[list[float]]:
    return [[round(a, 4), round(b, 4)] for a, b in x[:, :2].float().tolist()]
