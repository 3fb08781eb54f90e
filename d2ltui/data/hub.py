"""The book's DATA_HUB: every downloaded file's URL and SHA-1, and the checked download/extract helpers."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from d2ltui.data.fetch import download
from d2ltui.errors import UserError

DATA_URL = "http://d2l-data.s3-accelerate.amazonaws.com/"


@dataclass(frozen=True)
class HubEntry:
    """One file of the book's DATA_HUB: where it lives and the SHA-1 it must have."""

    url: str
    sha1: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


# Transcribed from d2l/torch.py (d2l-ai/d2l-en): the names are the book's DATA_HUB keys.
DATA_HUB: dict[str, HubEntry] = {
    "time_machine": HubEntry(DATA_URL + "timemachine.txt", "090b5e7e70c295757f55df93cb0a180b9691891a"),
    "fra-eng": HubEntry(DATA_URL + "fra-eng.zip", "94646ad1522d915e7b0f9296181140edcf86a4f5"),
    "kaggle_house_train": HubEntry(DATA_URL + "kaggle_house_pred_train.csv",
                                   "585e9cc93e70b39160e7921475f9bcd7d31219ce"),
    "kaggle_house_test": HubEntry(DATA_URL + "kaggle_house_pred_test.csv",
                                  "fa19780a7b011d9b009e8bff8e99922a8ee2eb90"),
    "banana-detection": HubEntry(DATA_URL + "banana-detection.zip", "5de26c8fce5ccdea9f91267273464dc968d20d72"),
    "hotdog": HubEntry(DATA_URL + "hotdog.zip", "fba480ffa8aa7e0febbb511d181409f899b9baa5"),
    "pokemon": HubEntry(DATA_URL + "pokemon.zip", "c065c0e2593b8b161a2d7873e42418bf6a21106c"),
}


def hub_entry(name: str) -> HubEntry:
    if name not in DATA_HUB:  # a programming error: every caller names a key of the table above
        raise KeyError(f"{name!r} is not in DATA_HUB ({', '.join(DATA_HUB)})")
    return DATA_HUB[name]


def download_hub(name: str, folder: Path) -> Path:
    """`folder/<file name>` of the hub entry `name`, downloaded and checked against its SHA-1."""
    entry = hub_entry(name)
    return download(entry.url, Path(folder) / entry.filename, sha1=entry.sha1)


def _safe_members(zf: zipfile.ZipFile, archive: Path) -> list[zipfile.ZipInfo]:
    """The archive's members, refused in one line when one would land outside the folder or is a link."""
    members = []
    for info in zf.infolist():
        parts = PurePosixPath(info.filename.replace("\\", "/")).parts
        if info.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise UserError(f"{archive.name}: unsafe path {info.filename!r} in the archive; nothing was extracted")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UserError(f"{archive.name}: symbolic link {info.filename!r} in the archive; nothing was extracted")
        members.append(info)
    return members


def extract_zip(archive: Path, folder: Path) -> list[Path]:
    """Extract `archive` into `folder` atomically; returns the top-level paths it put there.

    Members go to a temporary folder beside the targets first; only when every one is out does
    each top-level entry move into place (replacing an older one), so a failure leaves nothing.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=folder))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp, members=_safe_members(zf, archive))
        except zipfile.BadZipFile as err:
            raise UserError(f"{archive.name}: not a zip archive ({err})") from None
        placed = []
        for entry in sorted(tmp.iterdir()):
            target = folder / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(entry, target)
            placed.append(target)
        return placed
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)


def download_extract(name: str, folder: Path, subfolder: str | None = None, keep_archive: bool = False) -> Path:
    """The book's download_extract: fetch the hub zip `name` into `folder` (SHA-1 checked), extract it.

    Returns `folder/subfolder` when given, else the folder named like the archive (`fra-eng.zip` ->
    `folder/fra-eng`). The archive is removed afterwards unless `keep_archive`.
    """
    archive = download_hub(name, folder)
    try:
        extract_zip(archive, Path(folder))
    finally:
        if not keep_archive:
            with contextlib.suppress(OSError):
                archive.unlink()
    return Path(folder) / (subfolder or archive.name.rsplit(".", 1)[0])
