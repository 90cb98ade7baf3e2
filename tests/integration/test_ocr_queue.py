"""The OCR queue and heavy documents: claim order, one reader per document, a killed worker's copies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.db.models import Page
from ekakte.ingest import DocumentMeta, import_document
from ekakte.ocr import engine
from ekakte.ocr.worker import _Queue, run_ocr
from ekakte.principals import add_user
from ekakte.setup import initialize
from tests.conftest import ADMIN, CASE, OPERATOR, ekakte_process, embedded_env, organise, scans

needs_tesseract = pytest.mark.skipif(
    not engine.available() and os.environ.get("CI") != "true",
    reason="tesseract is not installed (make services installs it as root)",
)

OCR = Actor("ocr-service")


def store(archive: Archive, tmp_path: Path, name: str, data: bytes) -> uuid.UUID:
    path = tmp_path / "scans" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return import_document(
        archive, OPERATOR, path, DocumentMeta(CASE, "Antrag", date(2026, 3, 1))
    ).document_id


def digital(pages: int, tag: str) -> bytes:
    return scans.born_digital_pdf_bytes(
        [[f"{tag} Seite {n}", "Bewilligungszeitraum"] for n in range(1, pages + 1)]
    )


def page_ids(archive: Archive, document_id: uuid.UUID) -> set[int]:
    with archive.reading() as session:
        return set(session.scalars(select(Page.id).where(Page.document_id == document_id)))


def test_a_small_document_is_claimed_before_the_rest_of_a_huge_one(archive: Archive, tmp_path: Path) -> None:
    big = store(archive, tmp_path, "big.pdf", digital(200, "Akte"))
    small = store(archive, tmp_path, "small.pdf", digital(3, "Brief"))
    queue = _Queue(archive, "test-worker", None)
    claims = [queue.claim(4) for _ in range(60)]
    order = [c.document_id for claim in claims for c in claim]
    assert len(order) == 203 and set(order) == {big, small}
    # The first turn of the big document (20 pages), then the small one: claimed in the 6th claim of 4.
    small_claims = [i for i, claim in enumerate(claims) if any(c.document_id == small for c in claim)]
    assert max(small_claims) < 6, small_claims
    assert {c.page_id for claim in claims[:6] for c in claim} >= page_ids(archive, small)
    # The big document's pages are claimed in their order all the same.
    big_numbers = [c.number for claim in claims for c in claim if c.document_id == big]
    assert big_numbers == list(range(1, 201))


def test_the_claim_in_turns_reads_the_queue_index_in_its_order(archive: Archive, tmp_path: Path) -> None:
    """The turn order is an expression, and an index serves it only when the claim writes it as the index
    does (migration 0012): else a backlog of 200,000 pages was sorted at every claim (PostgreSQL 227 ms,
    SQLite 69 ms, docs/benchmarks.md). PostgreSQL is kept from a sequential scan, which it would rightly
    prefer on this small table, so that only the index can give the order without a sort."""
    store(archive, tmp_path, "big.pdf", digital(30, "Akte"))
    statement = _Queue(archive, "test-worker", None).candidates(datetime.now(UTC), 4)
    with archive.transaction() as session:
        conn = session.connection()
        compiled = statement.compile(dialect=conn.dialect)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars().all()
        else:
            params = tuple(compiled.params[name] for name in compiled.positiontup or ())
            plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params)]
    text = "\n".join(plan)
    assert "ix_pages_pending_turns" in text, text
    assert "Sort" not in text and "TEMP B-TREE" not in text, text


@pytest.fixture
def ocr_archive(archive: Archive) -> Archive:
    add_user(archive, ADMIN, OCR.name, ["service"])
    return archive


@needs_tesseract
def test_a_born_digital_pdf_is_opened_once_for_all_its_pages(
    ocr_archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader per page made a 3,000-page text layer take minutes (pages × file size); the count of
    readers made during a real worker run says it is one per document and worker now."""
    from pypdf import PdfReader

    doc = store(ocr_archive, tmp_path, "digital.pdf", digital(60, "Mietvertrag"))
    made: list[object] = []
    init = PdfReader.__init__

    def counting_init(self: PdfReader, *args: Any, **kwargs: Any) -> None:
        made.append(args[0] if args else kwargs.get("stream"))
        init(self, *args, **kwargs)

    monkeypatch.setattr(PdfReader, "__init__", counting_init)
    report = run_ocr(ocr_archive, OCR, workers=2)
    assert (report.done, report.failed) == (60, 0)
    assert len(made) == 1
    with ocr_archive.reading() as session:
        texts = session.scalars(select(Page.text).where(Page.document_id == doc).order_by(Page.number)).all()
    assert [t.splitlines()[0] if t else None for t in texts] == [
        f"Mietvertrag Seite {n}" for n in range(1, 61)
    ]


def _embedded_ocr_env(tmp_path: Path) -> dict[str, str]:
    env = embedded_env(tmp_path / "home")
    initialize(load_settings(env))
    organise(load_settings(env))
    with Archive.open(load_settings(env)) as archive:
        add_user(archive, ADMIN, OCR.name, ["service"])
        add_user(archive, ADMIN, Actor.from_os().name, ["service"])
    return env


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@needs_tesseract
def test_leftover_folders_of_dead_workers_go_and_those_of_live_processes_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    env = _embedded_ocr_env(tmp_path)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        dead_folder = tmp / f"ekakte-ocr-{_dead_pid()}-k1ll3d"
        (dead_folder / "ekakte-page-x").mkdir(parents=True)
        (dead_folder / "0e4b-original").write_bytes(b"%PDF- a health document")
        (dead_folder / "ekakte-page-x" / "page.jpg").write_bytes(b"\xff\xd8\xff")
        live_folder = tmp / f"ekakte-ocr-{live.pid}-busy01"
        live_folder.mkdir()
        (live_folder / "original").write_bytes(b"being read")
        not_ours = tmp / "ekakte-ocr-notapid"
        not_ours.mkdir()
        with Archive.open(load_settings(env)) as archive:
            assert run_ocr(archive, OCR).pages == 0
        assert not dead_folder.exists()
        assert (live_folder / "original").read_bytes() == b"being read"
        assert not_ours.exists()
        assert sorted(p.name for p in tmp.iterdir()) == sorted([live_folder.name, not_ours.name])
    finally:
        live.kill()
        live.wait()


@needs_tesseract
def test_a_killed_workers_copy_of_the_original_is_removed_by_the_next_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**_embedded_ocr_env(tmp_path), "TMPDIR": str(tmp)}
    with Archive.open(load_settings(env)) as archive:
        pages = [scans.scan_page(scans.german_lines(seed, 8), seed=seed) for seed in (81, 82, 83, 84)]
        doc = store(archive, tmp_path, "scan.pdf", scans.scan_pdf_bytes(pages))
        worker = ekakte_process(env, "ocr", "work", "--once", "--workers", "1", start_new_session=True)
        copy = None
        deadline = time.monotonic() + 60
        while copy is None and time.monotonic() < deadline:
            copy = next(tmp.glob(f"ekakte-ocr-{worker.pid}-*/{doc}"), None)
            time.sleep(0.05)
        assert copy is not None, "the worker did not fetch the original"
        os.killpg(worker.pid, signal.SIGKILL)  # mid-page: no chance to clean up
        worker.wait()
        assert copy.exists()

        monkeypatch.setattr(tempfile, "tempdir", str(tmp))
        run_ocr(archive, OCR)  # the killed worker's pages wait for their leases to expire
        assert not copy.parent.exists()
        assert list(tmp.iterdir()) == []  # the next worker's own folder went when it stopped
