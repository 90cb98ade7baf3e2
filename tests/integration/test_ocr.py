"""OCR with the real tesseract on both stacks: text layers, rotation, failures, killed and racing workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.db.models import AuditEntry, Page
from ekakte.documents import document_text, export_original
from ekakte.errors import NotPermitted, StorageError
from ekakte.ingest import DocumentMeta, import_document
from ekakte.ocr import engine
from ekakte.ocr.worker import run_ocr
from ekakte.principals import add_user
from tests.conftest import ADMIN, CASE, OPERATOR, READER, ekakte_process, scans

pytestmark = pytest.mark.skipif(
    not engine.available() and os.environ.get("CI") != "true",
    reason="tesseract is not installed (make services installs it as root)",
)

OCR = Actor("ocr-service")
LINES = 8  # lines per synthetic page: enough text to measure, quick to read


@pytest.fixture
def ocr_archive(archive: Archive) -> Archive:
    add_user(archive, ADMIN, OCR.name, ["service"])
    return archive


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "scans" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def scanned_pdf(tmp_path: Path, seeds: list[int], **page_options: object) -> tuple[Path, list[str]]:
    """A 300 dpi scanner PDF with one synthetic page per seed; returns it and each page's true text."""
    truths = [scans.german_lines(seed, LINES) for seed in seeds]
    pages = [
        scans.scan_page(lines, seed=seed, **page_options) for seed, lines in zip(seeds, truths, strict=True)
    ]
    path = write(tmp_path, f"scan-{seeds[0]}-{uuid.uuid4().hex[:6]}.pdf", scans.scan_pdf_bytes(pages))
    return path, ["\n".join(t) for t in truths]


def store(archive: Archive, path: Path, doc_type: str = "Antrag") -> uuid.UUID:
    meta = DocumentMeta(CASE, doc_type, date(2026, 3, 1))
    return import_document(archive, OPERATOR, path, meta).document_id


def pages_of(archive: Archive, document_id: uuid.UUID) -> list[Page]:
    with archive.reading() as session:
        return list(
            session.scalars(select(Page).where(Page.document_id == document_id).order_by(Page.number))
        )


def test_import_returns_with_pages_pending_and_the_worker_reads_them(
    ocr_archive: Archive, tmp_path: Path
) -> None:
    path, truths = scanned_pdf(tmp_path, [11, 12])
    doc = store(ocr_archive, path)
    assert [p.ocr_state for p in pages_of(ocr_archive, doc)] == ["pending", "pending"]

    report = run_ocr(ocr_archive, OCR, workers=2)
    assert (report.done, report.failed, report.lost) == (2, 0, 0)
    for page, truth in zip(pages_of(ocr_archive, doc), truths, strict=True):
        assert page.ocr_state == "done"
        assert page.engine is not None and page.engine.startswith("tesseract ")
        assert "embedded image" in page.engine  # the scanner's JPEG went to tesseract unchanged
        assert page.language == "deu+eng"
        assert page.confidence is not None and page.confidence > 70
        assert page.text is not None and scans.character_error_rate(truth, page.text) <= 0.03
        assert page.lease_owner is None and page.attempts == 1


def test_character_error_rate_on_synthetic_scans_stays_within_3_percent(
    ocr_archive: Archive, tmp_path: Path
) -> None:
    """Skewed, blurred, noisy JPEG pages at 300 dpi, full of umlauts, ß, amounts and dates."""
    path, truths = scanned_pdf(tmp_path, [21, 22, 23])
    doc = store(ocr_archive, path)
    run_ocr(ocr_archive, OCR)
    rates = [
        scans.character_error_rate(truth, page.text or "")
        for page, truth in zip(pages_of(ocr_archive, doc), truths, strict=True)
    ]
    assert max(rates) <= 0.03, rates


def test_born_digital_pages_take_their_text_layer_without_ocr(ocr_archive: Archive, tmp_path: Path) -> None:
    lines = [["Mietvertrag über Wohnraum", "Grundmiete 450,00 Euro"], ["Seite zwei", "Kaution"]]
    doc = store(ocr_archive, write(tmp_path, "digital.pdf", scans.born_digital_pdf_bytes(lines)))
    run_ocr(ocr_archive, OCR)
    pages = pages_of(ocr_archive, doc)
    assert [p.engine for p in pages] == ["pypdf text layer", "pypdf text layer"]
    assert pages[0].text is not None and "Mietvertrag über Wohnraum" in pages[0].text
    assert pages[0].confidence is None  # nothing was guessed


