"""`d2l-tui train` and `d2l-tui presets`: a thin shell over the job (d2ltui.engine.job)."""

from __future__ import annotations

import os
import sys

from d2ltui.errors import UserError


def run_train(target: str | None, overrides: list[str], device: str | None = None, runs_dir: str | None = None,
              resume: str | None = None, detach: bool = False, nproc: int = 0, nnodes: str | None = None,
              rdzv_endpoint: str | None = None, rdzv_id: str | None = None, run_id: str | None = None,
              plain: bool = False) -> int:
    """Train TARGET (or resume RUN); returns the exit code: 0 finished, 1 failed/diverged/stopped.

    The config is resolved and validated here, once, and written as the run's config.toml; the job
    (d2ltui.engine.job) then trains that run directory, in this process, under torchrun, or detached.
    """
    from d2ltui.engine import job
    from d2ltui.engine.launching.processes import Processes

    if resume and target:
        raise UserError(f"--resume {resume} continues a run from its own config: give no TARGET")
    if run_id is not None:  # a bad name (an empty one too) is refused before anything is loaded or written
        from d2ltui.rundir.names import check_id

        check_id(run_id)
    if runs_dir:  # a runs folder that is a file is one line before any work
        from d2ltui.paths import resolve_runs_dir

        resolve_runs_dir(runs_dir)
    processes = Processes(max(nproc, 1), nnodes, rdzv_endpoint, rdzv_id)
    try:
        if not (detach or processes.torchrun) and os.environ.get("WORLD_SIZE", "1") not in ("", "1"):
            return _as_worker(target, overrides, device, runs_dir, resume, run_id, plain)
        if resume:
            run = job.reopen_run(resume, overrides, device, runs_dir)
            prepared = None
        else:
            from d2ltui.tasks.resolve import resolve

            cfg = resolve(target, overrides, device)[0]
            from d2ltui.config.schema import unused_fields

            for note in unused_fields(cfg.optim):  # a knob that does nothing here is said, not silently dropped
                print(f"note: {note} does nothing with optim.name={cfg.optim.name}, "
                      f"optim.schedule={cfg.optim.schedule}", file=sys.stderr)
            # in this process: every input error (data, model and data) before the run exists
            prepared = None if detach or processes.torchrun else job.prepare(cfg)
            run = job.create_run(cfg, runs_dir, run_id)
        if detach:
            from d2ltui.engine.launching.processes import launch_detached

            said = " ".join(["d2l-tui train", *([target] if target else ["--resume", run.id]),
                             *(f"--set {item}" for item in overrides)])
            launch_detached(run.path, resume=bool(resume), processes=processes, title=said)
            return 0
        if processes.torchrun:
            from d2ltui.engine.launching.torchrun import launch_torchrun

            return launch_torchrun(run.path, bool(resume), plain, processes)
        return job.run_job(run.path, resume=bool(resume), plain=plain, prepared=prepared)
    except KeyboardInterrupt:  # before training started (loading data): nothing to checkpoint yet
        print("interrupted", file=sys.stderr)
        return 130


def _as_worker(target, overrides, device, runs_dir, resume, run_id, plain) -> int:
    """`torchrun ... -m d2ltui train ...` by hand: every worker resolves the config; rank 0 alone makes the
    run directory, and every worker trains the one rank 0 made."""
    from d2ltui.engine import job
    from d2ltui.engine.loop.distributed import broadcast_object
    from d2ltui.tasks.resolve import resolve

    cfg = job.resume_config(resume, overrides, device, runs_dir)[1] if resume else resolve(target, overrides, device)[0]
    prepared = job.prepare(cfg)  # joins the process group
    path = None
    if prepared.info.is_main:
        path = (job.reopen_run(resume, overrides, device, runs_dir) if resume else job.create_run(cfg, runs_dir, run_id)).path
    return job.run_job(broadcast_object(path, prepared.info), resume=bool(resume), plain=plain, prepared=prepared)


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
