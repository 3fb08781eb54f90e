"""The `d2l-tui` command line: typer commands that import their heavy work only when run.

No subcommand opens the TUI. `--help`, `list` and the TUI's first paint import no torch.
Every UserError becomes one line on stderr and exit code 2.
The commands live in d2ltui.cli.commands; a bare `d2l-tui` (or `d2l-tui --runs-dir DIR`)
opens the TUI without importing typer at all, so the first screen paints sooner; so does a
bare `d2l-tui inspect NAME` (every option at its default), the quickest way to a layer table.
The bare TUI also starts its first layer table's summary in a helper process (d2ltui.tui.prefetch).
"""

from __future__ import annotations

import sys

from d2ltui.errors import UserError, one_line


def __getattr__(name: str):
    """`d2ltui.cli.app`: the typer app, imported on first use."""
    if name == "app":
        from d2ltui.cli.commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _tui_only(args: list[str]) -> tuple[bool, str | None]:
    """Whether `args` only open the TUI (nothing, or --runs-dir DIR), and the runs folder given."""
    if not args:
        return True, None
    if len(args) == 2 and args[0] == "--runs-dir" and not args[1].startswith("-"):
        return True, args[1]
    if len(args) == 1 and args[0].startswith("--runs-dir=") and len(args[0]) > len("--runs-dir="):
        return True, args[0].partition("=")[2]
    return False, None


def _inspect_only(args: list[str]) -> str | None:
    """The model name when `args` are just `inspect NAME` (every option at its default), else None."""
    if len(args) == 2 and args[0] == "inspect" and not args[1].startswith("-"):
        return args[1]
    return None


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the typer app; bad input of any kind becomes one line and exit code 2."""
    args = sys.argv[1:] if argv is None else list(argv)
    tui_only, runs_dir = _tui_only(args)
    model = _inspect_only(args)
    if tui_only or model:  # the common cases skip typer's import (the same calls its commands make)
        try:
            if model:
                from d2ltui.cli.inspecting import run_inspect

                if argv is None and "torch" not in sys.modules:  # a process of its own that only inspects
                    from d2ltui.inspector import without_triton

                    without_triton()
                run_inspect(model)
            else:
                from d2ltui.tui import prefetch

                prefetch.start()  # the first layer table, computed in another process while Textual starts
                from d2ltui.tui.app import run_app

                run_app(runs_dir=runs_dir)
        except UserError as err:
            print(f"d2l-tui: error: {one_line(err)}", file=sys.stderr)
            sys.exit(err.exit_code)
        sys.exit(0)
    import typer

    from d2ltui.cli.commands import app

    try:
        code = app(args=argv, prog_name="d2l-tui", standalone_mode=False)
    except UserError as err:
        print(f"d2l-tui: error: {one_line(err)}", file=sys.stderr)
        sys.exit(err.exit_code)
    except typer.Abort:
        print("d2l-tui: aborted", file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as err:  # click's usage errors: bad option, missing argument
        message = err.format_message() if hasattr(err, "format_message") else str(err)
        ctx = getattr(err, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        print(f"d2l-tui: error: {one_line(message)}{hint}", file=sys.stderr)
        sys.exit(getattr(err, "exit_code", 2) or 2)
    sys.exit(code if isinstance(code, int) else 0)