@pytest.mark.parametrize("turned", ["upside_down", "sideways"])
def test_upside_down_and_sideways_pages_are_turned_and_read(
    ocr_archive: Archive, tmp_path: Path, turned: str
) -> None:
    path, truths = scanned_pdf(tmp_path, [31], **{turned: True})
    doc = store(ocr_archive, path)
    run_ocr(ocr_archive, OCR)
    (page,) = pages_of(ocr_archive, doc)
    assert page.rotation in ((180,) if turned == "upside_down" else (90, 270))
    assert scans.character_error_rate(truths[0], page.text or "") <= 0.03


def test_tiff_jpeg_and_png_pages_are_read(ocr_archive: Archive, tmp_path: Path) -> None:
    truths = [scans.german_lines(seed, LINES) for seed in (41, 42)]
    images = [scans.scan_page(lines, seed=41 + i, quality=None) for i, lines in enumerate(truths)]
    tiff = write(tmp_path, "two.tif", _save(images, "TIFF", save_all=True, append_images=images[1:]))
    jpeg = write(tmp_path, "one.jpg", _save(images[:1], "JPEG", quality=85))
    png = write(tmp_path, "one.png", _save(images[1:], "PNG"))
    docs = {
        name: store(ocr_archive, path, "Nachweis")
        for name, path in (("tif", tiff), ("jpg", jpeg), ("png", png))
    }
    run_ocr(ocr_archive, OCR)
    texts = {name: [p.text or "" for p in pages_of(ocr_archive, doc)] for name, doc in docs.items()}
    expected = {"tif": truths, "jpg": truths[:1], "png": truths[1:]}
    for name, pages in texts.items():
        assert len(pages) == len(expected[name])
        for text, truth in zip(pages, expected[name], strict=True):
            assert scans.character_error_rate("\n".join(truth), text) <= 0.03, name


def _save(images: list[object], fmt: str, **options: object) -> bytes:
    import io

    out = io.BytesIO()
    images[0].save(out, fmt, dpi=(300, 300), **options)  # type: ignore[attr-defined]
    return out.getvalue()


def test_doc_show_text_gives_the_pages_to_readers_only(ocr_archive: Archive, tmp_path: Path) -> None:
    path, _truths = scanned_pdf(tmp_path, [51])
    doc = store(ocr_archive, path)
    _info, before = document_text(ocr_archive, READER, doc)
    assert [(p.number, p.state, p.text) for p in before] == [(1, "pending", None)]
    run_ocr(ocr_archive, OCR)
    _info, after = document_text(ocr_archive, READER, doc)
    assert after[0].state == "done" and after[0].text
    with pytest.raises(NotPermitted):
        document_text(ocr_archive, OPERATOR, doc)  # a scanning station sees no contents


def test_only_scan_operators_and_services_run_ocr(ocr_archive: Archive) -> None:
    with pytest.raises(NotPermitted):
        run_ocr(ocr_archive, READER)
    with pytest.raises(NotPermitted):
        run_ocr(ocr_archive, ADMIN)
    assert run_ocr(ocr_archive, OPERATOR).pages == 0


def failing_tesseract(tmp_path: Path) -> Path:
    """A tesseract that answers for its version and languages but fails on every page (fault injection)."""
    real = engine.shutil.which("tesseract")
    script = tmp_path / "broken-tesseract"
    script.write_text(
        "#!/bin/sh\n"
        'case "$1" in --version|--list-langs) exec ' + str(real) + ' "$@";; esac\n'
        'echo "Error in pixReadStream: simulated failure" >&2\nexit 1\n'
    )
    script.chmod(0o755)
    return script


def tesseract_config(tmp_path: Path, program: Path) -> str:
    """A config file naming `program` as tesseract: the one place the setting is read from."""
    config = tmp_path / "tesseract.toml"
    config.write_text(f'tesseract = "{program}"\n')
    return str(config)


def test_a_failing_page_is_retried_then_left_failed_and_the_document_stays_retrievable(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **stack_env,
        "EKAKTE_CONFIG": tesseract_config(tmp_path, failing_tesseract(tmp_path)),
        "EKAKTE_OCR_MAX_ATTEMPTS": "2",
    }
    with Archive.open(load_settings(env)) as archive:
        add_user(archive, ADMIN, OCR.name, ["service"])
        path, _ = scanned_pdf(tmp_path, [61])
        doc = store(archive, path)
        report = run_ocr(archive, OCR)
        (page,) = pages_of(archive, doc)
        assert (report.failed, report.retried) == (1, 1)
        assert page.ocr_state == "failed" and page.attempts == 2
        assert page.reason is not None and "simulated failure" in page.reason
        out = export_original(archive, READER, doc, tmp_path / "back.pdf")
        assert (tmp_path / "back.pdf").read_bytes() == path.read_bytes() and out.id == doc


