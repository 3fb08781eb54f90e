"""The training loop: whole datasets on the device sliced by a seeded shuffled index, checkpointed, resumable.

`fit(cfg, run, subscribers, ...)` trains one job and reports through plain events (events.py);
the run directory is written by the Recorder subscriber on rank 0. The hot path syncs with the
host only when it logs (every train.log_every steps) and, on the CPU, to check the loss is finite.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from d2ltui.config.schema import RunConfig
from d2ltui.data.base import DataModule
from d2ltui.engine import events as ev
from d2ltui.engine.checkpoint import save_checkpoint
from d2ltui.engine.control import Control
from d2ltui.engine.devices import resolve_device
from d2ltui.config.resolve import merge_data_knobs
from d2ltui.engine.optim import make_optimizer, make_scheduler
from d2ltui.engine.recorder import Recorder
from d2ltui.rundir.store import CHECKPOINT, RunDir
from d2ltui.engine.tasks import make_task
from d2ltui.zoo.build import build_model
from d2ltui.zoo.registry import get_spec

try:  # data-parallel helpers; a single process needs none of them
    from d2ltui.engine import distributed as _dist
except ImportError:  # pragma: no cover
    _dist = None


@dataclass
class SingleProcess:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device | None = None
    is_main: bool = True
    distributed: bool = False


@dataclass
class FitResult:
    """How a run ended: state (finished, stopped, failed, diverged), message, where, and what it reached."""

    state: str
    message: str
    step: int
    epoch: int
    val: dict[str, float] = field(default_factory=dict)
    best: dict[str, Any] | None = None
    model: nn.Module | None = None
    first_step_s: float | None = None  # from fit() to the end of the first optimizer step

    @property
    def exit_code(self) -> int:
        return 0 if self.state == "finished" else 1


class Diverged(Exception):
    pass


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Batches per epoch: the last partial batch is kept unless it would hold a single example."""
    full, rest = divmod(n, batch_size)
    return max(1, full + (1 if rest > 1 or full == 0 else 0))


def validated(state: dict[str, Any]) -> bool:
    """Whether a checkpoint was taken after the validation at its own step (a step checkpoint at an
    epoch's end precedes it); checkpoints that do not say are taken to have been."""
    return int(state.get("val_step", state["step"])) == int(state["step"])


def check_world_size(state: dict[str, Any], world_size: int) -> None:
    """A run resumes only with as many processes as it was trained with (its shards and shuffles depend on it)."""
    trained = int(state.get("world_size", 1))
    if trained != world_size:
        from d2ltui.errors import UserError
        raise UserError(f"--nproc: this run was trained by {trained} process{'es' if trained > 1 else ''} in all; "
                        f"resume it with as many (--nproc {trained} on one node), not {world_size}")


def fit(cfg: RunConfig, run: RunDir | None = None, subscribers: list[ev.Subscriber] | tuple = (),
        control: Control | None = None, data: DataModule | None = None, resume: dict[str, Any] | None = None,
        dist_info: Any = None) -> FitResult:
    """Train `cfg` (on `data` when given, else `load_data`), optionally from a `resume` checkpoint state."""
    try:
        loop = Loop(cfg, run, subscribers, control or Control(), data, dist_info)
    except Exception as err:
        if run is not None and (dist_info is None or dist_info.is_main):
            run.write_status("failed", str(err).splitlines()[0][:300] if str(err) else type(err).__name__)
        raise
    return loop.run(resume)


