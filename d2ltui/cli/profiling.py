"""`d2l-tui profile`: a short run of TARGET with torch.profiler over N steps after warm-up; the top operators."""

from __future__ import annotations

import json
import sys

from d2ltui.errors import UserError

WARMUP = 5


def run_profile(target: str | None, overrides: list[str], steps: int, warmup: int = WARMUP,
                device: str | None = None, runs_dir: str | None = None, json_out: bool = False) -> int:
    """Train TARGET for warmup + steps steps in a new run directory, profiling the last `steps`; print the table.

    The run is an ordinary job (d2ltui.engine.job) that finds a profile request waiting at its first log step."""
    import contextlib

    from d2ltui.engine import job
    from d2ltui.engine.analysis import profile
    from d2ltui.rundir.store import new_run_id
    from d2ltui.tasks.resolve import resolve

    cfg = resolve(target, overrides, device)[0]
    cfg.train.max_steps = warmup + steps
    cfg.train.log_every = warmup  # the loop takes the request at its first log step, after the warm-up
    cfg.train.layer_stats_every = 0  # no hooks in the profile
    cfg.train.checkpoint_every = 0
    prepared = job.prepare(cfg)
    if prepared.info.distributed:
        raise UserError("d2l-tui profile runs in one process (profile a multi-GPU run from its dashboard)")
    run = job.create_run(cfg, runs_dir, f"profile-{new_run_id(cfg.model.name)}")
    profile.request_profile(run.path, steps)
    out = sys.stderr if json_out else sys.stdout
    print(f"run {run.id} in {run.path}: {warmup} warm-up steps, then {steps} profiled", file=out, flush=True)
    with contextlib.redirect_stdout(out):  # under --json, progress goes to stderr and stdout holds the JSON alone
        code = job.run_job(run.path, plain=True, prepared=prepared)
    table = profile.read_table(run.path)
    if table is None:
        status = run.status()
        raise UserError(f"no profile was written ({status.get('state')}: {status.get('message')}); "
                        f"an epoch may be shorter than the {warmup} warm-up steps")
    print(json.dumps({"run": run.id, **table}) if json_out else profile.format_table(table))
    return code