def test_ocr_retry_queues_failed_pages_again_and_they_are_read_once_the_cause_is_mended(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    """A page that failed (here: a broken tesseract) stays failed; `ekakte ocr retry` queues it again
    with its attempts from 0, and the next run with a working tesseract reads it."""
    broken = {
        **stack_env,
        "EKAKTE_CONFIG": tesseract_config(tmp_path, failing_tesseract(tmp_path)),
        "EKAKTE_OCR_MAX_ATTEMPTS": "1",
    }
    with Archive.open(load_settings(broken)) as archive:
        add_user(archive, ADMIN, OCR.name, ["service"])
        _os_service(archive)  # `ekakte ocr retry` below runs as this process's OS user
        path, _ = scanned_pdf(tmp_path, [62])
        doc = store(archive, path)
        other = store(archive, scanned_pdf(tmp_path / "other", [63])[0])
        assert run_ocr(archive, OCR).failed == 2
        assert run_ocr(archive, OCR).pages == 0  # failed stays failed

    def retry(*args: str) -> dict[str, int]:
        process = ekakte_process(stack_env, "ocr", "retry", *args, "--json")
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        return dict(json.loads(out))

    assert retry("--document", str(doc)) == {"queued": 1}
    assert retry("--document", str(doc)) == {"queued": 0}  # pending now, nothing failed
    with Archive.open(load_settings(stack_env)) as archive:
        (page,) = pages_of(archive, doc)
        assert (page.ocr_state, page.attempts, page.reason) == ("pending", 0, None)
        assert pages_of(archive, other)[0].ocr_state == "failed"  # only the document asked for
        report = run_ocr(archive, OCR)
        assert (report.done, report.failed) == (1, 0)
        (page,) = pages_of(archive, doc)
        assert page.ocr_state == "done" and page.text and page.attempts == 1
    assert retry() == {"queued": 1}  # all: the other document's page
    with Archive.open(load_settings(stack_env)) as archive:
        assert run_ocr(archive, OCR).done == 1
    with Archive.open(load_settings(stack_env)) as archive, archive.reading() as session:
        reasons = session.scalars(
            select(AuditEntry.reason).where(AuditEntry.action == "ocr.retry").order_by(AuditEntry.id)
        ).all()
        assert [r.split(":")[1].strip() for r in reasons] == [
            "1 failed page(s) queued again",
            "0 failed page(s) queued again",
            "1 failed page(s) queued again",
        ]


def test_encrypted_pdf_pages_are_skipped_with_the_reason(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    from ekakte.ocr.engine import TesseractEngine
    from ekakte.ocr.task import SKIPPED, PageJob, read_page

    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt(user_password="geheim", owner_password="geheim")
    path = write(tmp_path, "locked.pdf", b"")
    with path.open("wb") as fh:
        writer.write(fh)
    outcome = read_page(PageJob(1, 1, "application/pdf", str(path), "deu+eng"), TesseractEngine())
    assert outcome.status == SKIPPED and outcome.reason is not None and "encrypted" in outcome.reason


def _os_service(archive: Archive) -> Actor:
    """The CLI acts as the OS user of this test process: make it an OCR service."""
    me = Actor.from_os()
    add_user(archive, ADMIN, me.name, ["service"])
    return me


def reading_worker(
    archive: Archive, env: dict[str, str], doc: uuid.UUID, *options: str
) -> subprocess.Popen[str]:
    """`ekakte ocr work --workers 2` in a process group of its own, once it holds pages of `doc` and is
    reading them."""
    worker = ekakte_process(env, "ocr", "work", *options, "--workers", "2", start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(p.lease_owner for p in pages_of(archive, doc)):
            break
        time.sleep(0.05)
    time.sleep(0.3)
    return worker


def test_a_killed_workers_pages_are_picked_up_again(stack_env: dict[str, str], tmp_path: Path) -> None:
    env = {**stack_env, "EKAKTE_OCR_LEASE_SECONDS": "2"}
    with Archive.open(load_settings(env)) as archive:
        me = _os_service(archive)
        path, _ = scanned_pdf(tmp_path, [71, 72, 73, 74])
        doc = store(archive, path)
        worker = reading_worker(archive, env, doc, "--once")
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its tesseract processes, mid-page
        worker.wait()
        after_kill = pages_of(archive, doc)
        held = {p.id for p in after_kill if p.lease_owner}
        assert held, "the worker was killed before it held a page"
        assert all(p.ocr_state == "pending" for p in after_kill if p.id in held)
        done_before = sum(p.ocr_state == "done" for p in after_kill)

        time.sleep(2.1)  # the dead worker's leases expire
        report = run_ocr(archive, me)
        pages = pages_of(archive, doc)
        assert [p.ocr_state for p in pages] == ["done"] * 4
        assert report.done == 4 - done_before  # what was recorded before the kill is not read again
        assert all(p.attempts == 2 for p in pages if p.id in held)


def test_a_stop_sent_to_the_whole_process_group_gives_cut_pages_back_uncounted(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    """Ctrl-C or `kill -TERM -PGID` reaches the worker's tesseract processes too: the pages whose reading
    was cut short go back to the queue without using up an attempt (one attempt only here: counted, it
    would leave them failed)."""
    env = {**stack_env, "EKAKTE_OCR_MAX_ATTEMPTS": "1"}
    with Archive.open(load_settings(env)) as archive:
        me = _os_service(archive)
        path, _ = scanned_pdf(tmp_path, [101, 102, 103, 104])
        doc = store(archive, path)
        worker = reading_worker(archive, env, doc)
        os.killpg(worker.pid, signal.SIGTERM)
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, (out, err)
        pages = pages_of(archive, doc)
        assert not any(p.lease_owner for p in pages)
        assert {p.ocr_state for p in pages} <= {"done", "pending"}, [(p.ocr_state, p.reason) for p in pages]
        assert any(p.ocr_state == "pending" for p in pages), "the stop came after the last page"
        assert all(p.attempts == (p.ocr_state == "done") for p in pages)

        report = run_ocr(archive, me)
        assert [p.ocr_state for p in pages_of(archive, doc)] == ["done"] * 4
        assert report.failed == 0


def test_two_workers_racing_read_each_page_exactly_once(stack_env: dict[str, str], tmp_path: Path) -> None:
    with Archive.open(load_settings(stack_env)) as archive:
        _os_service(archive)
        docs = [
            store(archive, scanned_pdf(tmp_path, [80 + 3 * i, 81 + 3 * i, 82 + 3 * i])[0]) for i in range(2)
        ]
    procs = [ekakte_process(stack_env, "ocr", "work", "--once", "--workers", "1", "--json") for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    reports = [json.loads(out) for out, _err in outputs]
    assert sum(r["done"] for r in reports) == 6
    assert [r["lost"] for r in reports] == [0, 0]
    with Archive.open(load_settings(stack_env)) as archive:
        pages = [p for d in docs for p in pages_of(archive, d)]
    assert [p.ocr_state for p in pages] == ["done"] * 6
    assert all(p.attempts == 1 for p in pages)  # nobody took a page over: each was read once


def test_a_pdf_page_that_is_not_one_page_filling_image_is_rendered_and_read(
    ocr_archive: Archive, tmp_path: Path
) -> None:
    """E.g. a scan placed on a larger page: PDFium renders the whole page at 300 dpi for tesseract."""
    import io

    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import RectangleObject

    path, truths = scanned_pdf(tmp_path, [91])
    writer = PdfWriter()
    for page in PdfReader(path).pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        page.mediabox = RectangleObject([0, -height * 0.25, width, height])  # a quarter more paper below
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    doc = store(ocr_archive, write(tmp_path, "placed.pdf", out.getvalue()))
    run_ocr(ocr_archive, OCR)
    (page,) = pages_of(ocr_archive, doc)
    assert page.engine is not None and "rendered with PDFium" in page.engine
    assert scans.character_error_rate(truths[0], page.text or "") <= 0.03


@pytest.mark.server
def test_an_unreachable_object_store_stops_the_worker_without_using_up_attempts(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from tests.conftest import fresh_server_env
    from tests.services import free_port

    env = fresh_server_env(
        tmp_path / "home", request.getfixturevalue("pg_url"), request.getfixturevalue("s3")
    )
    with Archive.open(load_settings(env)) as archive:
        add_user(archive, ADMIN, OCR.name, ["service"])
        doc = store(archive, scanned_pdf(tmp_path, [95])[0])
    away = {**env, "EKAKTE_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}"}  # nothing listens there
    with Archive.open(load_settings(away)) as archive, pytest.raises(StorageError):
        run_ocr(archive, OCR)
    with Archive.open(load_settings(env)) as archive:
        (page,) = pages_of(archive, doc)
        assert (page.ocr_state, page.attempts, page.lease_owner) == ("pending", 0, None)
        assert run_ocr(archive, OCR).done == 1  # back online: read once
