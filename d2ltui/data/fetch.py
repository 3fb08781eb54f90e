"""Downloads with a short timeout that leave nothing behind when they fail."""

from __future__ import annotations

import contextlib
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


def download(url: str, dest: Path, timeout: float = TIMEOUT_S) -> Path:
    """Fetch `url` to `dest` through a temporary file in the same folder, replaced atomically."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, tmp.open("wb") as out:
            shutil.copyfileobj(resp, out)
            out.flush()
            os.fsync(out.fileno())
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
    starting with the dataset's `name`, saying why and ending with `advice`.
    """
    if path.exists():
        return path
    err = None
    if allowed:
        try:
            with no_leftovers(root):
                fetch()
        except Exception as e:  # noqa: BLE001 - any failure becomes one line
            err = e
    if not path.exists():
        why = f"download failed ({describe(err)})" if err else "data.download is off"
        raise UserError(f"{name}: {path} not found; {why}. {advice}")
    return path


DATA_URL = "http://d2l-data.s3-accelerate.amazonaws.com/"
# The book's DATA_HUB entries we use: name -> (URL, SHA-1 of the file), as in d2l/torch.py
HUB: dict[str, tuple[str, str]] = {
    "pokemon": (DATA_URL + "pokemon.zip", "c065c0e2593b8b161a2d7873e42418bf6a21106c"),
}


def sha1_of(path: Path) -> str:
    import hashlib

    digest = hashlib.sha1()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha1(name: str, path: Path) -> Path:
    """`path` when its SHA-1 is the book's for `name`; otherwise a UserError saying so (the file is kept)."""
    want = HUB[name][1]
    got = sha1_of(path)
    if got != want:
        raise UserError(f"{name}: {path} has SHA-1 {got}, not the book's {want}; delete it and download again")
    return path


def download_hub(name: str, dest: Path) -> Path:
    """Download the book's file `name` to `dest` and check its SHA-1 (a mismatch removes it)."""
    download(HUB[name][0], dest)
    try:
        return check_sha1(name, dest)
    except UserError:
        dest.unlink(missing_ok=True)
        raise
