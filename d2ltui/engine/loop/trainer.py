"""The training loop: a short loop that asks the task for each step, and keeps what is generic in one place.

`fit(cfg, run, subscribers, ...)` trains one job and reports through plain events (events.py); the
run directory is written by the Recorder subscriber on rank 0. The task (tasks.py) owns the step and
its batches; the loop owns the counters (TrainState), the metrics window, when to log and checkpoint
(cadence.py), validation, pause/stop and NaN detection. The hot path syncs with the host only when
it logs and, on the CPU, to check the loss is finite.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from d2ltui.config.schema import RunConfig
from d2ltui.data.base import DataModule
from d2ltui.engine.loop import events as ev
from d2ltui.rundir.checkpoint import CheckpointWriteError, capture_rng, restore_rng, save_checkpoint
from d2ltui.engine.loop.control import Control
from d2ltui.engine.loop.datacard import data_card
from d2ltui.devices import resolve_device
from d2ltui.tasks.resolve import merge_data_knobs
from d2ltui.tasks.batches import steps_per_epoch
from d2ltui.engine.loop.cadence import CheckpointPolicy, LayerStatsPolicy, LogPolicy
from d2ltui.engine.loop.layerstats import LayerProbe
from d2ltui.engine.loop.recorder import Recorder
from d2ltui.engine.loop.state import TrainState
from d2ltui.tasks.base import StepContext, make_task
from d2ltui.engine.loop.window import MetricsWindow, WindowTotals
from d2ltui.rundir.store import CHECKPOINT, RunDir
from d2ltui.zoo.build import build_model
from d2ltui.zoo.registry import get_spec

try:  # data-parallel helpers; a single process needs none of them
    from d2ltui.engine.loop import distributed as _dist
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
    """One training job; `run()` drives epochs of task steps, logging, validation, samples and checkpoints."""

    def __init__(self, cfg, run, subscribers, control, data, dist_info) -> None:
        self.t0 = time.perf_counter()
        self.cfg, self.run_dir, self.control = cfg, run, control
        self.info = dist_info or SingleProcess()
        self.bus = ev.EventBus(subscribers)
        if run is not None and self.info.is_main:
            self.bus.subscribe(Recorder(run))
        self.device = self.info.device or resolve_device(cfg.train.device)
        torch.manual_seed(cfg.train.seed)
        random.seed(cfg.train.seed)  # the checkpoint keeps Python's generator too: it starts from the seed as well
        self.spec = get_spec(cfg.model.name)
        if data is None:
            from d2ltui.data.registry import load_data
            data = load_data(cfg.data, self.spec.task, self.device)
        self.data = data.to(self.device)
        knobs = merge_data_knobs(cfg, self.spec, data.model_knobs, data.name)
        self.model = build_model(self.spec, knobs, data.input_shape, self.device)
        cuda = self.device.type == "cuda"
        channels_last = cuda and cfg.train.channels_last and data.train[0].dim() == 4
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        amp = cfg.train.amp == "bf16" or (cfg.train.amp == "auto" and cuda)
        autocast = (lambda: torch.autocast(self.device.type, dtype=torch.bfloat16)) if amp else contextlib.nullcontext
        self.autocast = autocast
        train_model = _dist.wrap_model(self.model, self.info) if self.info.distributed else self.model
        if cfg.train.compile:
            train_model = torch.compile(train_model)
        self.task = make_task(data)
        self.spe = steps_per_epoch(len(self.shard(torch.arange(data.num_train))), cfg.data.batch_size)
        self.total_steps = self.spe * cfg.train.epochs
        if cfg.train.max_steps:
            self.total_steps = min(self.total_steps, cfg.train.max_steps)
        self.check_now = self.device.type == "cpu"  # elsewhere the finite check lags one step (no sync)
        self.pending: tuple[torch.Tensor, int, float] | None = None
        self.task.setup(StepContext(cfg, self.model, train_model, self.device, autocast, self.total_steps,
                                    self.shard, channels_last, self.check_before_step))
        self.batches = self.task.batches()
        self.gen = torch.Generator().manual_seed(cfg.train.seed)  # the epochs' shuffles
        self.state = TrainState()
        self.log_policy = LogPolicy(cfg.train.log_every, self.spe)
        self.ckpt_policy = CheckpointPolicy(cfg.train.checkpoint_every)
        # layer statistics on the main process only, and not through torch.compile (hooks would recompile)
        watched = self.info.is_main and not cfg.train.compile and cfg.train.layer_stats_every > 0
        self.layer_policy = LayerStatsPolicy(cfg.train.layer_stats_every if watched else 0)
        self.probe = LayerProbe(self.model) if watched else None
        self.first_step_s: float | None = None

    @property
    def step(self) -> int:
        return self.state.step

    # -- helpers -------------------------------------------------------------------------------
    def shard(self, perm: torch.Tensor) -> torch.Tensor:
        return _dist.shard_indices(perm, self.info) if self.info.distributed else perm

    def progress(self) -> dict[str, Any]:
        return {"step": self.state.step, "epoch": self.state.epoch, "total_steps": self.total_steps,
                "total_epochs": self.cfg.train.epochs, "best": self.state.best}

    def status(self, state: str, message: str = "") -> None:
        self.bus.emit(ev.Status(state, message, self.progress()))

    def lr(self) -> float:
        return self.task.lr()

    def wall(self) -> float:
        return round(self.state.elapsed + time.perf_counter() - self.t0, 3)

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
        return {**self.task.state_dict(), **self.state.state_dict(), "generator": self.gen.get_state(),
                "rng": capture_rng(), "model_name": self.cfg.model.name, "elapsed": self.wall(),
                "world_size": self.info.world_size}

    def load_state(self, state: dict[str, Any]) -> None:
        if state.get("model_name", self.cfg.model.name) != self.cfg.model.name:
            from d2ltui.errors import UserError
            raise UserError(f"checkpoint holds model {state.get('model_name')}, the config {self.cfg.model.name}")
        check_world_size(state, self.info.world_size)
        self.task.load_state_dict(state)
        self.state.load_state_dict(state)
        self.gen.set_state(state["generator"])
        if "rng" in state:
            restore_rng(state["rng"])
        else:  # a checkpoint written before the Python generator was kept too
            restore_rng({"torch": state["rng_cpu"]})

    def checkpoint(self) -> None:
        if self.run_dir is None or not self.info.is_main:
            return
        path, step = self.run_dir.path / CHECKPOINT, self.state.step
        try:
            save_checkpoint(path, self.state_dict())
        except CheckpointWriteError as err:
            message = f"checkpoint at step {step} not written ({err.strerror}); the previous one is kept"
            self.bus.emit(ev.Checkpointed(step, self.state.epoch, str(path), message))
            self.status("running", message)
            return
        self.bus.emit(ev.Checkpointed(step, self.state.epoch, str(path)))

    # -- the loop ------------------------------------------------------------------------------
    def run(self, resume: dict[str, Any] | None) -> FitResult:
        if resume is not None:
            self.load_state(resume)
        params = sum(p.numel() for p in self.model.parameters())
        self.bus.emit(ev.Started(self.run_dir.id if self.run_dir else "-", self.cfg.model.name, self.data.name,
                                 self.task.name, str(self.device), params, self.spe, self.total_steps,
                                 self.cfg.train.epochs, self.state.step, self.info.world_size))
        self.bus.emit(ev.DataCard(data_card(self.data)))
        self.status("running", f"resumed at step {self.state.step}" if resume is not None else "training")
        try:
            return self.train()
        except Diverged as err:
            return self.end("diverged", str(err))
        except torch.cuda.OutOfMemoryError:
            batch_size = self.cfg.data.batch_size
            return self.end("failed", f"CUDA out of memory on {self.device} at data.batch_size={batch_size}; "
                                      f"try --set data.batch_size={max(1, batch_size // 2)}")
        except Exception as err:
            self.end("failed", f"{type(err).__name__}: {err}".splitlines()[0][:300])
            raise

    def end(self, state: str, message: str) -> FitResult:
        self.status(state, message)
        s = self.state
        return FitResult(state, message, s.step, s.epoch, s.last_val, s.best, self.model, self.first_step_s)

    def train(self) -> FitResult:
        cfg, s = self.cfg.train, self.state
        max_steps = cfg.max_steps or math.inf
        if s.step >= max_steps and s.val_step != s.step:  # killed between the last step and its validation
            self.validate()
            if s.pos >= self.spe:
                s.next_epoch()
            self.checkpoint()
        while s.epoch < cfg.epochs and s.step < max_steps:
            if s.order is None:
                s.order = self.batches.order(self.gen)
            if self.train_epoch(max_steps):
                self.checkpoint()
                return self.end("stopped", f"stopped at step {s.step} (epoch {s.epoch + 1}); "
                                           f"resume with `d2l-tui train --resume {self.run_id()}`")
            self.flush_check()
            self.validate()
            if s.pos < self.spe:  # max_steps reached inside the epoch: keep the position
                self.checkpoint()
                break
            s.next_epoch()
            self.checkpoint()
            self.status("running", f"epoch {s.epoch} of {cfg.epochs} done")
        done = f"finished at step {s.step}, epoch {min(s.epoch + (s.pos > 0), cfg.epochs)}"
        if s.best:
            done += f"; best val {s.best['metric']} {s.best['value']:.4g} (epoch {s.best['epoch']})"
        return self.end("finished", done)

    def run_id(self) -> str:
        return self.run_dir.id if self.run_dir else "RUN"

    def train_epoch(self, max_steps: float) -> bool:
        """Train from the state's position to the epoch's end (or max_steps); True when a stop was requested."""
        s, window = self.state, MetricsWindow(self.device)
        self.batches.start(s.order)
        self.model.train()
        for b in range(s.pos, self.spe):
            probing = self.layer_policy.due(s.step + 1)
            batch = self.batches.get(b)
            stats = self.probe.around(self.task.train_step, batch) if probing else self.task.train_step(batch)
            s.step, s.pos = s.step + 1, b + 1
            if probing:
                self.bus.emit(ev.LayerStats(s.step, [{"step": s.step, **r} for r in self.probe.records]))
            if not self.check_now:
                self.lagged_check(stats.loss)
            window.add(stats)
            if self.first_step_s is None:
                self.first_step_s = time.perf_counter() - self.t0
            if self.log_policy.due(s.step):
                self.log_train(window.take())
            if self.ckpt_policy.due(s.step):
                self.checkpoint()
            stop, paused = self.intents()
            if stop:
                return True
            if paused:
                self.pause()
                if self.stop_requested():
                    return True
                window.restart_clock()
            if s.step >= max_steps:
                break
        if self.log_policy.due_at_epoch_end(window.steps):
            self.log_train(window.take())
        return False

    # -- divergence ----------------------------------------------------------------------------
    def check_before_step(self, loss: torch.Tensor) -> None:
        """On the CPU, a loss that is not finite ends the run before its step reaches the weights."""
        if self.check_now and not math.isfinite(loss.detach().item()):
            self.diverge(loss, self.state.step + 1)

    def lagged_check(self, loss: torch.Tensor) -> None:
        """Elsewhere, a step's loss is checked after the next step is queued (no host sync on the hot path)."""
        previous, self.pending = self.pending, (loss, self.state.step, self.lr())
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
        raise Diverged(f"loss became {value} at step {step} (epoch {self.state.epoch + 1}) with learning rate "
                       f"{lr if lr is not None else self.lr():g}; try a smaller optim.lr or set optim.clip")

    def pause(self) -> None:
        self.checkpoint()
        self.status("paused", f"paused at step {self.state.step}")
        while (intents := self.intents())[1] and not intents[0]:  # every rank waits, polling together
            time.sleep(0.1)
        self.status("running", f"resumed at step {self.state.step}")

    # -- records -------------------------------------------------------------------------------
    def log_train(self, totals: WindowTotals) -> None:
        stats = self.task.summarise(totals.loss_sum, totals.count, totals.correct)
        stats = self.reduce({**stats, **totals.extra})
        s = self.state
        record = {"step": s.step, "epoch": s.epoch + 1, "split": "train", **stats,
                  "samples_per_s": round(totals.samples_per_s * self.info.world_size, 1), "lr": self.lr(),
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
        s = self.state
        s.record_validation(stats, *self.task.headline())
        epoch = s.epoch + 1
        self.bus.emit(ev.Metrics({"step": s.step, "epoch": epoch, "split": "val", **stats, "lr": self.lr(),
                                  "time": self.wall()}))
        if samples:
            self.bus.emit(ev.Samples(epoch, samples))
