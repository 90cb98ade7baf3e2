"""A full disk under the local-directory object store: the batch stops with a one-line reason, nothing
is half-written, and once there is room again a re-run stores every file exactly once.

The disk is a real, small tmpfs mounted for the test (root only; the CI runs as root)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.db.models import Document
from ekakte.errors import StorageError
from ekakte.hotfolder import import_directory
from ekakte.ingest import DocumentMeta
from ekakte.integrity import verify
from ekakte.setup import initialize
from ekakte.storage.local import TMP_DIR
from tests.conftest import ADMIN, CASE, OPERATOR, embedded_env, organise, scans

FILES = 16


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB file system of its own."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot mount a tmpfs for the full-disk test: {done.stderr.strip()}")
        pytest.skip(f"mounting a small file system needs root: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_stops_the_batch_cleanly_and_a_rerun_stores_each_file_once(
    small_disk: Path, tmp_path: Path
) -> None:
    env = {**embedded_env(tmp_path / "home"), "EKAKTE_STORAGE": f"file://{small_disk}/objects"}
    initialize(load_settings(env))
    organise(load_settings(env))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    digests = {}
    for i in range(FILES):
        data = scans.pdf_bytes([["Seite 1", f"Platz {i}"]], dpi=150, seed=i)  # about 28 KB each
        (inbox / f"scan-{i:02d}.pdf").write_bytes(data)
        digests[f"scan-{i:02d}.pdf"] = hashlib.sha256(data).hexdigest()
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (1024 * 1024 - 5 * 32 * 1024))  # room for about five of them

    with Archive.open(load_settings(env)) as archive:
        report = import_directory(
            archive, OPERATOR, inbox, defaults=DocumentMeta(CASE, "Antrag"), allow_root=True
        )
        assert isinstance(report.aborted, StorageError)
        message = str(report.aborted)
        assert "the disk is full" in message and "\n" not in message, message
        assert 1 <= report.stored < FILES
        left = sorted(p.name for p in inbox.glob("*.pdf"))
        done = sorted(p.name for p in (inbox / "done").glob("*.pdf"))
        assert len(left) == FILES - report.stored and len(done) == report.stored
        assert list((small_disk / "objects" / TMP_DIR).iterdir()) == []  # no half-written object
        check = verify(archive, ADMIN)
        assert check.problems == [], check.problems  # nothing missing, nothing left unreferenced

        filler.unlink()  # the operator makes room
        rerun = import_directory(
            archive, OPERATOR, inbox, defaults=DocumentMeta(CASE, "Antrag"), allow_root=True
        )
        assert rerun.aborted is None and rerun.stored == len(left)
        with archive.reading() as session:
            for digest in digests.values():
                assert (
                    session.scalar(
                        select(func.count()).select_from(Document).where(Document.sha256 == digest)
                    )
                    == 1
                )
        assert verify(archive, ADMIN).problems == []
    assert sorted(p.name for p in (inbox / "done").glob("*.pdf")) == sorted(digests)
