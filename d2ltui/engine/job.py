"""A training job's one owner: its run directory is made (or reopened) by a launcher, then trained from there.

Every launcher (the CLI in the foreground, `--detach`, the TUI, sweeps, torchrun workers) goes
the same way: a config resolved and validated once (d2ltui.tasks.resolve), `create_run` or
`reopen_run` writes it as the run's config.toml, and `run_job` (in this process, or
`python -m d2ltui.engine.job RUN_DIR` in another) trains the run from that file alone.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from d2ltui.errors import UserError

# What `train --resume RUN --set KEY=VALUE` may change; every other key is the run's own.
RESUME_KEYS = ("train.epochs", "train.max_steps", "train.device", "train.log_every", "train.checkpoint_every",
               "train.compile", "train.layer_stats_every", "train.tensorboard")


@dataclass
class Prepared:
    """What a job needs before its first step: the process group's info, the device and the loaded data."""

    info: Any
    device: Any
    data: Any


def create_run(cfg, runs_dir: str | Path | None, run_id: str | None = None):
    """A new run's folder holding `cfg` as config.toml (a fine-tuning source checked and pinned first).

    Your own model from a file: its task is pinned in the config (the data's, when model.task was left
    unset) and the folder keeps a copy of the file with its SHA-256, from which the run's model is built.
    """
    from d2ltui.config.schema import dump_toml
    from d2ltui.rundir.store import new_run_id
    from d2ltui.rundir.writer import RunWriter
    from d2ltui.zoo.references import file_reference

    if cfg.train.init_from:  # the source, checked and pinned before the run exists
        from d2ltui.tasks.finetune import check_available, resolve_source

        cfg.train.init_from = resolve_source(cfg.train.init_from, cfg.model.name, runs_dir)
        check_available(cfg.train.init_from, cfg.data.download)
    original = file_reference(cfg.model.name)
    if original and not cfg.model.task:  # views then know the run's task without loading its model
        from d2ltui.data.registry import task_for
        from d2ltui.zoo.registry import spec_of

        cfg.model.task = task_for(spec_of(cfg), cfg.data.name)
    run = RunWriter.create(runs_dir, dump_toml(cfg), run_id or new_run_id(cfg.model.name), allow_prepared=False)
    if original:
        run.keep_source(cfg.model.name, original)
    return run


def resume_config(resume: str, overrides: list[str], device: str | None, runs_dir: str | Path | None):
    """The idle run RESUME names and its config with the allowed `--set` changes, validated."""
    from d2ltui.config.overrides import override_key
    from d2ltui.config.schema import normalise_overrides
    from d2ltui.tasks.resolve import validate

    run = idle_run(resume, runs_dir)
    overrides = normalise_overrides(list(overrides))
    for item in overrides:
        if (key := override_key(item)) not in RESUME_KEYS:
            raise UserError(f"--set {key}: a resumed run keeps its config; only {', '.join(RESUME_KEYS)} may change")
    cfg = load_config(run.path, overrides)
    if device:
        cfg.train.device = device
    validate(cfg)
    return run, cfg


def reopen_run(resume: str, overrides: list[str], device: str | None, runs_dir: str | Path | None):
    """The run RESUME names with its config.toml rewritten with the allowed changes, ready for `run_job(resume=True)`."""
    from d2ltui.config.schema import dump_toml
    from d2ltui.rundir.writer import RunWriter

    run, cfg = resume_config(resume, overrides, device, runs_dir)
    run = RunWriter(run.path)
    run.write_config(dump_toml(cfg))
    return run


def idle_run(resume: str, runs_dir: str | Path | None):
    """The run RESUME names, refused when another process is still training it."""
    from d2ltui.rundir.store import RunDir

    found = RunDir.find(resume, runs_dir)
    status = found.status()
    if status.get("state") in ("running", "paused", "starting") and status.get("pid") not in (None, os.getpid()):
        raise UserError(f"run {found.id} is still {status['state']} (pid {status.get('pid')}); stop it first")
    return found


def load_config(path: Path, overrides: list[str] = ()):
    """The RunConfig a run directory holds (its config.toml, as its launcher resolved it, with `overrides`);
    your own model's file is the run's copy of it (model.copy) where the run keeps one."""
    from d2ltui.config.schema import apply_overrides, from_dict
    from d2ltui.rundir.source import source_copy
    from d2ltui.rundir.store import CONFIG, read_config

    cfg = from_dict(apply_overrides(read_config(path, strict=True), list(overrides)), source=str(Path(path) / CONFIG))
    copy = source_copy(Path(path))
    cfg.model.copy = str(copy) if copy else ""
    return cfg


def prepare(cfg) -> Prepared:
    """Device, data and a meta-device build of the model: every input error before a step is taken."""
    from d2ltui.data.registry import load_data, task_for
    from d2ltui.devices import resolve_device
    from d2ltui.engine.loop import distributed
    from d2ltui.tasks.resolve import merge_data_knobs
    from d2ltui.zoo.build import build_model
    from d2ltui.zoo.registry import spec_of

    info = distributed.dist_setup(cfg.train.device)
    device = info.device or resolve_device(cfg.train.device)
    spec = spec_of(cfg)
    data = load_data(cfg.data, task_for(spec, cfg.data.name), device)
    knobs = merge_data_knobs(cfg, spec, data.model_knobs, data.name)
    try:
        build_model(spec, knobs, data.input_shape, "meta")
    except Exception as err:  # the model cannot take this data's inputs
        shape = "x".join(map(str, data.input_shape[0]))
        raise UserError(f"model.name={spec.name} cannot take data.name={data.name} (input {shape}): "
                        f"{str(err).splitlines()[0][:160] if str(err) else type(err).__name__}") from None
    return Prepared(info, device, data)


