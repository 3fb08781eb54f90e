"""The rule for run and sweep ids: one path component of safe characters, checked before anything is written."""

from __future__ import annotations

import re

from d2ltui.errors import UserError

ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # no '/', no '..' alone, no leading dot or dash


def check_id(name: str, what: str = "run id") -> str:
    """`name` when it is a safe id (letters, digits, '.', '_', '-'; starts with a letter or digit), else a UserError."""
    if not isinstance(name, str) or not ID_RE.fullmatch(name) or name.endswith("."):
        raise UserError(f"{what} {name!r}: use one name of letters, digits, '.', '_' or '-' "
                        f"(at most 128, starting with a letter or digit), not a path")
    return name
