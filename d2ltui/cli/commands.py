"""The typer app behind `d2l-tui`: each command imports its heavy work only when run."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

app = typer.Typer(
    help="A terminal lab workbench for the models of Dive into Deep Learning.",
    add_completion=False,
    no_args_is_help=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

RunsDir = Annotated[Optional[str], typer.Option("--runs-dir", metavar="DIR", help="Folder holding run directories (default: $D2LTUI_RUNS_DIR or ~/.local/share/d2ltui/runs).", show_default=False)]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", "-s", metavar="KEY=VALUE", help="Override, e.g. --set dropout=0.3 (repeatable).")]


@app.callback(invoke_without_command=True)
def _default(ctx: typer.Context, runs_dir: RunsDir = None) -> None:
    """With no command, open the workbench TUI."""
    if ctx.invoked_subcommand is None:
        from d2ltui.tui.app import run_app

        run_app(runs_dir=runs_dir)


@app.command("list")
def list_models(json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """List the catalog of architectures, grouped by book chapter."""
    from d2ltui.cli.listing import run_list

    run_list(json_out=json_out)


@app.command()
def lab(
    name: Annotated[Optional[str], typer.Argument(metavar="NAME", help="Lab name, e.g. attention-pooling; none lists the labs.", show_default=False)] = None,
    set_: SetOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="The figure (or the list) as JSON.")] = False,
) -> None:
    """Compute one of the book's interactive figures (a lab) and print it; no NAME lists them."""
    from d2ltui.cli.labs import run_lab

    run_lab(name, overrides=set_ or [], json_out=json_out)


@app.command()
def inspect(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Model name, e.g. lenet (see `d2l-tui list`), or path/to/file.py:Name, package.module:Name, torchvision:NAME.")],
    input: Annotated[Optional[str], typer.Option("--input", "-i", metavar="SHAPE", help="Input shape, e.g. 1x1x28x28 (two inputs: 1x9,1x9).")] = None,
    set_: SetOpt = None,
    depth: Annotated[int, typer.Option("--depth", "-d", min=0, metavar="N", help="How deep into nested blocks to show rows.")] = 1,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object instead of a table.")] = False,
    params: Annotated[bool, typer.Option("--params", help="One row per parameter tensor (shape, count, trainable, mean, std; tied and lazy marked).")] = False,
) -> None:
    """Show every layer's output shape, parameters, FLOPs and receptive field (or, with --params, every parameter tensor)."""
    from d2ltui.cli.inspecting import run_inspect

    run_inspect(name, input_spec=input, overrides=set_ or [], depth=depth, json_out=json_out, params=params)


@app.command(context_settings={"allow_extra_args": False})
def train(
    target: Annotated[Optional[str], typer.Argument(metavar="TARGET", help="Preset name, preset path (.toml), model name or path/to/file.py:Name.", show_default=False)] = None,
    set_: SetOpt = None,
    device: Annotated[Optional[str], typer.Option("--device", metavar="DEVICE", help="auto, cpu, cuda, cuda:N or mps.", show_default=False)] = None,
    runs_dir: RunsDir = None,
    resume: Annotated[Optional[str], typer.Option("--resume", metavar="RUN", help="Run id or folder to resume from its last checkpoint.", show_default=False)] = None,
    detach: Annotated[bool, typer.Option("--detach", help="Run in the background, surviving the terminal; prints the run id.")] = False,
    nproc: Annotated[int, typer.Option("--nproc", min=0, metavar="N", help="Processes (GPUs) per node; >1 launches torchrun.")] = 0,
    nnodes: Annotated[Optional[str], typer.Option("--nnodes", metavar="N", help="torchrun: nodes, e.g. 2 or 1:4.", show_default=False)] = None,
    rdzv_endpoint: Annotated[Optional[str], typer.Option("--rdzv-endpoint", metavar="HOST:PORT", help="torchrun: host:port of the rendezvous.", show_default=False)] = None,
    rdzv_id: Annotated[Optional[str], typer.Option("--rdzv-id", metavar="ID", help="torchrun: job id shared by all nodes.", show_default=False)] = None,
    run_id: Annotated[Optional[str], typer.Option("--run-id", metavar="ID", help="Name the run directory (default: time-model-random).", show_default=False)] = None,
    plain: Annotated[bool, typer.Option("--plain", help="Plain progress lines even on a terminal.")] = False,
) -> None:
    """Train a model, writing a run directory that any view can read."""
    from d2ltui.cli.training import run_train

    code = run_train(target=target, overrides=set_ or [], device=device, runs_dir=runs_dir, resume=resume,
                     detach=detach, nproc=nproc, nnodes=nnodes, rdzv_endpoint=rdzv_endpoint, rdzv_id=rdzv_id,
                     run_id=run_id, plain=plain)
    raise typer.Exit(code)


