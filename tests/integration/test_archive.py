"""The archive-core contract, run on both stacks: SQLite + directory and PostgreSQL + S3."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import Case, Document, ImportBatch, Page
from ekakte.documents import case_documents, export_original, get_document
from ekakte.errors import (
    ChecksumMismatch,
    IntegrityError,
    InvalidInput,
    NotPermitted,
    OutputExists,
    UnsupportedFile,
)
from ekakte.ingest import DocumentMeta, import_document, import_files
from ekakte.integrity import gc, verify
from ekakte.storage.base import ORIGINALS_PREFIX
from tests.conftest import ADMIN, CASE, OTHER_CASE, READER, STACKS_WITH_RGW, make_stack

MakeScan = Callable[..., Path]


@pytest.fixture(params=STACKS_WITH_RGW)
def stack_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Also on RadosGW with an Object Lock bucket, which checks digests differently from moto."""
    return make_stack(request, tmp_path)


def counts(archive: Archive) -> tuple[int, int, int]:
    with archive.reading() as s:
        docs = s.scalar(select(func.count()).select_from(Document))
        pages = s.scalar(select(func.count()).select_from(Page))
    objects = len(list(archive.store.list(ORIGINALS_PREFIX)))
    return int(docs or 0), int(pages or 0), objects


def overwrite_object(archive: Archive, key: str, data: bytes) -> None:
    """Corrupt a stored original behind ekakte's back (bit rot, a careless admin)."""
    from ekakte.storage.local import LocalStore

    store = archive.store
    if isinstance(store, LocalStore):
        (store.root / key).write_bytes(data)
    else:
        import io

        store.client.put_object(store.bucket, key, io.BytesIO(data), len(data))  # type: ignore[attr-defined]


def test_import_stores_object_rows_and_pages(archive: Archive, actor: Actor, make_scan: MakeScan) -> None:
    path = make_scan("antrag.pdf", pages=3)
    result = import_document(
        archive, actor, path, DocumentMeta(CASE, "antrag", date(2026, 11, 2), "Antrag auf Bürgergeld")
    )
    assert result.status == "stored" and result.page_count == 3
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    doc = get_document(archive, READER, result.document_id)
    assert (doc.case_number, doc.document_type, doc.title) == (CASE, "Antrag", "Antrag auf Bürgergeld")
    assert (doc.original_filename, doc.media_type, doc.size_bytes) == (
        "antrag.pdf",
        "application/pdf",
        path.stat().st_size,
    )
    assert (doc.operator, doc.station, doc.state) == ("scan-operator", "scan-test-1", "stored")
    assert CASE not in doc.storage_key and str(result.document_id) in doc.storage_key
    info = archive.store.stat(doc.storage_key)
    assert info is not None and info.sha256 == result.sha256
    assert counts(archive) == (1, 3, 1)


def test_reimport_of_same_bytes_is_a_noop(archive: Archive, actor: Actor, make_scan: MakeScan) -> None:
    path = make_scan()
    first = import_document(archive, actor, path, DocumentMeta(CASE, "Antrag"))
    again = import_document(archive, actor, path, DocumentMeta(CASE, "Bescheid", title="other metadata"))
    assert again.status == "already_stored" and again.document_id == first.document_id
    assert counts(archive) == (1, 1, 1)


def test_reimport_of_a_scan_being_deleted_is_refused_not_called_stored(
    archive: Archive, actor: Actor, make_scan: MakeScan
) -> None:
    """A sweep marked the document `deleting` and has not finished: the same scan imported again must
    not be told "already stored" (the next sweep removes it), and nothing new is stored beside it."""
    path = make_scan()
    first = import_document(archive, actor, path, DocumentMeta(CASE, "Antrag"))
    with archive.transaction() as session:
        session.execute(update(Document).values(state="deleting"))
    with pytest.raises(InvalidInput, match=r"being deleted from case .* retention sweep"):
        import_document(archive, actor, path, DocumentMeta(CASE, "Antrag"))
    assert counts(archive) == (1, 1, 1)
    with archive.transaction() as session:  # a hold came: the sweep makes it visible again
        session.execute(update(Document).values(state="stored"))
    again = import_document(archive, actor, path, DocumentMeta(CASE, "Antrag"))
    assert again.status == "already_stored" and again.document_id == first.document_id


def test_same_bytes_for_another_case_are_stored_for_that_case(
    archive: Archive, actor: Actor, make_scan: MakeScan
) -> None:
    path = make_scan()
    a = import_document(archive, actor, path, DocumentMeta(CASE, "Antrag"))
    b = import_document(archive, actor, path, DocumentMeta(OTHER_CASE, "Antrag"))
    assert b.status == "stored" and a.document_id != b.document_id
    assert counts(archive)[0] == 2


def test_concurrent_imports_of_the_same_bytes_store_one_document(
    archive: Archive, actor: Actor, make_scan: MakeScan
) -> None:
    path = make_scan(pages=2)
    results = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        results.append(import_document(archive, actor, path, DocumentMeta(CASE, "Antrag")))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status for r in results) == ["already_stored"] * 3 + ["stored"]
    assert len({r.document_id for r in results}) == 1
    assert counts(archive) == (1, 2, 1)  # the losers' objects were removed again


