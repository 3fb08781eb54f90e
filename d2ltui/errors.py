"""User-facing errors: one clear line, exit code 2, never a traceback."""


class UserError(Exception):
    """Bad input from the user (name, config, file, shape). The CLI prints str(err) and exits 2."""

    exit_code = 2