@app.command()
def profile(
    target: Annotated[str, typer.Argument(metavar="TARGET", help="Preset name, preset path (.toml) or model name.")],
    steps: Annotated[int, typer.Option("--steps", "-n", min=1, max=10000, metavar="N", help="Steps to profile, after 5 warm-up steps.")] = 10,
    set_: SetOpt = None,
    device: Annotated[Optional[str], typer.Option("--device", metavar="DEVICE", help="auto, cpu, cuda, cuda:N or mps.", show_default=False)] = None,
    runs_dir: RunsDir = None,
    json_out: Annotated[bool, typer.Option("--json", help="The table as JSON.")] = False,
) -> None:
    """Profile N training steps (torch.profiler): top operators by self time, and a Chrome/Perfetto trace in the run."""
    from d2ltui.cli.profiling import run_profile

    raise typer.Exit(run_profile(target, set_ or [], steps, device=device, runs_dir=runs_dir, json_out=json_out))


@app.command()
def sweep(
    target: Annotated[Optional[str], typer.Argument(metavar="TARGET", help="Preset (a [sweep] one gives grid and seeds), .toml file or model.", show_default=False)] = None,
    grid: Annotated[Optional[list[str]], typer.Option("--grid", "-g", metavar="KEY=V1,V2", help="Values of one config key to try (repeatable: the grid is their product).")] = None,
    seeds: Annotated[Optional[int], typer.Option("--seeds", min=1, metavar="N", help="Runs per setting, with train.seed, +1, ... (default 1 or the preset's).", show_default=False)] = None,
    parallel: Annotated[Optional[int], typer.Option("--parallel", "-p", min=1, metavar="P", help="Runs at a time on the CPU (each with cores/P threads); a GPU box runs one per GPU.", show_default=False)] = None,
    set_: SetOpt = None,
    device: Annotated[Optional[str], typer.Option("--device", metavar="DEVICE", help="auto, cpu, cuda, cuda:N or mps.", show_default=False)] = None,
    runs_dir: RunsDir = None,
    resume: Annotated[Optional[str], typer.Option("--resume", metavar="SWEEP", help="Sweep id or folder: keep its finished runs, resume the others.", show_default=False)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="The final table as JSON.")] = False,
    sample: Annotated[Optional[list[str]], typer.Option("--sample", metavar="KEY=DIST", help="Random search: loguniform(a,b), uniform(a,b), randint(a,b) or choice(a,b,...) (repeatable).")] = None,
    trials: Annotated[Optional[int], typer.Option("--trials", min=1, metavar="N", help="Settings drawn by --sample (default 10, or eta^(rungs-1) with a scheduler).", show_default=False)] = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", metavar="NAME", help="successive-halving or asha: train trials rung by rung, stop the losers early.", show_default=False)] = None,
    r_min: Annotated[Optional[int], typer.Option("--r-min", min=1, metavar="EPOCHS", help="First rung (default 1).", show_default=False)] = None,
    r_max: Annotated[Optional[int], typer.Option("--r-max", min=1, metavar="EPOCHS", help="Last rung (default train.epochs).", show_default=False)] = None,
    eta: Annotated[Optional[int], typer.Option("--eta", min=2, metavar="N", help="Keep the best 1/eta at each rung (default 2).", show_default=False)] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Start a sweep of more than 64 runs.")] = False,
) -> None:
    """Run a grid (or random draws) of settings as ordinary runs; end with the best metric per setting or trial."""
    from d2ltui.cli.sweeping import run_sweep

    search = {"sample": sample, "trials": trials, "scheduler": scheduler, "r_min": r_min, "r_max": r_max, "eta": eta}
    raise typer.Exit(run_sweep(target, grid or [], seeds, parallel, set_ or [], device, runs_dir, resume, json_out,
                               search, yes))


