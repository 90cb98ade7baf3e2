"""The archive's own folders and files: private to its account, never a target of import or export."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ekakte.config import Settings
from ekakte.db.session import sqlite_path
from ekakte.errors import ConfigError, InvalidInput, shown

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def archive_folders(settings: Settings) -> list[Path]:
    """The home folder and, for file:// storage, the object folder: where the archive keeps social data
    and its keys."""
    folders = [settings.home]
    parsed = urlsplit(settings.storage)
    if parsed.scheme == "file":
        folders.append(Path(unquote(parsed.netloc + parsed.path)))
    return folders


def inside_archive(settings: Settings, path: Path) -> bool:
    """Whether `path` (resolved: links and `..` followed as the kernel would) lies in one of the archive's
    own folders."""
    resolved = Path(os.path.realpath(path))
    for folder in archive_folders(settings):
        root = Path(os.path.realpath(folder))
        if resolved == root or root in resolved.parents:
            return True
    return False


def refuse_archive_path(settings: Settings, path: Path, what: str) -> None:
    """InvalidInput when `path` lies in the archive's own folders: no use case reads a scan from there or
    writes a file there (an export over the database, or a stored original imported a second time)."""
    if inside_archive(settings, path):
        raise InvalidInput(f"{shown(path)} lies in the archive's own folder: {what} elsewhere")


def make_private(folder: Path) -> list[str]:
    """Create `folder` with mode 0700, or make an existing one 0700; what was changed, for `init` to say.
    ConfigError when that is not possible (the folder belongs to another account)."""
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    return _restrict(folder, FOLDER_MODE, "folder")


def make_database_private(database_url: str) -> list[str]:
    """The SQLite database and its WAL files 0600 (SQLite gives new WAL files the database's mode)."""
    path = sqlite_path(database_url)
    if path is None:
        return []
    changed = []
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if name.exists():
            changed += _restrict(name, FILE_MODE, "database")
    return changed


def _restrict(path: Path, mode: int, what: str) -> list[str]:
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        raise ConfigError(f"the archive's {what} {shown(path)} is a symbolic link: give the real path")
    current = stat.S_IMODE(st.st_mode)
    if current & ~mode == 0:
        return []
    try:
        os.chmod(path, current & mode, follow_symlinks=False)
    except OSError as exc:
        raise ConfigError(
            f"the archive's {what} {shown(path)} has mode {current:04o} and cannot be made {mode:04o}"
            f" ({exc.strerror}): it must belong to the account that runs ekakte"
        ) from None
    return [f"{what} {shown(path)}: mode {current:04o} -> {current & mode:04o}"]
