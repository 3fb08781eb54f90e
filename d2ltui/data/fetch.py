"""Downloads with a short timeout that leave nothing behind when they fail."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

from d2ltui.errors import UserError

TIMEOUT_S = 15.0


def _existing(root: Path) -> set[Path]:
    if not root.exists():
        return set()
    return {root, *root.rglob("*")}


@contextlib.contextmanager
def no_leftovers(root: Path) -> Iterator[None]:
    """On an exception, remove every file and folder under `root` (and root) that was not there before."""
    before = _existing(root)
    missing_parents = [p for p in (root, *root.parents) if not p.exists()]
    try:
        yield
    except BaseException:
        for path in sorted(_existing(root) - before, key=lambda p: len(p.parts), reverse=True):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()
        for parent in missing_parents:  # innermost first
            with contextlib.suppress(OSError):
                parent.rmdir()
        raise


@contextlib.contextmanager
def socket_timeout(seconds: float = TIMEOUT_S) -> Iterator[None]:
    """A default socket timeout for libraries (torchvision) that open URLs without one."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def sha1_of(path: Path) -> str:
    """The SHA-1 hex digest of a file, read in 1 MiB chunks (the book's check)."""
    digest = hashlib.sha1()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dest: Path, timeout: float = TIMEOUT_S, sha1: str | None = None) -> Path:
    """Fetch `url` to `dest` through a temporary file in the same folder, replaced atomically.

    With `sha1`, the temporary file's hash is checked before it moves into place; a mismatch
    deletes it and raises one UserError line naming the file, the expected and the actual hash.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, tmp.open("wb") as out:
            shutil.copyfileobj(resp, out)
            out.flush()
            os.fsync(out.fileno())
        if sha1 is not None and (actual := sha1_of(tmp)) != sha1.lower():
            raise UserError(f"{dest.name}: SHA-1 mismatch, expected {sha1.lower()}, got {actual} "
                            f"(from {url}); nothing was kept")
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return dest


def describe(err: BaseException | None) -> str:
    """One line about a failed download: the exception type, its first and last lines of text."""
    text = str(getattr(err, "reason", "") or err or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    body = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"
    return f"{type(err).__name__}: {body[:300]}"


def ensure_file(name: str, path: Path, root: Path, allowed: bool, fetch: Callable[[], object], advice: str) -> Path:
    """`path`, fetched by `fetch()` first when it is missing and downloads are `allowed`.

    A failed fetch leaves nothing new under `root`; a file still missing is one UserError line
    starting with the dataset's `name`, saying why and ending with `advice`. A fetch refused by
    our own checks (a SHA-1 mismatch, an unsafe archive) is that check's line after the name.
    """
    if path.exists():
        return path
    err = None
    if allowed:
        try:
            with no_leftovers(root):
                fetch()
        except UserError as e:
            raise UserError(f"{name}: {e}") from None
        except Exception as e:  # noqa: BLE001 - any failure becomes one line
            err = e
    if not path.exists():
        why = f"download failed ({describe(err)})" if err else "data.download is off"
        raise UserError(f"{name}: {path} not found; {why}. {advice}")
    return path
