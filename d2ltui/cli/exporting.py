"""`d2l-tui export RUN --tensorboard DIR`: a past run's records as TensorBoard event files."""

from __future__ import annotations

from d2ltui.paths import expand_path


def run_export(run: str, tensorboard: str, runs_dir: str | None) -> None:
    from d2ltui.engine.analysis.tensorboard import export_run, require_tensorboard
    from d2ltui.rundir.store import RunDir

    require_tensorboard()
    found = RunDir.find(run, runs_dir)
    out = expand_path(tensorboard, "--tensorboard")
    done = export_run(found.path, out)
    graph = "the model graph" if not done["graph"] else f"no model graph ({done['graph']})"
    layers = f"{done['histograms']} histograms and {done['layer_scalars']} layer scalars from {done['layer_steps']} " \
        f"steps of layer statistics" if done["layer_steps"] else "no layer statistics"
    print(f"{found.id}: {done['scalars']} scalars from {done['records']} metrics lines, {layers}, and {graph} in {out}; "
          f"view with `tensorboard --logdir {out}`")
