"""`import --batch`: sidecars, done/ and rejected/ with reasons, re-runs, and a store that goes away."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.documents import case_documents
from ekakte.errors import StorageError
from ekakte.hotfolder import import_directory
from ekakte.ingest import DocumentMeta
from tests.conftest import CASE, OTHER_CASE, READER, fresh_server_env, scans
from tests.services import S3Server, free_port

MakeScan = Callable[..., Path]


def inbox(tmp_path: Path) -> Path:
    path = tmp_path / "inbox"
    path.mkdir(exist_ok=True)
    return path


def put(
    folder: Path, name: str, data: bytes, sidecar: dict[str, object] | None = None, sidecar_name: str = ""
) -> None:
    (folder / name).write_bytes(data)
    if sidecar is not None:
        (folder / (sidecar_name or Path(name).stem + ".json")).write_text(json.dumps(sidecar))


def pdf(seed: int) -> bytes:
    return scans.pdf_bytes([[f"Seite {seed}"]], dpi=40, seed=seed)


def test_batch_files_stored_and_refused_land_in_done_and_rejected(
    archive: Archive, actor: Actor, tmp_path: Path
) -> None:
    box = inbox(tmp_path)
    put(box, "a.pdf", pdf(1), {"case": CASE, "type": "Antrag", "received": "02.11.2026", "title": "Antrag"})
    put(box, "b.tif", scans.tiff_bytes([["x"], ["y"]], dpi=40), {"case": OTHER_CASE, "type": "mietvertrag"})
    put(box, "c.pdf", b"not a pdf", {"case": CASE, "type": "Antrag"})
    put(box, "d.pdf", pdf(4), {"case": CASE, "type": "Liebesbrief"})
    put(box, "e.pdf", pdf(5), {"case": CASE, "tpye": "Antrag"})
    put(box, "f.pdf", pdf(6))  # no sidecar and no defaults

    report = import_directory(archive, actor, box, allow_root=True)

    assert report.stored == 2
    assert sorted(r.filename for r in report.rejected) == ["c.pdf", "d.pdf", "e.pdf", "f.pdf"]
    assert sorted(p.name for p in (box / "done").iterdir()) == ["a.json", "a.pdf", "b.json", "b.tif"]
    rejected = box / "rejected"
    assert (rejected / "c.pdf.reason.txt").read_text() == (
        "not a PDF, TIFF, JPEG or PNG file (judged by its content, not its name)\n"
    )
    assert "unknown document type 'Liebesbrief'" in (rejected / "d.pdf.reason.txt").read_text()
    assert "unknown field(s) 'tpye'" in (rejected / "e.pdf.reason.txt").read_text()
    assert "no case number" in (rejected / "f.pdf.reason.txt").read_text()
    assert (rejected / "c.json").exists() and (rejected / "e.json").exists()
    assert [p.name for p in box.iterdir() if p.is_file()] == []
    assert [d.document_type for d in case_documents(archive, READER, OTHER_CASE).documents] == ["Mietvertrag"]


def test_rerunning_a_batch_stores_nothing_twice(archive: Archive, actor: Actor, tmp_path: Path) -> None:
    box = inbox(tmp_path)
    put(box, "a.pdf", pdf(1), {"case": CASE, "type": "Antrag"})
    assert import_directory(archive, actor, box, allow_root=True).stored == 1
    # The operator copies the same scan in again (or a crash kept it from moving to done/).
    put(box, "a.pdf", pdf(1), {"case": CASE, "type": "Antrag"})
    again = import_directory(archive, actor, box, allow_root=True)
    assert (again.stored, again.already_stored) == (0, 1)
    assert sorted(p.name for p in (box / "done").iterdir()) == ["a-1.json", "a-1.pdf", "a.json", "a.pdf"]
    assert len(case_documents(archive, READER, CASE).documents) == 1


def test_defaults_from_the_command_line_apply_where_no_sidecar_says_otherwise(
    archive: Archive, actor: Actor, tmp_path: Path
) -> None:
    box = inbox(tmp_path)
    put(box, "a.pdf", pdf(1))
    put(box, "b.pdf", pdf(2), {"type": "Bescheid"}, sidecar_name="b.pdf.json")
    report = import_directory(archive, actor, box, defaults=DocumentMeta(CASE, "Nachweis"), allow_root=True)
    assert report.stored == 2
    types = sorted(d.document_type for d in case_documents(archive, READER, CASE).documents)
    assert types == ["Bescheid", "Nachweis"]


def test_a_sidecar_that_fits_two_files_is_refused_as_ambiguous(
    archive: Archive, actor: Actor, tmp_path: Path
) -> None:
    box = inbox(tmp_path)
    put(box, "a.pdf", pdf(1), {"case": CASE, "type": "Antrag"})
    put(box, "a.png", scans.image_bytes(["x"], "PNG", dpi=30))
    report = import_directory(archive, actor, box, allow_root=True)
    assert len(report.rejected) == 2
    assert all("fits several files" in r.reason for r in report.rejected)
    assert (box / "a.json").exists()  # left for the operator to rename


def test_files_still_being_written_are_left_for_the_next_run(
    archive: Archive, actor: Actor, tmp_path: Path
) -> None:
    box = inbox(tmp_path)
    put(box, "old.pdf", pdf(1), {"case": CASE, "type": "Antrag"})
    put(box, "new.pdf", pdf(2), {"case": CASE, "type": "Antrag"})
    past = time.time() - 600
    os.utime(box / "old.pdf", (past, past))
    report = import_directory(archive, actor, box, settle_seconds=60, allow_root=True)
    assert report.stored == 1 and report.skipped == ["new.pdf"]
    assert (box / "new.pdf").exists()


@pytest.mark.server
def test_an_unreachable_object_store_stops_the_batch_and_leaves_the_files(
    pg_url: str, s3: S3Server, actor: Actor, tmp_path: Path
) -> None:
    settings = load_settings(fresh_server_env(tmp_path / "home", pg_url, s3))
    box = inbox(tmp_path)
    for i in range(3):
        put(box, f"s{i}.pdf", pdf(i), {"case": CASE, "type": "Antrag"})
    broken = replace(settings, s3_endpoint=f"http://127.0.0.1:{free_port()}")
    with Archive.open(broken) as archive:
        report = import_directory(archive, actor, box, allow_root=True)
        assert isinstance(report.aborted, StorageError)
        assert "cannot reach the object store" in str(report.aborted)
        assert report.stored == 0 and report.rejected == []
    assert sorted(p.name for p in box.glob("*.pdf")) == ["s0.pdf", "s1.pdf", "s2.pdf"]

    with Archive.open(settings) as archive:  # the store is back: the re-run stores everything once
        assert import_directory(archive, actor, box, allow_root=True).stored == 3
        assert len(case_documents(archive, READER, CASE).documents) == 3
