"""`d2l-tui train` and `d2l-tui presets`: resolve and check the job, make the run directory, train."""

from __future__ import annotations

import os
import sys
from typing import Any

from d2ltui.errors import UserError

RESUME_KEYS = ("train.epochs", "train.max_steps", "train.device", "train.log_every", "train.checkpoint_every",
               "train.compile", "train.layer_stats_every",
               "train.tensorboard")


def _argv(target, overrides, device, runs_dir, resume, run_id, plain) -> list[str]:
    """The train arguments again, for a launcher that starts this command elsewhere."""
    args = [target] if target else []
    for item in overrides:
        args += ["--set", item]
    for flag, value in (("--device", device), ("--runs-dir", runs_dir), ("--resume", resume), ("--run-id", run_id)):
        if value:
            args += [flag, value]
    return args + (["--plain"] if plain else [])


def run_train(target: str | None, overrides: list[str], device: str | None = None, runs_dir: str | None = None,
              resume: str | None = None, detach: bool = False, nproc: int = 0, nnodes: str | None = None,
              rdzv_endpoint: str | None = None, rdzv_id: str | None = None, run_id: str | None = None,
              plain: bool = False) -> int:
    """Train TARGET (or resume RUN); returns the exit code: 0 finished, 1 failed/diverged/stopped."""
    if resume and target:
        raise UserError(f"--resume {resume} continues a run from its own config: give no TARGET")
    if run_id is not None:  # a bad name (an empty one too) is refused before anything is loaded or written
        from d2ltui.rundir.names import check_id

        check_id(run_id)
    if runs_dir:
        from d2ltui.paths import resolve_runs_dir

        resolve_runs_dir(runs_dir)
    if detach or nproc > 1 or rdzv_endpoint:
        return _launch(target, overrides, device, runs_dir, resume, detach, nproc, nnodes, rdzv_endpoint,
                       rdzv_id, run_id, plain)
    from d2ltui.tasks.resolve import resolve

    cfg = _resume_config(resume, overrides, device, runs_dir) if resume else resolve(target, overrides, device)[0]
    from d2ltui.config.schema import unused_fields

    for note in unused_fields(cfg.optim):  # a knob that does nothing here is said, not silently dropped
        print(f"note: {note} does nothing with optim.name={cfg.optim.name}, optim.schedule={cfg.optim.schedule}",
              file=sys.stderr)
    try:
        return _train(cfg, runs_dir, resume, run_id, plain)
    except KeyboardInterrupt:  # before training started (loading data): nothing to checkpoint yet
        print("interrupted", file=sys.stderr)
        return 130


def _launch(target, overrides, device, runs_dir, resume, detach, nproc, nnodes, rdzv_endpoint, rdzv_id,
            run_id, plain) -> int:
    from d2ltui.engine.launching import processes as launch
    from d2ltui.engine.launching import torchrun
    from d2ltui.tasks.resolve import resolve

    if not resume:
        cfg = resolve(target, overrides, device)[0]  # bad input fails here, before anything starts
        if not run_id:
            from d2ltui.rundir.store import new_run_id
            run_id = new_run_id(cfg.model.name)
    argv = _argv(target, overrides, device, runs_dir, resume, None if detach else run_id, plain)
    if detach:
        if nproc > 1 or rdzv_endpoint:
            argv += ["--nproc", str(nproc)] + (["--nnodes", nnodes] if nnodes else []) \
                + (["--rdzv-endpoint", rdzv_endpoint] if rdzv_endpoint else []) + (["--rdzv-id", rdzv_id] if rdzv_id else [])
        launch.launch_detached(argv, run_id, runs_dir)
        return 0
    return torchrun.launch_torchrun(argv, max(nproc, 1), nnodes, rdzv_endpoint, rdzv_id)


def _resume_config(resume: str, overrides: list[str], device: str | None, runs_dir: str | None):
    from d2ltui.config.schema import apply_overrides, from_dict, load_toml
    from d2ltui.tasks.resolve import normalise_overrides, validate
    from d2ltui.rundir.store import CONFIG, RunDir

    run = RunDir.find(resume, runs_dir)
    overrides = normalise_overrides(list(overrides))
    for item in overrides:
        key = item.partition("=")[0].strip()
        if key not in RESUME_KEYS:
            raise UserError(f"--set {key}: a resumed run keeps its config; only {', '.join(RESUME_KEYS)} may change")
    cfg = from_dict(apply_overrides(load_toml(run.path / CONFIG), overrides), source=str(run.path / CONFIG))
    if device:
        cfg.train.device = device
    validate(cfg)
    return cfg


def _prepare(cfg) -> tuple[Any, Any, Any]:
    """Device, data and a meta-device build of the model: every input error before the run exists."""
    from d2ltui.data.registry import load_data, task_for
    from d2ltui.engine.loop import distributed
    from d2ltui.devices import resolve_device
    from d2ltui.tasks.resolve import merge_data_knobs
    from d2ltui.zoo.build import build_model
    from d2ltui.zoo.registry import get_spec

    info = distributed.dist_setup(cfg.train.device)
    device = info.device or resolve_device(cfg.train.device)
    spec = get_spec(cfg.model.name)
    data = load_data(cfg.data, task_for(spec, cfg.data.name), device)
    knobs = merge_data_knobs(cfg, spec, data.model_knobs, data.name)
    try:
        build_model(spec, knobs, data.input_shape, "meta")
    except Exception as err:  # the model cannot take this data's inputs
        shape = "x".join(map(str, data.input_shape[0]))
        raise UserError(f"model.name={spec.name} cannot take data.name={data.name} (input {shape}): "
                        f"{str(err).splitlines()[0][:160] if str(err) else type(err).__name__}") from None
    return info, device, data


