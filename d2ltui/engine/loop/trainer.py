"""The training loop: a short loop that asks the task for each step, and keeps what is generic in one place.

`fit(cfg, run, subscribers, ...)` trains one job and reports through plain events (events.py); the
run directory is written by the Recorder subscriber on rank 0. The task (tasks.py) owns the step and
its batches; the loop owns the counters (TrainState), the metrics window, when to log and checkpoint
(cadence.py), validation, pause/stop and NaN detection. The hot path syncs with the host only when
it logs and, on the CPU, to check the loss is finite.
"""

from __future__ import annotations

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
from d2ltui.rundir.checkpoint import CheckpointWriteError, capture_rng, restore_rng
from d2ltui.engine.loop.control import Control
from d2ltui.engine.loop.datacard import data_card
from d2ltui.devices import resolve_device
from d2ltui.tasks.resolve import merge_data_knobs
from d2ltui.tasks.batches import steps_per_epoch
from d2ltui.engine.loop.cadence import CheckpointPolicy, LayerStatsPolicy, LogPolicy
from d2ltui.engine.loop import compiling
from d2ltui.engine.loop.efficiency import Efficiency
from d2ltui.engine.loop.layerstats import LayerProbe
from d2ltui.engine.loop.precision import autocast_for, grad_scaler, resolve_precision
from d2ltui.engine.loop.recorder import Recorder
from d2ltui.engine.loop.state import TrainState
from d2ltui.tasks.base import StepContext, make_task
from d2ltui.engine.loop.window import MetricsWindow, WindowTotals
from d2ltui.rundir.store import CHECKPOINT, RunDir
from d2ltui.rundir.writer import RETRY_S, RunWriter
from d2ltui.zoo.build import build_model
from d2ltui.zoo.registry import spec_of

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
    run = RunWriter.of(run) if run is not None else None
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
        self.spec = spec_of(cfg)
        if data is None:
            from d2ltui.data.registry import load_data
            data = load_data(cfg.data, self.spec.task, self.device)
        self.data = data.to(self.device)
        knobs = merge_data_knobs(cfg, self.spec, data.model_knobs, data.name)
        self.model = build_model(self.spec, knobs, data.input_shape, self.device)
        cuda = self.device.type == "cuda"
        if cuda:  # the fast path: cuDNN picks the fastest kernels for the (fixed) batch shapes
            torch.backends.cudnn.benchmark = True
        channels_last = cuda and cfg.train.channels_last and data.train[0].dim() == 4
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.notes: list[str] = []  # one line each: a precision or compile setting that does not apply here
        self.precision, note = resolve_precision(cfg.train.precision, self.device, data.task)
        self.notes += [note] if note else []
        autocast = self.autocast = autocast_for(self.precision, self.device)
        self.eager_model = train_model = _dist.wrap_model(self.model, self.info) if self.info.distributed else self.model
        self.compiling = bool(cfg.train.compile)
        if self.compiling and (problem := compiling.compile_problem(self.device)):
            self.notes.append(compiling.fallback_note(problem))
            self.compiling = False
        if self.compiling:
            train_model = torch.compile(train_model)
        self.task = make_task(data)
        self.spe = steps_per_epoch(len(self.shard(torch.arange(data.num_train))), cfg.data.batch_size)
        self.total_steps = self.spe * cfg.train.epochs
        if cfg.train.max_steps:
            self.total_steps = min(self.total_steps, cfg.train.max_steps)
        self.check_now = self.device.type == "cpu"  # elsewhere the finite check lags one step (no sync)
        self.pending: tuple[torch.Tensor, int, float] | None = None
        self.task.setup(StepContext(cfg, self.model, train_model, self.device, autocast, self.total_steps,
                                    self.shard, channels_last, self.check_before_step, self.spe,
                                    lambda: grad_scaler(self.precision, self.device)))
        self.efficiency = Efficiency(self.device, self.precision, self.info.world_size)
        self.profiler = None  # a StepProfiler while a profile is being taken (engine/analysis/profile.py)
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
        self.warned = ""  # the write warning last reported ("" while the run folder takes every write)
        self.gave_up = ""  # why writes were given up on (the run then stops)
        self.checkpoint_step: int | None = None  # the last checkpoint this process wrote
        self.missed_checkpoint: int | None = None  # the step of the last checkpoint the disk refused

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

    def note(self, text: str) -> None:
        """A one-line note: printed, and the status message of the running run."""
        self.bus.emit(ev.Note(text))
        self.status("running", text)

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
            self.run_dir.save_checkpoint(self.state_dict())
        except CheckpointWriteError as err:
            message = f"checkpoint at step {step} not written ({err.strerror}); the previous one is kept"
            self.missed_checkpoint = step  # refused, or held back for rows not on disk yet: the end tries it again
            self.bus.emit(ev.Checkpointed(step, self.state.epoch, str(path), message))
            self.status("running", message)
            return
        self.checkpoint_step = step
        self.bus.emit(ev.Checkpointed(step, self.state.epoch, str(path)))

    # -- a run folder that refuses writes (rundir.writer keeps them in memory) -----------------
    def write_health(self) -> None:
        """Say when writes start or stop failing; past the writer's limit, ask the loop to stop."""
        writer = self.run_dir
        if writer is None or not self.info.is_main:
            return
        warning = writer.warning()
        if bool(warning) != bool(self.warned):
            self.warned = warning
            note = warning or "the run folder takes writes again; every record is complete"
            self.bus.emit(ev.Status("running", note, {**self.progress(), "warning": warning}))
        if not self.gave_up and (why := writer.give_up()):
            self.gave_up = why
            self.control.stop.set()

    def drain(self, final: bool = False) -> None:
        """At the end, wait for a refusing disk until the writer's limit: training is over, nothing else is lost.

        `final`: the last status is queued; retry quietly (a progress note now would hide the end state).
        """
        writer = self.run_dir
        if writer is None or not self.info.is_main or writer.flush():
            return
        if not final:
            self.write_health()
        while not writer.give_up() and not writer.flush():
            time.sleep(RETRY_S)
        if not final:
            self.write_health()

    # -- the loop ------------------------------------------------------------------------------
    def run(self, resume: dict[str, Any] | None) -> FitResult:
        if resume is not None:
            self.load_state(resume)
        params = sum(p.numel() for p in self.model.parameters())
        self.bus.emit(ev.Started(self.run_dir.id if self.run_dir else "-", self.cfg.model.name, self.data.name,
                                 self.task.name, str(self.device), params, self.spe, self.total_steps,
                                 self.cfg.train.epochs, self.state.step, self.info.world_size,
                                 self.task.headline()))
        self.bus.emit(ev.DataCard(data_card(self.data)))
        for note in self.notes:
            self.note(note)
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
        self.drain()
        if state in ("finished", "stopped") and self.missed_checkpoint == self.state.step:
            self.checkpoint()  # the end's own checkpoint, refused while rows waited: the disk may take it now
        if self.gave_up and state == "finished":
            state, message = "stopped", f"{message}, but {self.gave_up}: the records on disk stop earlier"
        if self.profiler is not None:  # the run ended inside a profile: write what it has
            self.profiler.finish()
            self.profiler = None
        self.status(state, message)
        self.drain(final=True)
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
                return self.end("stopped", self.stop_message())
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

    def stop_message(self) -> str:
        s, resume = self.state, f"resume with `d2l-tui train --resume {self.run_id()}`"
        if not self.gave_up:
            return f"stopped at step {s.step} (epoch {s.epoch + 1}); {resume}"
        kept = f"at step {self.checkpoint_step}" if self.checkpoint_step is not None else "none yet"
        return f"stopped at step {s.step}: {self.gave_up}; last good checkpoint {kept}; {resume} once it can be written"

    def run_id(self) -> str:
        return self.run_dir.id if self.run_dir else "RUN"

    def train_epoch(self, max_steps: float) -> bool:
        """Train from the state's position to the epoch's end (or max_steps); True when a stop was requested."""
        s, window = self.state, MetricsWindow(self.device)
        self.batches.start(s.order)
        self.model.train()
        clock = time.perf_counter
        for b in range(s.pos, self.spe):
            probing = self.layer_policy.due(s.step + 1)
            t0 = clock()
            batch = self.batches.get(b)
            t1 = clock()
            if not self.efficiency.counted:
                self.first_batch(batch)
                window.restart_clock()
                t0 = t1 = clock()
            compiling_now = self.compiling
            stats = self.probe.around(self.task.train_step, batch) if probing else self.step_once(batch)
            self.efficiency.add_step(t1 - t0, clock() - t0)
            s.step, s.pos = s.step + 1, b + 1
            if self.profiler is not None and self.profiler.step():
                self.profiler = None
                self.note(f"profile written to {self.run_dir.path / 'profile'}")
            if probing:
                self.bus.emit(ev.LayerStats(s.step, [{"step": s.step, **r} for r in self.probe.records]))
            if not self.check_now:
                self.lagged_check(stats.loss)
            window.add(stats)
            if compiling_now:  # throughput counts from after the compilation (compile_s)
                window.restart_clock()
            if self.first_step_s is None:
                self.first_step_s = time.perf_counter() - self.t0
            if self.log_policy.due(s.step):
                self.log_train(window.take())
                self.profile_if_asked()
            if self.ckpt_policy.due(s.step):
                self.checkpoint()
            self.write_health()
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

    def first_batch(self, batch) -> None:
        """Once per process, before the first step: count the step's FLOPs (on a copy of the model)."""
        self.efficiency.count(self.task, self.model, batch, self.autocast)

    def step_once(self, batch):
        """A training step; while compiling, the first one is timed apart (compile_s) and a failure to
        compile falls back to eager in one line."""
        if not self.compiling:
            return self.task.train_step(batch)
        self.compiling = False
        start = time.perf_counter()
        try:
            stats = self.task.train_step(batch)
        except Exception as err:  # the model does not compile: train eagerly
            if isinstance(err, (Diverged, torch.cuda.OutOfMemoryError)):
                raise
            compiling.reset()
            self.task.ctx.train_model = self.eager_model
            self.note(compiling.fallback_note(compiling.failure_reason(err)))
            return self.task.train_step(batch)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.efficiency.compile_s = time.perf_counter() - start
        return stats

    def profile_if_asked(self) -> None:
        """At a log step: start a profile a view (or `d2l-tui profile`) asked for in the run directory."""
        if self.profiler is None and self.run_dir is not None and self.info.is_main:
            from d2ltui.engine.analysis import profile

            steps = profile.take_request(self.run_dir.path)
            if steps:
                self.profiler = profile.StepProfiler(self.run_dir.path, steps, self.device.type)
                self.note(f"profiling {steps} steps")

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
        record.update(self.efficiency.fields(record["samples_per_s"]))
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