def run_job(path: str | Path, resume: bool = False, plain: bool = False, prepared: Prepared | None = None) -> int:
    """Train the run at `path` from its config.toml (continuing it with `resume`); 0 finished, 1 otherwise.

    `prepared` is the data a launcher already loaded from the same config (to fail before the run existed).
    """
    from d2ltui.rundir.source import source_change
    from d2ltui.rundir.writer import RunWriter

    run = RunWriter(Path(path))
    cfg = load_config(run.path)
    if resume:
        idle_run(str(run.path), None)
    ready = prepared or prepare(cfg)
    if resume and ready.info.is_main and (changed := source_change(run.path)):
        print(changed, flush=True)
    subscribers = _subscribers(cfg, run, ready, plain) if ready.info.is_main else []
    if cfg.data.folds > 1:
        return _run_folds(cfg, run, ready, subscribers, resume)
    from d2ltui.engine.loop import distributed
    from d2ltui.engine.loop.control import Control
    from d2ltui.engine.loop.trainer import fit

    state = _resume_state(cfg, run, ready) if resume else None
    control = Control().install()
    try:
        result = fit(cfg, run if ready.info.is_main else None, subscribers, control, data=ready.data,
                     resume=state, dist_info=ready.info)
    finally:
        distributed.dist_teardown(ready.info)
    return result.exit_code


def _resume_state(cfg, run, ready: Prepared) -> dict[str, Any] | None:
    """The checkpoint to continue from (None: killed before its first one, so trained again from the start);
    metrics past it are dropped."""
    from d2ltui.engine.loop import distributed
    from d2ltui.engine.loop.recorder import truncate_metrics
    from d2ltui.engine.loop.state import validated
    from d2ltui.engine.loop.trainer import check_world_size
    from d2ltui.rundir.checkpoint import load_checkpoint
    from d2ltui.rundir.store import CHECKPOINT

    info = ready.info
    fresh = not (run.path / CHECKPOINT).exists()
    state = None if fresh else distributed.broadcast_object(
        load_checkpoint(run.path / CHECKPOINT, map_location="cpu") if info.is_main else None, info)
    if state is not None:
        check_world_size(state, info.world_size)
        max_steps = cfg.train.max_steps
        if int(state["epoch"]) >= cfg.train.epochs or (max_steps and int(state["step"]) >= max_steps
                                                         and validated(state)):
            raise UserError(f"run {run.id} already reached train.epochs={cfg.train.epochs}"
                            + (f" / train.max_steps={max_steps}" if max_steps else "")
                            + "; raise them with --set to train further")
    if info.is_main:
        if state is None:
            truncate_metrics(run, -1)
            print(f"run {run.id} has no checkpoint yet: training it again from the start", flush=True)
        else:
            truncate_metrics(run, int(state["step"]), validated(state))
    return state


def _subscribers(cfg, run, ready: Prepared, plain: bool) -> list:
    """Rank 0's listeners: console progress, and TensorBoard when train.tensorboard is on."""
    from d2ltui.engine.loop.progress import ConsolePrinter

    print(f"run {run.id} in {run.path}", flush=True)
    subscribers = [ConsolePrinter(live=sys.stdout.isatty() and not plain)]
    if cfg.train.tensorboard:
        from d2ltui.engine.analysis.tensorboard import TensorBoardWriter, add_graph
        from d2ltui.rundir.store import TENSORBOARD

        subscribers.append(TensorBoardWriter(run.path / TENSORBOARD,
                                             graph=lambda writer: add_graph(writer, cfg, ready.data)))
    return subscribers


def _run_folds(cfg, run, ready: Prepared, subscribers: list, resume: bool) -> int:
    """K-fold cross-validation (data.folds > 1) in one run directory; a resume skips the finished folds."""
    from d2ltui.engine.loop.control import Control
    from d2ltui.engine.orchestration.folds import fit_folds

    if ready.info.distributed:
        raise UserError(f"data.folds={cfg.data.folds}: K-fold cross-validation runs in one process; drop --nproc")
    return fit_folds(cfg, run, subscribers, Control().install(), ready.data, resume=resume).exit_code


def main(argv: list[str] | None = None) -> int:
    """`python -m d2ltui.engine.job RUN_DIR [--resume] [--plain] [--nproc N ...]`: train the run there."""
    parser = argparse.ArgumentParser(prog="d2ltui.engine.job", description=main.__doc__)
    parser.add_argument("run_dir")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--plain", action="store_true")
    parser.add_argument("--nproc", type=int, default=1)
    parser.add_argument("--nnodes")
    parser.add_argument("--rdzv-endpoint")
    parser.add_argument("--rdzv-id")
    args = parser.parse_args(argv)
    from d2ltui.engine.launching.processes import Processes

    processes = Processes(args.nproc, args.nnodes, args.rdzv_endpoint, args.rdzv_id)
    try:
        if processes.torchrun:
            from d2ltui.engine.launching.torchrun import launch_torchrun

            return launch_torchrun(Path(args.run_dir), args.resume, args.plain, processes)
        return run_job(args.run_dir, resume=args.resume, plain=args.plain)
    except UserError as err:
        print(f"d2l-tui: error: {err}", file=sys.stderr, flush=True)
        return err.exit_code
    except KeyboardInterrupt:  # before training started (loading data): nothing to checkpoint yet
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