class Loop:
    """One training job; `run()` drives epochs, logging, validation, samples and checkpoints."""

    def __init__(self, cfg, run, subscribers, control, data, dist_info) -> None:
        self.t0 = time.perf_counter()
        self.elapsed_before = 0.0  # training time of the run before this process (when resumed)
        self.cfg, self.run_dir, self.control = cfg, run, control
        self.info = dist_info or SingleProcess()
        self.bus = ev.EventBus(subscribers)
        if run is not None and self.info.is_main:
            self.bus.subscribe(Recorder(run))
        self.device = self.info.device or resolve_device(cfg.train.device)
        torch.manual_seed(cfg.train.seed)
        self.spec = get_spec(cfg.model.name)
        if data is None:
            from d2ltui.data.registry import load_data
            data = load_data(cfg.data, self.spec.task, self.device)
        self.data = data.to(self.device)
        knobs = merge_data_knobs(cfg, self.spec, data.model_knobs, data.name)
        self.model = build_model(self.spec, knobs, data.input_shape, self.device)
        cuda = self.device.type == "cuda"
        self.channels_last = cuda and cfg.train.channels_last and data.train[0].dim() == 4
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        amp = cfg.train.amp == "bf16" or (cfg.train.amp == "auto" and cuda)
        self.autocast = (lambda: torch.autocast(self.device.type, dtype=torch.bfloat16)) if amp \
            else contextlib.nullcontext
        self.task = make_task(data)
        self.batch_size = cfg.data.batch_size
        n_rank = len(self.shard(torch.arange(data.num_train)))
        self.spe = steps_per_epoch(n_rank, self.batch_size)
        self.total_steps = self.spe * cfg.train.epochs
        if cfg.train.max_steps:
            self.total_steps = min(self.total_steps, cfg.train.max_steps)
        self.optimizer = make_optimizer(cfg.optim, self.model.parameters())
        self.scheduler = make_scheduler(cfg.optim, self.optimizer, self.total_steps)
        self.scheduled = cfg.optim.schedule != "none" or cfg.optim.warmup_steps > 0  # else the lr is constant
        self.train_model = _dist.wrap_model(self.model, self.info) if self.info.distributed else self.model
        if cfg.train.compile:
            self.train_model = torch.compile(self.train_model)
        self.gen = torch.Generator().manual_seed(cfg.train.seed)  # the epochs' shuffles
        self.step, self.epoch, self.pos, self.perm = 0, 0, 0, None
        self.best: dict[str, Any] | None = None
        self.last_val: dict[str, float] = {}
        self.val_step = -1  # the step of the last validation (a resumed run must not repeat it)
        self.first_step_s: float | None = None
        self.check_now = self.device.type == "cpu"  # elsewhere the finite check lags one step (no sync)
        self.pending: tuple[torch.Tensor, int, float] | None = None

    # -- helpers -------------------------------------------------------------------------------
    def shard(self, perm: torch.Tensor) -> torch.Tensor:
        return _dist.shard_indices(perm, self.info) if self.info.distributed else perm

    def progress(self) -> dict[str, Any]:
        return {"step": self.step, "epoch": self.epoch, "total_steps": self.total_steps,
                "total_epochs": self.cfg.train.epochs, "best": self.best}

    def status(self, state: str, message: str = "") -> None:
        self.bus.emit(ev.Status(state, message, self.progress()))

    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def wall(self) -> float:
        return round(self.elapsed_before + time.perf_counter() - self.t0, 3)

    def reduce(self, values: dict[str, float]) -> dict[str, float]:
        return _dist.reduce_mean(values, self.info) if self.info.distributed else values

    def intents(self) -> tuple[bool, bool]:
        """(stop, pause) as all ranks agree: a flag set on any rank holds on every rank (one collective)."""
        flags = (self.control.stop.is_set(), self.control.paused.is_set())
        return _dist.any_ranks(flags, self.info) if self.info.distributed else flags

    def stop_requested(self) -> bool:
        return self.intents()[0]

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "scheduler": self.scheduler.state_dict(), "step": self.step, "epoch": self.epoch,
                 "pos": self.pos, "perm": self.perm, "generator": self.gen.get_state(),
                 "rng_cpu": torch.get_rng_state(), "best": self.best, "model_name": self.cfg.model.name,
                 "elapsed": self.wall(), "world_size": self.info.world_size, "val_step": self.val_step}
        if torch.cuda.is_available():
            state["rng_cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        if state.get("model_name", self.cfg.model.name) != self.cfg.model.name:
            from d2ltui.errors import UserError
            raise UserError(f"checkpoint holds model {state.get('model_name')}, the config {self.cfg.model.name}")
        check_world_size(state, self.info.world_size)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.epoch, self.pos = int(state["step"]), int(state["epoch"]), int(state["pos"])
        self.perm = state.get("perm")
        self.best = state.get("best")
        self.elapsed_before = float(state.get("elapsed", 0.0))
        self.val_step = self.step if validated(state) else int(state["val_step"])
        self.gen.set_state(state["generator"])
        torch.set_rng_state(state["rng_cpu"])
        if state.get("rng_cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng_cuda"])

    def checkpoint(self) -> None:
        if self.run_dir is None or not self.info.is_main:
            return
        path = self.run_dir.path / CHECKPOINT
        try:
            save_checkpoint(path, self.state_dict())
        except OSError as err:
            message = f"checkpoint at step {self.step} not written ({err.strerror or err}); the previous one is kept"
            self.bus.emit(ev.Checkpointed(self.step, self.epoch, str(path), message))
            self.status("running", message)
            return
        self.bus.emit(ev.Checkpointed(self.step, self.epoch, str(path)))

    # -- the loop ------------------------------------------------------------------------------
    def run(self, resume: dict[str, Any] | None) -> FitResult:
        if resume is not None:
            self.load_state(resume)
        params = sum(p.numel() for p in self.model.parameters())
        self.bus.emit(ev.Started(self.run_dir.id if self.run_dir else "-", self.cfg.model.name, self.data.name,
                                 self.task.name, str(self.device), params, self.spe, self.total_steps,
                                 self.cfg.train.epochs, self.step, self.info.world_size))
        self.status("running", f"resumed at step {self.step}" if resume is not None else "training")
        try:
            return self.train()
        except Diverged as err:
            return self.end("diverged", str(err))
        except torch.cuda.OutOfMemoryError:
            half = max(1, self.batch_size // 2)
            return self.end("failed", f"CUDA out of memory on {self.device} at data.batch_size={self.batch_size}; "
                                      f"try --set data.batch_size={half}")
        except Exception as err:
            self.end("failed", f"{type(err).__name__}: {err}".splitlines()[0][:300])
            raise

    def end(self, state: str, message: str) -> FitResult:
        self.status(state, message)
        return FitResult(state, message, self.step, self.epoch, self.last_val, self.best, self.model,
                         self.first_step_s)

    def train(self) -> FitResult:
        cfg = self.cfg.train
        max_steps = cfg.max_steps or math.inf
        if self.step >= max_steps and self.val_step != self.step:  # killed between the last step and its validation
            self.validate()
            if self.pos >= self.spe:
                self.epoch, self.pos, self.perm = self.epoch + 1, 0, None
            self.checkpoint()
        while self.epoch < cfg.epochs and self.step < max_steps:
            if self.perm is None:
                self.perm = torch.randperm(self.data.num_train, generator=self.gen)
            stopped = self.train_epoch(max_steps)
            if stopped:
                self.checkpoint()
                return self.end("stopped", f"stopped at step {self.step} (epoch {self.epoch + 1}); "
                                           f"resume with `d2l-tui train --resume {self.run_id()}`")
            self.flush_check()
            if self.pos < self.spe:  # max_steps reached inside the epoch: validate, keep the position
                self.validate()
                self.checkpoint()
                break
            self.validate()
            self.epoch, self.pos, self.perm = self.epoch + 1, 0, None
            self.checkpoint()
            self.status("running", f"epoch {self.epoch} of {cfg.epochs} done")
        done = f"finished at step {self.step}, epoch {min(self.epoch + (self.pos > 0), cfg.epochs)}"
        if self.best:
            done += f"; best val {self.best['metric']} {self.best['value']:.4g} (epoch {self.best['epoch']})"
        return self.end("finished", done)

    def run_id(self) -> str:
        return self.run_dir.id if self.run_dir else "RUN"

    def train_epoch(self, max_steps: float) -> bool:
        """Train from self.pos to the epoch's end (or max_steps); True when a stop was requested."""
        data, bs, log_every = self.data, self.batch_size, self.cfg.train.log_every
        ckpt_every, clip = self.cfg.train.checkpoint_every, self.cfg.optim.clip
        index = self.shard(self.perm).to(self.device)
        window = torch.zeros(3, device=self.device, dtype=torch.float64)
        win_samples, win_count, win_t = 0, 0, time.perf_counter()
        self.train_model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        for b in range(self.pos, self.spe):
            idx = index[b * bs:(b + 1) * bs]
            rows = tuple(t.index_select(0, idx) for t in data.train)  # whole-row copies: faster than t[idx]
            batch = data.prepare(rows, True)
            if self.channels_last:
                batch = (batch[0].contiguous(memory_format=torch.channels_last), *batch[1:])
            with self.autocast():
                loss, count, correct = self.task.loss(self.train_model, batch)
            if self.check_now and not math.isfinite(loss.detach().item()):
                self.diverge(loss, self.step + 1)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(params, clip)
            self.optimizer.step()
            if self.scheduled:
                self.scheduler.step()
            self.step, self.pos = self.step + 1, b + 1
            if not self.check_now:
                self.lagged_check(loss.detach())
            if isinstance(count, int):  # the usual case: no extra device work for the count
                window[0].add_(loss.detach(), alpha=count)
                win_count += count
            else:
                window[0].add_(loss.detach() * count)
                window[1].add_(count)
            if correct is not None:
                window[2].add_(correct)
            win_samples += len(idx)
            if self.first_step_s is None:
                self.first_step_s = time.perf_counter() - self.t0
            if self.step % log_every == 0:
                now = time.perf_counter()
                self.log_train(window, win_count, win_samples / max(now - win_t, 1e-9))
                window.zero_()
                win_samples, win_count, win_t = 0, 0, now
            if ckpt_every and self.step % ckpt_every == 0:
                self.checkpoint()
            stop, paused = self.intents()
            if stop:
                return True
            if paused:
                self.pause()
                if self.stop_requested():
                    return True
                win_samples, win_t = 0, time.perf_counter()
            if self.step >= max_steps:
                break
        if self.spe < log_every and win_samples:  # epochs shorter than log_every still get a train line
            self.log_train(window, win_count, win_samples / max(time.perf_counter() - win_t, 1e-9))
        return False

    def lagged_check(self, loss: torch.Tensor) -> None:
        previous, self.pending = self.pending, (loss, self.step, self.lr())
        if previous is not None and not bool(torch.isfinite(previous[0])):
            self.diverge(*previous)

    def flush_check(self) -> None:
        if self.pending is not None:
            loss, step, lr = self.pending
            self.pending = None
            if not bool(torch.isfinite(loss)):
                self.diverge(loss, step, lr)

    def diverge(self, loss: torch.Tensor, step: int, lr: float | None = None) -> None:
        value = float(loss.detach())
        raise Diverged(f"loss became {value} at step {step} (epoch {self.epoch + 1}) with learning rate "
                       f"{lr if lr is not None else self.lr():g}; try a smaller optim.lr or set optim.clip")

    def pause(self) -> None:
        self.checkpoint()
        self.status("paused", f"paused at step {self.step}")
        while (intents := self.intents())[1] and not intents[0]:  # every rank waits, polling together
            time.sleep(0.1)
        self.status("running", f"resumed at step {self.step}")

    def log_train(self, window: torch.Tensor, host_count: int, samples_per_s: float) -> None:
        loss_sum, count, correct = window.tolist()
        count += host_count
        stats = self.task.summarise(loss_sum, count, correct if self.task.metric == "acc" else None)
        stats = self.reduce(stats)
        record = {"step": self.step, "epoch": self.epoch + 1, "split": "train", **stats,
                  "samples_per_s": round(samples_per_s * self.info.world_size, 1), "lr": self.lr(),
                  "time": self.wall()}
        if self.device.type == "cuda":
            record["mem_mb"] = round(torch.cuda.max_memory_allocated(self.device) / 2**20, 1)
        self.bus.emit(ev.Metrics(record))

    def validate(self) -> None:
        self.model.eval()
        try:
            with self.autocast():
                stats = self.task.evaluate(self.model, self.data.prepare)
            samples = self.task.samples(self.model, self.data.prepare) if self.info.is_main else {}
        finally:
            self.model.train()
        self.last_val, self.val_step = stats, self.step
        epoch = self.epoch + 1
        self.bus.emit(ev.Metrics({"step": self.step, "epoch": epoch, "split": "val", **stats, "lr": self.lr(),
                                  "time": self.wall()}))
        metric = self.task.metric or "loss"
        value, better = stats[metric], self.task.higher_is_better if self.task.metric else False
        if self.best is None or (value > self.best["value"] if better else value < self.best["value"]):
            self.best = {"metric": metric, "value": value, "epoch": epoch, "step": self.step}
        if samples:
            self.bus.emit(ev.Samples(epoch, samples))