def _train(cfg, runs_dir: str | None, resume: str | None, run_id: str | None, plain: bool) -> int:
    from d2ltui.cli.progress import ConsolePrinter
    from d2ltui.config.schema import dump_toml
    from d2ltui.engine.loop import distributed
    from d2ltui.rundir.checkpoint import load_checkpoint
    from d2ltui.engine.loop.control import Control
    from d2ltui.engine.loop.recorder import truncate_metrics
    from d2ltui.rundir.store import CHECKPOINT, new_run_id
    from d2ltui.rundir.writer import RunWriter
    from d2ltui.engine.loop.state import validated
    from d2ltui.engine.loop.trainer import check_world_size, fit

    if cfg.train.init_from and not resume:  # the source, checked and pinned before the run exists
        from d2ltui.tasks.finetune import check_available, resolve_source

        cfg.train.init_from = resolve_source(cfg.train.init_from, cfg.model.name, runs_dir)
        check_available(cfg.train.init_from, cfg.data.download)
    info, device, data = _prepare(cfg)
    if cfg.data.folds > 1:
        return _train_folds(cfg, info, data, runs_dir, resume, run_id, plain)
    state, run = None, None
    if resume:
        found = _idle_run(resume, runs_dir)
        # killed before its first checkpoint: start over, same config and seed, so the same result
        fresh = not (found.path / CHECKPOINT).exists()
        state = None if fresh else distributed.broadcast_object(
            load_checkpoint(found.path / CHECKPOINT, map_location="cpu") if info.is_main else None, info)
        if state is not None:
            check_world_size(state, info.world_size)
            max_steps = cfg.train.max_steps
            if int(state["epoch"]) >= cfg.train.epochs or (max_steps and int(state["step"]) >= max_steps
                                                             and validated(state)):
                raise UserError(f"run {found.id} already reached train.epochs={cfg.train.epochs}"
                                + (f" / train.max_steps={max_steps}" if max_steps else "")
                                + "; raise them with --set to train further")
        if info.is_main:
            run = RunWriter(found.path)
            run.write_config(dump_toml(cfg))
            if state is None:
                truncate_metrics(run, -1)
                print(f"run {run.id} has no checkpoint yet: training it again from the start", flush=True)
            else:
                truncate_metrics(run, int(state["step"]), validated(state))
    elif info.is_main:
        run = RunWriter.create(runs_dir, dump_toml(cfg), run_id or new_run_id(cfg.model.name))
    subscribers = []
    if info.is_main:
        print(f"run {run.id} in {run.path}", flush=True)
        subscribers.append(ConsolePrinter(live=sys.stdout.isatty() and not plain))
        subscribers += _tensorboard(cfg, run, data)
    control = Control().install()
    try:
        result = fit(cfg, run, subscribers, control, data=data, resume=state, dist_info=info)
    finally:
        distributed.dist_teardown(info)
    return result.exit_code


def _tensorboard(cfg, run, data) -> list:
    """The TensorBoard subscriber when train.tensorboard is on (rank 0), else nothing."""
    if not cfg.train.tensorboard:
        return []
    from d2ltui.engine.analysis.tensorboard import TensorBoardWriter, add_graph
    from d2ltui.rundir.store import TENSORBOARD

    return [TensorBoardWriter(run.path / TENSORBOARD, graph=lambda writer: add_graph(writer, cfg, data))]


def _idle_run(resume: str, runs_dir: str | None):
    """The run RESUME names, refused when another process is still training it."""
    from d2ltui.rundir.store import RunDir

    found = RunDir.find(resume, runs_dir)
    status = found.status()
    if status.get("state") in ("running", "paused", "starting") and status.get("pid") not in (None, os.getpid()):
        raise UserError(f"run {found.id} is still {status['state']} (pid {status.get('pid')}); stop it first")
    return found


def _train_folds(cfg, info, data, runs_dir: str | None, resume: str | None, run_id: str | None, plain: bool) -> int:
    """K-fold cross-validation (data.folds > 1) in one run directory; a resume skips the finished folds."""
    from d2ltui.cli.progress import ConsolePrinter
    from d2ltui.config.schema import dump_toml
    from d2ltui.engine.loop.control import Control
    from d2ltui.engine.orchestration.folds import fit_folds
    from d2ltui.rundir.store import new_run_id
    from d2ltui.rundir.writer import RunWriter

    if info.distributed:
        raise UserError(f"data.folds={cfg.data.folds}: K-fold cross-validation runs in one process; drop --nproc")
    if resume:
        run = RunWriter(_idle_run(resume, runs_dir).path)
        run.write_config(dump_toml(cfg))
    else:
        run = RunWriter.create(runs_dir, dump_toml(cfg), run_id or new_run_id(cfg.model.name))
    print(f"run {run.id} in {run.path}", flush=True)
    printer = ConsolePrinter(live=sys.stdout.isatty() and not plain)
    result = fit_folds(cfg, run, [printer, *_tensorboard(cfg, run, data)], Control().install(), data,
                       resume=bool(resume))
    return result.exit_code


def run_presets() -> None:
    """Print every preset, shipped and saved: name, model, data, source and description."""
    from d2ltui.config.presets import list_presets

    presets = list_presets()
    width = max(len(p.name) for p in presets)
    mwidth = max(len(p.model) for p in presets)
    dwidth = max(len(p.data) for p in presets)
    print(f"{'PRESET':<{width}}  {'MODEL':<{mwidth}}  {'DATA':<{dwidth}}  {'SOURCE':<7}  DESCRIPTION")
    for p in presets:
        print(f"{p.name:<{width}}  {p.model:<{mwidth}}  {p.data:<{dwidth}}  {p.source:<7}  {p.description}")
