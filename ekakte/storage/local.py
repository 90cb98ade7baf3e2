"""The embedded object store: a directory, written atomically (temp file, fsync, link, fsync dir)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from ekakte.errors import IntegrityError, StorageError
from ekakte.storage.base import CHUNK_SIZE, HashingReader, ObjectInfo, mismatch_on_put

META_SUFFIX = ".meta.json"
TMP_DIR = ".tmp"


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = f"file://{root}"

    def _path(self, key: str) -> Path:
        # Keys are made by ekakte (original_key), but a store must never be talked out of its root.
        if key.startswith("/") or ".." in key.split("/") or key.endswith(META_SUFFIX):
            raise StorageError(f"invalid object key {key!r}")
        return self.root / key

    def prepare(self) -> None:
        with _os_errors("create the object directory", self.root):
            (self.root / TMP_DIR).mkdir(parents=True, exist_ok=True)

    def put(self, key: str, source: BinaryIO, size: int, sha256: str, content_type: str) -> ObjectInfo:
        target = self._path(key)
        with _os_errors("store", target):
            fd, tmp_name = tempfile.mkstemp(dir=self.root / TMP_DIR, prefix="put-")
            tmp = Path(tmp_name)
            try:
                reader = HashingReader(source)
                with os.fdopen(fd, "wb") as out:
                    while chunk := reader.read(CHUNK_SIZE):
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                if reader.hexdigest() != sha256 or reader.size != size:
                    raise mismatch_on_put(key, sha256, size, reader.hexdigest(), reader.size)
                target.parent.mkdir(parents=True, exist_ok=True)
                # link() is atomic and, unlike rename(), refuses to replace an existing original.
                os.link(tmp, target)
                _write_json_atomically(
                    target.with_name(target.name + META_SUFFIX),
                    {"sha256": sha256, "size": size, "content_type": content_type},
                    self.root / TMP_DIR,
                )
                _fsync_dir(target.parent)
            finally:
                tmp.unlink(missing_ok=True)
            stat = target.stat()
        return ObjectInfo(key, stat.st_size, _mtime(stat.st_mtime), sha256)

    def get(self, key: str) -> Iterator[bytes]:
        path = self._path(key)
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise IntegrityError(f"object {key} is missing from {self.description}") from None
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror}") from exc
        with fh:
            while chunk := fh.read(CHUNK_SIZE):
                yield chunk

    def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        with _os_errors("inspect", path):
            try:
                st = path.stat()
            except FileNotFoundError:
                return None
            sha256 = None
            with contextlib.suppress(FileNotFoundError, ValueError):
                sha256 = json.loads(path.with_name(path.name + META_SUFFIX).read_text())["sha256"]
        return ObjectInfo(key, st.st_size, _mtime(st.st_mtime), sha256)

    def object_lock(self) -> bool:
        return False  # a folder cannot refuse its owner; retention is enforced by ekakte alone

    def retain(self, key: str, until: datetime) -> None:
        raise NotImplementedError("the folder store has no object lock")

    def hold(self, key: str, on: bool) -> None:
        raise NotImplementedError("the folder store has no object lock")

    def delete_many(self, keys: list[str]) -> dict[str, str]:
        for key in keys:
            self.delete(key)
        return {}

    def delete(self, key: str) -> None:
        path = self._path(key)
        with _os_errors("delete", path):
            path.unlink(missing_ok=True)
            path.with_name(path.name + META_SUFFIX).unlink(missing_ok=True)
            _fsync_dir(path.parent)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        base = self.root
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != TMP_DIR)
            for name in sorted(filenames):
                if name.endswith(META_SUFFIX):
                    continue
                full = Path(dirpath) / name
                key = full.relative_to(base).as_posix()
                if not key.startswith(prefix):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    st = full.stat()
                    yield ObjectInfo(key, st.st_size, _mtime(st.st_mtime))

    def remove_abandoned_uploads(self, older_than: datetime) -> int:
        removed = 0
        tmp_dir = self.root / TMP_DIR
        if not tmp_dir.is_dir():
            return 0
        for entry in tmp_dir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if _mtime(entry.stat().st_mtime) < older_than:
                    entry.unlink()
                    removed += 1
        return removed


def _mtime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _write_json_atomically(path: Path, data: dict[str, object], tmp_dir: Path) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="meta-")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _os_errors(action: str, path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise StorageError(f"cannot {action} {path}: the disk is full; nothing was stored") from exc
        if exc.errno == errno.EEXIST:
            raise StorageError(f"cannot {action} {path}: an object with that key already exists") from exc
        raise StorageError(f"cannot {action} {path}: {exc.strerror or exc}") from exc