@pytest.mark.parametrize(
    ("meta", "error", "message"),
    [
        (DocumentMeta("12345-BG-1", "Antrag"), InvalidInput, "invalid case number"),
        (DocumentMeta(CASE, "Liebesbrief"), InvalidInput, "unknown document type"),
        (DocumentMeta(CASE, "Antrag", title="line\nbreak"), InvalidInput, "invalid title"),
    ],
)
def test_refused_metadata_stores_nothing(
    archive: Archive, actor: Actor, make_scan: MakeScan, meta: DocumentMeta, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        import_document(archive, actor, make_scan(), meta)
    assert counts(archive) == (0, 0, 0)


def test_refused_file_stores_nothing(archive: Archive, actor: Actor, tmp_path: Path) -> None:
    fake = tmp_path / "brief.pdf"
    fake.write_bytes(b"plain text")
    with pytest.raises(UnsupportedFile, match="not a PDF, TIFF, JPEG or PNG"):
        import_document(archive, actor, fake, DocumentMeta(CASE, "Antrag"))
    with pytest.raises(InvalidInput, match="no such file"):
        import_document(archive, actor, tmp_path / "missing.pdf", DocumentMeta(CASE, "Antrag"))
    assert counts(archive) == (0, 0, 0)


def test_case_show_lists_newest_first_and_filters_by_type(
    archive: Archive, actor: Actor, make_scan: MakeScan
) -> None:
    for seed, (doc_type, received) in enumerate(
        [("Antrag", date(2026, 1, 5)), ("Bescheid", date(2026, 3, 1)), ("Antrag", date(2026, 2, 1))]
    ):
        import_document(archive, actor, make_scan(seed=seed), DocumentMeta(CASE, doc_type, received))
    import_document(archive, actor, make_scan(seed=99), DocumentMeta(OTHER_CASE, "Antrag"))
    view = case_documents(archive, READER, CASE.lower())
    assert [d.received_on for d in view.documents] == [date(2026, 3, 1), date(2026, 2, 1), date(2026, 1, 5)]
    assert view.case.case_number == CASE
    antraege = case_documents(archive, READER, CASE, "ANTRAG").documents
    assert [d.document_type for d in antraege] == ["Antrag", "Antrag"]
    with pytest.raises(NotPermitted, match="not permitted: case 99999BG9999999"):
        case_documents(archive, READER, "99999BG9999999")  # the same answer as for another team's case


def test_export_streams_the_verified_original_and_refuses_to_overwrite(
    archive: Archive, actor: Actor, make_scan: MakeScan, tmp_path: Path
) -> None:
    path = make_scan(kind="tif", pages=2)
    doc_id = import_document(archive, actor, path, DocumentMeta(CASE, "Mietvertrag")).document_id
    out = tmp_path / "out.tif"
    export_original(archive, READER, doc_id, out)
    assert out.read_bytes() == path.read_bytes()
    with pytest.raises(OutputExists, match=r"out\.tif exists$"):
        export_original(archive, READER, doc_id, out)
    out.write_bytes(b"old")
    export_original(archive, READER, doc_id, out, force=True)
    assert out.read_bytes() == path.read_bytes()


def test_a_corrupt_object_is_never_handed_out(
    archive: Archive, actor: Actor, make_scan: MakeScan, tmp_path: Path
) -> None:
    path = make_scan()
    doc_id = import_document(archive, actor, path, DocumentMeta(CASE, "Antrag")).document_id
    doc = get_document(archive, READER, doc_id)
    overwrite_object(archive, doc.storage_key, b"X" * doc.size_bytes)
    out = tmp_path / "copy.pdf"
    with pytest.raises(ChecksumMismatch, match="is corrupt"):
        export_original(archive, READER, doc_id, out)
    assert not out.exists() and list(tmp_path.glob(".copy.pdf*")) == []


def test_verify_reports_missing_corrupt_and_unreferenced_objects(
    archive: Archive, actor: Actor, make_scan: MakeScan
) -> None:
    ids = [
        import_document(archive, actor, make_scan(seed=i), DocumentMeta(CASE, "Antrag")).document_id
        for i in range(4)
    ]
    assert verify(archive, ADMIN).ok
    missing = get_document(archive, READER, ids[0])
    corrupt = get_document(archive, READER, ids[1])
    archive.store.delete(missing.storage_key)
    overwrite_object(archive, corrupt.storage_key, b"Y" * corrupt.size_bytes)
    orphan_key = f"{ORIGINALS_PREFIX}ff/ff/{uuid.uuid4()}"
    data = b"left behind by a crashed import"
    import io

    archive.store.put(orphan_key, io.BytesIO(data), len(data), hashlib.sha256(data).hexdigest(), "x")

    report = verify(archive, ADMIN)
    assert not report.ok
    found = {(p.kind, p.key) for p in report.problems}
    assert found == {
        ("missing", missing.storage_key),
        ("corrupt", corrupt.storage_key),
        ("unreferenced", orphan_key),
    }
    assert report.documents_checked == 4


def test_verify_a_random_sample_at_a_capped_rate(archive: Archive, actor: Actor, make_scan: MakeScan) -> None:
    import time

    ids = [
        import_document(archive, actor, make_scan(seed=20 + i), DocumentMeta(CASE, "Antrag")).document_id
        for i in range(5)
    ]
    broken = get_document(archive, READER, ids[2])
    archive.store.delete(broken.storage_key)
    whole = verify(archive, ADMIN)
    sample = verify(archive, ADMIN, sample=3)
    assert sample.documents_checked == 3 and sample.objects_listed == 0
    assert {p.kind for p in sample.problems} <= {"missing"}
    everything = verify(archive, ADMIN, sample=50)  # more than there are: each document once
    assert everything.documents_checked == 5 and [p.key for p in everything.problems] == [broken.storage_key]
    assert not whole.ok and whole.count("missing") == 1

    total = whole.bytes_hashed
    rate = total / 0.5 / 1e6  # MB/s at which reading everything takes half a second
    start = time.monotonic()
    capped = verify(archive, ADMIN, rate_mb_s=rate)
    assert time.monotonic() - start >= 0.45 and capped.bytes_hashed == total
    with pytest.raises(InvalidInput, match="sample"):
        verify(archive, ADMIN, sample=0)
    with pytest.raises(InvalidInput, match="rate"):
        verify(archive, ADMIN, rate_mb_s=0)


def test_a_crash_between_object_and_row_leaves_only_an_unreferenced_object(
    archive: Archive, actor: Actor, make_scan: MakeScan, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ekakte.ingest as ingest

    def crash(*_args: object, **_kwargs: object) -> bool:
        raise SystemExit("killed between put and insert")

    # The process dies before the row is written and before it could clean up after itself.
    monkeypatch.setattr(ingest, "_record", crash)
    monkeypatch.setattr(ingest, "_discard_object", lambda *_a: None)
    path = make_scan()
    with pytest.raises(SystemExit):
        import_document(archive, actor, path, DocumentMeta(CASE, "Antrag"))
    monkeypatch.undo()

    assert counts(archive) == (0, 0, 1)
    report = verify(archive, ADMIN)
    assert report.ok and report.count("unreferenced") == 1

    assert import_document(archive, actor, path, DocumentMeta(CASE, "Antrag")).status == "stored"
    assert gc(archive, ADMIN).kept_young == 1  # within the grace period: a running import may claim it
    removed = gc(archive, ADMIN, grace_hours=0)
    assert len(removed.removed) == 1
    assert verify(archive, ADMIN).problems == []
    assert counts(archive) == (1, 1, 1)


def test_gc_dry_run_removes_nothing(archive: Archive, actor: Actor) -> None:
    import io

    archive.store.put(
        f"{ORIGINALS_PREFIX}00/00/{uuid.uuid4()}", io.BytesIO(b"x"), 1, hashlib.sha256(b"x").hexdigest(), "x"
    )
    report = gc(archive, ADMIN, grace_hours=0, dry_run=True)
    assert len(report.removed) == 1
    assert len(list(archive.store.list(ORIGINALS_PREFIX))) == 1


def test_import_files_records_a_batch_and_goes_on_after_a_refusal(
    archive: Archive, actor: Actor, make_scan: MakeScan, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"")
    report = import_files(
        archive, actor, [make_scan(seed=1), bad, make_scan(seed=2)], DocumentMeta(CASE, "Nachweis")
    )
    assert (report.stored, len(report.rejected)) == (2, 1)
    assert report.rejected[0].reason == "empty file (0 bytes)"
    with archive.reading() as s:
        batch = s.get(ImportBatch, report.batch_id)
        assert batch is not None and (batch.stored, batch.rejected, batch.operator) == (2, 1, "scan-operator")
        assert batch.finished_at is not None
        assert s.scalar(select(func.count()).where(Document.batch_id == report.batch_id)) == 2


def test_a_document_row_never_exists_without_its_case(
    archive: Archive, actor: Actor, make_scan: MakeScan
) -> None:
    import_document(archive, actor, make_scan(), DocumentMeta(CASE, "Antrag"))
    with archive.reading() as s:
        assert s.scalar(select(Case.case_number)) == CASE


def test_a_missing_object_is_reported_on_read(
    archive: Archive, actor: Actor, make_scan: MakeScan, tmp_path: Path
) -> None:
    doc_id = import_document(archive, actor, make_scan(), DocumentMeta(CASE, "Antrag")).document_id
    archive.store.delete(get_document(archive, READER, doc_id).storage_key)
    with pytest.raises(IntegrityError, match="missing"):
        export_original(archive, READER, doc_id, tmp_path / "x.pdf")


def test_a_put_whose_bytes_do_not_match_their_digest_leaves_nothing(archive: Archive) -> None:
    import io

    key = f"{ORIGINALS_PREFIX}ab/cd/{uuid.uuid4()}"
    with pytest.raises(ChecksumMismatch):
        archive.store.put(key, io.BytesIO(b"changed"), 7, hashlib.sha256(b"scanned").hexdigest(), "x")
    assert archive.store.stat(key) is None
