"""User-facing errors: one clear line, exit code 2, never a traceback."""


class UserError(Exception):
    """Bad input from the user (name, config, file, shape). The CLI prints str(err) and exits 2."""

    exit_code = 2


def require_module(module: str, purpose: str, extra: str) -> None:
    """A UserError saying how to install an optional package (`pip install "d2ltui[EXTRA]"`) when it is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise UserError(f"{purpose} needs the {module} package: pip install \"d2ltui[{extra}]\"")


def one_line(message: object) -> str:
    """`message` as one printable line: a line break or control character the user typed is shown escaped."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(message))
