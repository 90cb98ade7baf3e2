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


# O_PATH: a folder to open names in, or to walk up from, needs only search permission, not read permission
# (a drop folder of mode 0711 still works).
FOLDER_ONLY = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_CLOEXEC


def refuse_archive_folder(settings: Settings, dir_fd: int, path: Path, what: str) -> None:
    """InvalidInput if the folder open as `dir_fd` is the archive's home or its object folder, or lies
    inside one of them: nothing is ever imported from there (a stored original re-imported into another
    case, under another type, would escape its access rules) nor exported there (over the database or a
    key). Compared by device and inode up the open folder's parents, so neither a symbolic link, nor
    `..`, nor a bind mount, nor a folder renamed meanwhile leads around it."""
    own = _folder_ids(settings)
    if not own:
        return
    fd = os.dup(dir_fd)
    try:
        while True:
            info = os.fstat(fd)
            if (info.st_dev, info.st_ino) in own:
                raise InvalidInput(
                    f"{shown(path)} lies inside the archive's own folder ({own[(info.st_dev, info.st_ino)]}):"
                    f" nothing is ever {what} there"
                )
            parent = os.open("..", FOLDER_ONLY, dir_fd=fd)
            os.close(fd)
            fd = parent
            above = os.fstat(fd)
            if (above.st_dev, above.st_ino) == (info.st_dev, info.st_ino):  # the root is its own parent
                return
    except OSError as exc:
        raise InvalidInput(f"cannot check where {shown(path)} lies: {exc.strerror}") from None
    finally:
        os.close(fd)


def _folder_ids(settings: Settings) -> dict[tuple[int, int], str]:
    """(device, inode) of the home and of the object folder, with their names for messages."""
    found: dict[tuple[int, int], str] = {}
    for what, folder in zip(
        ("the archive's home", "the object folder"), archive_folders(settings), strict=False
    ):
        try:
            info = os.stat(folder)
        except OSError:  # not there (a server archive need not have a home): nothing to protect
            continue
        found.setdefault((info.st_dev, info.st_ino), what)
    return found


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
