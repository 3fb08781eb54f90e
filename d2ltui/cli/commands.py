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
    name: Annotated[Optional[str], typer.Argument(metavar="NAME", help="Lab name, e.g. nadaraya-watson; none lists the labs.", show_default=False)] = None,
    set_: SetOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="The figure (or the list) as JSON.")] = False,
) -> None:
    """Compute one of the book's interactive figures (a lab) and print it; no NAME lists them."""
    from d2ltui.cli.labs import run_lab

    run_lab(name, overrides=set_ or [], json_out=json_out)


@app.command()
def inspect(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Model name, e.g. lenet (see `d2l-tui list`).")],
    input: Annotated[Optional[str], typer.Option("--input", "-i", metavar="SHAPE", help="Input shape, e.g. 1x1x28x28 (two inputs: 1x9,1x9).")] = None,
    set_: SetOpt = None,
    depth: Annotated[int, typer.Option("--depth", "-d", min=0, metavar="N", help="How deep into nested blocks to show rows.")] = 1,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object instead of a table.")] = False,
) -> None:
    """Show every layer's output shape, parameters, FLOPs and receptive field."""
    from d2ltui.cli.inspecting import run_inspect

    run_inspect(name, input_spec=input, overrides=set_ or [], depth=depth, json_out=json_out)


@app.command(context_settings={"allow_extra_args": False})
def train(
    target: Annotated[Optional[str], typer.Argument(metavar="TARGET", help="Preset name, preset path (.toml) or model name.", show_default=False)] = None,
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
def runs(
    json_out: Annotated[bool, typer.Option("--json", help="One JSON list instead of a table.")] = False,
    runs_dir: RunsDir = None,
) -> None:
    """List every run with state, model, data, best metric and duration."""
    from d2ltui.cli.runs import run_runs

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
def presets() -> None:
    """List the presets, shipped and saved (a saved one wins over a shipped one of its name)."""
    from d2ltui.cli.training import run_presets

    run_presets()