@app.command("lr-find")
def lr_find(
    target: Annotated[str, typer.Argument(metavar="TARGET", help="Preset name, preset path (.toml) or model name.")],
    set_: SetOpt = None,
    device: Annotated[Optional[str], typer.Option("--device", metavar="DEVICE", help="auto, cpu, cuda, cuda:N or mps.", show_default=False)] = None,
    steps: Annotated[int, typer.Option("--steps", min=10, metavar="N", help="Steps of the test, one learning rate each.")] = 200,
    lr_min: Annotated[float, typer.Option("--lr-min", metavar="LR", help="First learning rate.")] = 1e-6,
    lr_max: Annotated[float, typer.Option("--lr-max", metavar="LR", help="Last learning rate (the test stops earlier once the loss explodes).")] = 10.0,
    json_out: Annotated[bool, typer.Option("--json", help="The curve and suggested_lr as JSON.")] = False,
) -> None:
    """Range test: raise the learning rate step by step, plot the loss, suggest the lr of steepest descent (writes no run)."""
    from d2ltui.cli.lr_finding import run_lr_find

    raise typer.Exit(run_lr_find(target, set_ or [], device, steps, lr_min, lr_max, json_out))


@app.command()
def export(
    run: Annotated[str, typer.Argument(metavar="RUN", help="Run id or run folder.")],
    tensorboard: Annotated[str, typer.Option("--tensorboard", metavar="DIR", help="Write TensorBoard event files (scalars, layer statistics as histograms and scalars, model graph) into DIR.")],
    runs_dir: RunsDir = None,
) -> None:
    """Write a past run's records in another tool's format (TensorBoard)."""
    from d2ltui.cli.exporting import run_export

    run_export(run, tensorboard, runs_dir)


@app.command()
def runs(
    ids: Annotated[Optional[list[str]], typer.Argument(metavar="RUN", help="With --layers: only these runs (ids, unique prefixes or folders).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON list instead of a table (with each run's latest layer statistics).")] = False,
    layers: Annotated[Optional[str], typer.Option("--layers", metavar="STAT", help="Compare one layer statistic across runs: a row per layer, a column per run (its latest recorded step).")] = None,
    runs_dir: RunsDir = None,
) -> None:
    """List every run with state, model, data, best metric and duration; or one layer statistic across runs."""
    from d2ltui.cli.runs import run_layers, run_runs

    if layers is not None or ids:
        run_layers(layers, ids or [], json_out=json_out, runs_dir=runs_dir)
    else:
        run_runs(json_out=json_out, runs_dir=runs_dir)


@app.command()
def attach(
    run: Annotated[str, typer.Argument(metavar="RUN", help="Run id or run folder.")],
    runs_dir: RunsDir = None,
) -> None:
    """Open the dashboard on a run, live or finished."""
    from d2ltui.tui.app import run_app

    run_app(runs_dir=runs_dir, attach=run)


@app.command()
def predict(
    run: Annotated[str, typer.Argument(metavar="RUN", help="Run id, unique prefix or run folder.")],
    text: Annotated[str, typer.Argument(metavar="INPUT", help="A prefix to continue, a sentence to translate, an image file, or numbers.")],
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object instead of lines.")] = False,
    runs_dir: RunsDir = None,
) -> None:
    """Answer your own input from a run's latest checkpoint (on the CPU; a live run is not disturbed)."""
    from d2ltui.cli.predict import run_predict

    run_predict(run, text, json_out=json_out, runs_dir=runs_dir)


@app.command()
def augment(
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="An image dataset, e.g. shapes or cifar10.")],
    augment_: Annotated[Optional[str], typer.Option("--augment", "-a", metavar="LIST", help="Transforms, comma-separated; join with + to compose (default: each of the book's figures and flip+jitter+crop).", show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, metavar="N", help="Seed of the random draws.")] = 0,
    index: Annotated[int, typer.Option("--index", min=0, metavar="N", help="Which validation image.")] = 0,
    set_: SetOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="The grids as JSON instead of pictures.")] = False,
) -> None:
    """Show what augmentation does: one image and a 2x4 grid per transform."""
    from d2ltui.cli.augmenting import run_augment

    run_augment(dataset, augment_, seed, set_ or [], index, json_out)


@app.command()
def presets() -> None:
    """List the presets, shipped and saved (a saved one wins over a shipped one of its name)."""
    from d2ltui.cli.training import run_presets

    run_presets()
