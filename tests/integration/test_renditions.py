"""The searchable PDF beside a scanned document, with the real tesseract: where its words lie, what it keeps
of the original, when it is made (once, also after a crash), and that verify, gc, the sweep and the
returns treat it as the original's own."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from sqlalchemy import select

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import Page, Rendition
from ekakte.derived import SEARCHABLE_PDF
from ekakte.documents import export_searchable, open_searchable
from ekakte.errors import ExitCode, NotFound, NotPermitted
from ekakte.ingest import DocumentMeta, import_document
from ekakte.integrity import gc, verify
from ekakte.ocr import engine, rendition
from ekakte.ocr.base import OcrError, Recognized
from ekakte.ocr.engine import TesseractEngine
from ekakte.ocr.worker import run_ocr
from ekakte.principals import add_user
from ekakte.retention.protocol import protocol
from ekakte.retention.schedule import close_case, load_rules
from ekakte.retention.sweep import sweep
from ekakte.storage.base import RENDITIONS_PREFIX
from tests.conftest import ADMIN, CASE, OPERATOR, READER, TEN_YEARS_RULES, scans
from tests.integration.test_cli import Cli, cli  # noqa: F401 (a fixture)
from tests.integration.test_service import service  # noqa: F401 (a fixture)

pytestmark = pytest.mark.skipif(
    not engine.available() and os.environ.get("CI") != "true",
    reason="tesseract is not installed (make services installs it as root)",
)

OCR = Actor("ocr-service")
RECORDS = Actor("records-manager")
AUDITOR = Actor("auditor")
STRANGER = Actor("cw-other")
EMBEDDED = pytest.mark.parametrize("stack_env", ["embedded"], indirect=True)


@pytest.fixture
def ocr_archive(archive: Archive) -> Archive:
    add_user(archive, ADMIN, OCR.name, ["service"])
    return archive


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "scans" / f"{uuid.uuid4().hex[:6]}-{name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def store(
    archive: Archive, path: Path, doc_type: str = "Antrag", received: date = date(2026, 3, 1)
) -> uuid.UUID:
    return import_document(archive, OPERATOR, path, DocumentMeta(CASE, doc_type, received)).document_id


def scanned(tmp_path: Path, *pages: dict[str, Any], lines: int = 6) -> tuple[Path, list[list[str]]]:
    """A 300 dpi scanner PDF, one page per options dict (seed, upside_down, sideways, …); its lines."""
    truths = [scans.german_lines(p.get("seed", i), lines) for i, p in enumerate(pages)]
    images = [scans.scan_page(t, **{"rotate": 0.0, **p}) for t, p in zip(truths, pages, strict=True)]
    return write(tmp_path, "scan.pdf", scans.scan_pdf_bytes(images)), truths


def the_rendition(archive: Archive, document_id: uuid.UUID) -> Rendition | None:
    with archive.reading() as session:
        return session.get(Rendition, (document_id, SEARCHABLE_PDF))


def rendition_bytes(archive: Archive, document_id: uuid.UUID) -> bytes:
    made = the_rendition(archive, document_id)
    assert made is not None
    return b"".join(archive.store.get(made.storage_key))


def layers_left(archive: Archive, document_id: uuid.UUID) -> int:
    with archive.reading() as session:
        return len(
            session.scalars(
                select(Page.id).where(Page.document_id == document_id, Page.layer.is_not(None))
            ).all()
        )


def rendition_objects(archive: Archive) -> list[str]:
    return [o.key for o in archive.store.list(RENDITIONS_PREFIX)]


def words_and_ink(pdf: bytes, number: int, word: str) -> tuple[bool, float, tuple[float, float]]:
    """Whether `word` is in the page's text, the share of dark pixels under its characters' boxes (the
    page rendered as shown), and the word's centre as a share of the page's width and height from the
    top left."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[number - 1]
        textpage = page.get_textpage()
        text = textpage.get_text_range()
        start = text.find(word)
        if start < 0:
            return False, 0.0, (0.0, 0.0)
        width, height = page.get_size()
        scale = 100 / 72
        image = page.render(scale=scale, grayscale=True).to_pil()
        boxes = [textpage.get_charbox(start + i) for i in range(len(word))]
        left, bottom = min(b[0] for b in boxes), min(b[1] for b in boxes)
        right, top = max(b[2] for b in boxes), max(b[3] for b in boxes)
        crop = image.crop(
            (
                int(left * scale),
                int((height - top) * scale),
                int(right * scale) + 1,
                int((height - bottom) * scale) + 1,
            )
        )
        histogram = crop.histogram()
        ink = sum(histogram[:128]) / max(1, crop.width * crop.height)
        centre = ((left + right) / 2 / width, 1 - (top + bottom) / 2 / height)
        return True, ink, centre
    finally:
        document.close()


def long_word(lines: list[str]) -> str:
    """A word of the page's first line that tesseract reads without fail: a long one of letters only."""
    words = [w.strip(".,:;") for w in lines[0].split()]
    return max((w for w in words if w.isalpha()), key=len)


def test_the_searchable_pdf_lays_each_word_on_its_ink_and_keeps_the_originals_images(
    ocr_archive: Archive, tmp_path: Path
) -> None:
    path, truths = scanned(
        tmp_path, {"seed": 31}, {"seed": 32, "upside_down": True}, {"seed": 33, "sideways": True}
    )
    doc = store(ocr_archive, path)
    report = run_ocr(ocr_archive, OCR, workers=2)
    assert report.renditions == 1 and report.failed == 0

    made = the_rendition(ocr_archive, doc)
    assert made is not None
    assert made.conformance is not None and "not PDF/A" in made.conformance
    assert made.storage_key.startswith(f"{RENDITIONS_PREFIX}{doc.hex[:2]}/{doc.hex[2:4]}/{doc}/")
    pdf = rendition_bytes(ocr_archive, doc)
    assert made.size_bytes == len(pdf)
    assert layers_left(ocr_archive, doc) == 0  # cleared once laid on
    with ocr_archive.reading() as session:
        pages = session.scalars(select(Page).where(Page.document_id == doc).order_by(Page.number)).all()
        assert [p.rotation for p in pages][:2] == [0, 180] and pages[2].rotation in (90, 270)
        assert [p.blank for p in pages] == [False, False, False]

    for number, lines in enumerate(truths, start=1):
        word = long_word(lines)
        found, ink, (_, y) = words_and_ink(pdf, number, word)
        assert found, (number, word)
        assert ink > 0.05, (number, word, ink)  # invisible text over the printed word
        if number == 1:
            assert y < 0.3  # the first line at the top of the upright page
        if number == 2:
            assert y > 0.7  # …and at the bottom of the page that lies upside down

    original, searchable = PdfReader(path), PdfReader(io.BytesIO(pdf))
    for before, after in zip(original.pages, searchable.pages, strict=True):
        assert before.mediabox == after.mediabox
        (image_before,) = [o.get_object() for o in before["/Resources"]["/XObject"].values()]
        images_after = [o.get_object() for o in after["/Resources"]["/XObject"].values()]
        (image_after,) = [o for o in images_after if o.get("/Subtype") == "/Image"]
        assert image_after._data == image_before._data  # the scanner's JPEG, byte for byte


@EMBEDDED
def test_tiff_and_jpeg_originals_get_their_images_without_loss_and_a_blank_page_is_marked(
    ocr_archive: Archive, tmp_path: Path
) -> None:
    lines = [scans.german_lines(41, 5), scans.german_lines(42, 5)]
    tiff = write(tmp_path, "scan.tif", scans.tiff_bytes([*lines, []], dpi=200))
    jpeg_bytes = scans.image_bytes(lines[1], "JPEG", dpi=200)
    jpeg = write(tmp_path, "scan.jpg", jpeg_bytes)
    tiff_doc, jpeg_doc = store(ocr_archive, tiff), store(ocr_archive, jpeg)
    assert run_ocr(ocr_archive, OCR, workers=2).renditions == 2

    pdf = rendition_bytes(ocr_archive, tiff_doc)
    for number in (1, 2):
        found, ink, _ = words_and_ink(pdf, number, long_word(lines[number - 1]))
        assert found and ink > 0.05
    with Image.open(tiff) as frames:
        for number, page in enumerate(PdfReader(io.BytesIO(pdf)).pages):
            frames.seek(number)
            (image,) = [i.image for i in page.images]
            assert image.convert("L").tobytes() == frames.convert("L").tobytes()  # pixel for pixel
    with ocr_archive.reading() as session:
        blanks = session.scalars(select(Page.blank).where(Page.document_id == tiff_doc).order_by(Page.number))
        assert list(blanks) == [False, False, True]

    pdf = rendition_bytes(ocr_archive, jpeg_doc)
    assert words_and_ink(pdf, 1, long_word(lines[1]))[0]
    (page,) = PdfReader(io.BytesIO(pdf)).pages
    images = [o.get_object() for o in page["/Resources"]["/XObject"].values()]
    assert [i._data for i in images if i.get("/Subtype") == "/Image"] == [jpeg_bytes]  # as it was


class FailingSecondPage:
    """tesseract, except that the page whose image is read second fails (one attempt per page)."""

    def __init__(self) -> None:
        self.real = TesseractEngine()
        self.calls = 0
        self.lock = threading.Lock()

    def check(self, languages: str) -> None:
        self.real.check(languages)

    def name(self) -> str:
        return self.real.name()

    def recognize(self, image: Path, languages: str, dpi: int | None, layer: bool = False) -> Recognized:
        with self.lock:
            self.calls += 1
            second = self.calls == 2
        if second:
            raise OcrError("tesseract failed: simulated")
        return self.real.recognize(image, languages, dpi, layer)

    def detect_rotation(self, image: Path, dpi: int | None) -> int:
        return self.real.detect_rotation(image, dpi)


@EMBEDDED
def test_a_page_that_failed_keeps_its_image_without_text_and_an_encrypted_pdf_gets_none(
    ocr_archive: Archive, tmp_path: Path
) -> None:
    path, truths = scanned(tmp_path, {"seed": 51}, {"seed": 52})
    doc = store(ocr_archive, path)
    once = Archive.open(dataclasses.replace(ocr_archive.settings, ocr_max_attempts=1))
    report = run_ocr(once, OCR, workers=1, engine=FailingSecondPage())
    assert (report.done, report.failed, report.renditions) == (1, 1, 1)
    pdf = rendition_bytes(ocr_archive, doc)
    assert words_and_ink(pdf, 1, long_word(truths[0]))[0]
    document = pypdfium2.PdfDocument(pdf)
    assert len(document) == 2 and document[1].get_textpage().get_text_range().strip() == ""
    document.close()

    writer = PdfWriter(clone_from=PdfReader(path))
    writer.encrypt(user_password="geheim", owner_password="geheim")
    out = io.BytesIO()
    writer.write(out)
    locked = store(ocr_archive, write(tmp_path, "locked.pdf", out.getvalue()))
    assert run_ocr(ocr_archive, OCR, workers=1).renditions == 0
    assert the_rendition(ocr_archive, locked) is None
    with pytest.raises(NotFound, match="no searchable PDF"):
        open_searchable(ocr_archive, READER, locked)


@pytest.fixture
def layers_only(ocr_archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[uuid.UUID]:
    """A document whose pages were all read, with their layers, whose maker died before it recorded the
    rendition (as a worker killed between the last page and its rendition leaves it)."""

    def dies(*_args: Any, **_kwargs: Any) -> str:
        raise RuntimeError("killed")

    path, _ = scanned(tmp_path, {"seed": 61}, {"seed": 62})
    doc = store(ocr_archive, path)
    with monkeypatch.context() as patched:
        patched.setattr("ekakte.ocr.worker.make_rendition", dies)
        report = run_ocr(ocr_archive, OCR, workers=2)
    assert (report.done, report.renditions) == (2, 0)
    assert the_rendition(ocr_archive, doc) is None and layers_left(ocr_archive, doc) == 2
    yield doc


@EMBEDDED
def test_a_later_run_makes_the_rendition_a_crashed_worker_left(
    ocr_archive: Archive, layers_only: uuid.UUID
) -> None:
    # A live maker may still be at it: not taken over before the OCR lease has passed.
    assert run_ocr(ocr_archive, OCR, workers=1).renditions == 0
    settled = Archive.open(dataclasses.replace(ocr_archive.settings, ocr_lease_seconds=1))
    time.sleep(1.1)
    assert run_ocr(settled, OCR, workers=1).renditions == 1
    assert the_rendition(ocr_archive, layers_only) is not None and layers_left(ocr_archive, layers_only) == 0
    assert run_ocr(settled, OCR, workers=1).renditions == 0  # made once


def test_two_makers_racing_record_one_rendition_and_leave_one_object(
    ocr_archive: Archive, layers_only: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    both_stored = threading.Barrier(2, timeout=60)
    record = rendition._record

    def after_both_stored(*args: Any, **kwargs: Any) -> bool:
        both_stored.wait()  # each has made and stored its PDF: now both try to record it
        return record(*args, **kwargs)

    monkeypatch.setattr(rendition, "_record", after_both_stored)
    outcomes: list[str] = []

    def make() -> None:
        with Archive.open(ocr_archive.settings) as own:  # as two processes: a connection each
            outcomes.append(rendition.make_rendition(own, layers_only))

    threads = [threading.Thread(target=make) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(outcomes) == [rendition.LOST, rendition.MADE]
    made = the_rendition(ocr_archive, layers_only)
    assert made is not None and rendition_objects(ocr_archive) == [made.storage_key]
    assert verify(ocr_archive, ADMIN).ok and verify(ocr_archive, ADMIN).count("unreferenced") == 0


def test_verify_finds_a_changed_or_missing_searchable_pdf_and_gc_keeps_it(
    ocr_archive: Archive, tmp_path: Path
) -> None:
    path, _ = scanned(tmp_path, {"seed": 71})
    doc = store(ocr_archive, path)
    run_ocr(ocr_archive, OCR, workers=1)
    made = the_rendition(ocr_archive, doc)
    assert made is not None
    checked = verify(ocr_archive, ADMIN)
    assert checked.ok and checked.renditions_checked == 1 and checked.count("unreferenced") == 0
    assert "1 searchable PDF with them" in checked.summary()
    assert gc(ocr_archive, ADMIN, grace_hours=0).removed == []
    assert rendition_objects(ocr_archive) == [made.storage_key]

    other = b"%PDF-1.5 not the rendition"
    ocr_archive.store.delete(made.storage_key)
    ocr_archive.store.put(
        made.storage_key, io.BytesIO(other), len(other), hashlib.sha256(other).hexdigest(), "application/pdf"
    )
    changed = verify(ocr_archive, ADMIN)
    assert not changed.ok
    assert [(p.kind, p.key, p.document_id) for p in changed.problems] == [
        ("corrupt", made.storage_key, str(doc))
    ]
    assert changed.problems[0].detail.startswith("the searchable PDF: ")

    ocr_archive.store.delete(made.storage_key)
    missing = verify(ocr_archive, ADMIN)
    assert [(p.kind, p.key, p.detail) for p in missing.problems] == [
        ("missing", made.storage_key, "the searchable PDF is not in the store")
    ]
    assert verify(ocr_archive, ADMIN, sample=1).count("missing") == 1  # the sample checks it too


def test_the_sweep_deletes_the_searchable_pdf_with_the_original_and_counts_it(
    ocr_archive: Archive, tmp_path: Path
) -> None:
    add_user(ocr_archive, ADMIN, RECORDS.name, ["records_manager"])
    add_user(ocr_archive, ADMIN, AUDITOR.name, ["auditor"])
    rules = tmp_path / "rules.toml"
    rules.write_text(TEN_YEARS_RULES)
    load_rules(ocr_archive, RECORDS, rules)
    path, _ = scanned(tmp_path, {"seed": 81})
    doc = store(ocr_archive, path, received=date(2010, 5, 1))
    run_ocr(ocr_archive, OCR, workers=1)
    made = the_rendition(ocr_archive, doc)
    assert made is not None
    close_case(ocr_archive, RECORDS, CASE, date(2011, 3, 10))
    report = sweep(ocr_archive, RECORDS, as_of=date(2026, 1, 1))
    assert report.deleted == 1
    assert ocr_archive.store.stat(made.storage_key) is None and rendition_objects(ocr_archive) == []
    assert the_rendition(ocr_archive, doc) is None
    (entry,) = protocol(ocr_archive, AUDITOR)
    assert (entry.document_id, entry.objects) == (str(doc), 2)
    assert verify(ocr_archive, ADMIN).ok


def test_a_return_to_the_station_deletes_the_searchable_pdf_too(ocr_archive: Archive, tmp_path: Path) -> None:
    from ekakte.mailroom.returns import return_to_station
    from ekakte.mailroom.stacks import import_stack

    add_user(ocr_archive, ADMIN, "triage", ["triage"])
    add_user(ocr_archive, ADMIN, AUDITOR.name, ["auditor"])
    path = tmp_path / "stack.pdf"
    scans.write_scan_pdf(path, [scans.scan_page(scans.german_lines(91, 5), seed=91, rotate=0.0)])
    doc = import_stack(ocr_archive, OPERATOR, path).documents[0].document_id
    run_ocr(ocr_archive, OCR, workers=1)
    made = the_rendition(ocr_archive, doc)
    assert made is not None
    return_to_station(ocr_archive, Actor("triage"), doc, "not ours")
    assert ocr_archive.store.stat(made.storage_key) is None and rendition_objects(ocr_archive) == []
    (entry,) = protocol(ocr_archive, AUDITOR)
    assert (entry.document_id, entry.objects) == (str(doc), 2)


@EMBEDDED
def test_reading_the_searchable_pdf_is_decided_and_refused_as_reading_the_original(
    ocr_archive: Archive, tmp_path: Path
) -> None:
    add_user(ocr_archive, ADMIN, STRANGER.name, ["caseworker"], ["team-b"], health_clearance=True)
    path, _ = scanned(tmp_path, {"seed": 95})
    doc = store(ocr_archive, path)
    with pytest.raises(NotFound, match=r"has no searchable PDF \(yet\)"):
        open_searchable(ocr_archive, READER, doc)  # its pages are not read yet
    run_ocr(ocr_archive, OCR, workers=1)
    target = tmp_path / "out.pdf"
    obj = export_searchable(ocr_archive, READER, doc, target)
    assert (
        target.read_bytes() == rendition_bytes(ocr_archive, doc) and obj.size_bytes == target.stat().st_size
    )
    assert obj.filename.endswith(".searchable.pdf")
    for nobody in (doc, uuid.uuid4()):
        with pytest.raises(NotPermitted):
            open_searchable(ocr_archive, STRANGER, nobody)


@EMBEDDED
def test_doc_get_searchable_writes_the_pdf_or_says_in_one_line_there_is_none(
    cli: Cli,  # noqa: F811 (the fixture)
    ocr_archive: Archive,
    tmp_path: Path,
) -> None:
    path, truths = scanned(tmp_path, {"seed": 97})
    doc = store(ocr_archive, path)
    code, _, err = cli("doc", "get", str(doc), "--searchable", "-o", str(tmp_path / "early.pdf"))
    assert code == ExitCode.NOT_FOUND and err.strip().count("\n") == 0 and "no searchable PDF (yet)" in err
    assert not (tmp_path / "early.pdf").exists()
    run_ocr(ocr_archive, OCR, workers=1)
    code, _, err = cli("doc", "get", str(doc), "--searchable", "-o", str(tmp_path / "s.pdf"))
    assert code == 0, err
    assert "SHA-256 verified" in err
    assert words_and_ink((tmp_path / "s.pdf").read_bytes(), 1, long_word(truths[0]))[0]


def test_the_api_serves_the_searchable_pdf_and_answers_a_stranger_as_for_a_missing_document(
    service: tuple[str, Archive, Any],  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    import httpx

    from tests.integration.test_service import CASEWORKER, bearer, upload

    url, archive, provider = service
    add_user(archive, ADMIN, OCR.name, ["service"])
    path, truths = scanned(tmp_path, {"seed": 99})
    doc = upload(url, bearer(provider, "scan-operator"), path).json()["document_id"]
    reader = bearer(provider, CASEWORKER)
    where = f"{url}/api/v1/documents/{doc}/searchable"
    early = httpx.get(where, headers=reader)
    assert early.status_code == 404 and early.json()["code"] == "no-rendition"
    run_ocr(archive, OCR, workers=1)
    got = httpx.get(where, headers=reader)
    assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
    assert got.content == rendition_bytes(archive, uuid.UUID(doc))
    assert words_and_ink(got.content, 1, long_word(truths[0]))[0]

    stranger = {**bearer(provider, "cw-other"), "X-Request-ID": "same"}

    def answer(path: str) -> tuple[int, Any, dict[str, str]]:
        response = httpx.get(url + path, headers=stranger)
        headers = {k: v for k, v in response.headers.items() if k not in ("date", "content-length")}
        return response.status_code, response.json(), headers

    refused, missing = (
        answer(f"/api/v1/documents/{doc}/searchable"),
        answer(f"/api/v1/documents/{uuid.uuid4()}/searchable"),
    )
    assert refused[0] == 404 and refused == missing


def test_the_aussonderung_hands_the_searchable_pdf_over_beside_the_original(
    ocr_archive: Archive, tmp_path: Path
) -> None:
    from xml.etree import ElementTree

    from ekakte.retention.disposal import hand_over, offer, receive
    from ekakte.xdomea import records_of
    from tests.integration.test_aussonderung import RULES, answer, appraisal, imported, message_of

    arc = Archive.open(
        dataclasses.replace(
            ocr_archive.settings, archive_sender="Kommunales Jobcenter Musterkreis",
            archive_sender_unit="Registratur", archive_recipient="Kreisarchiv Musterkreis",
        )
    )  # fmt: skip
    add_user(arc, ADMIN, RECORDS.name, ["records_manager"])
    add_user(arc, ADMIN, AUDITOR.name, ["auditor"])
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    load_rules(arc, RECORDS, rules)
    path, _ = scanned(tmp_path, {"seed": 101})
    doc = store(arc, path, received=date(2010, 5, 1))
    run_ocr(arc, OCR, workers=1)
    made = the_rendition(arc, doc)
    assert made is not None
    close_case(arc, RECORDS, CASE, date(2011, 3, 10))
    transfer = tmp_path / "transfer"
    transfer.mkdir()
    offered = offer(arc, RECORDS, transfer, as_of=date(2026, 1, 1))
    process = offered.process_id
    assert process is not None
    (akte,) = [r for r in records_of(ElementTree.fromstring(message_of(offered.path, "0501", process)[0]))
               if r.kind == "Akte"]  # fmt: skip
    receive(arc, RECORDS, answer(process, "0504"), "0504.xml", transfer)
    receive(arc, RECORDS, answer(process, "0502", appraisal(akte.object_id, "A")), "0502.xml", transfer)

    handed = hand_over(arc, RECORDS, process, transfer)
    xml, package = message_of(handed.path, "0503", process)  # valid against xdomea 3.1.0
    (record,) = [r for r in records_of(ElementTree.fromstring(xml)) if r.kind == "Dokument"]
    names = {ref.name: ref for ref in record.files}
    assert set(names) == {f"{doc}.pdf", f"{doc}.txt", f"{doc}.searchable.pdf"}
    searchable = names[f"{doc}.searchable.pdf"]
    body = package.read(searchable.name)
    assert body == rendition_bytes(arc, doc) and searchable.sha256 == made.sha256
    assert searchable.format_code == "018"
    assert package.read(f"{doc}.pdf") == path.read_bytes()

    receive(arc, RECORDS, answer(process, "0507"), "0507.xml", transfer)
    receive(arc, RECORDS, answer(process, "0506", imported(doc, True, "KA 1")), "0506.xml", transfer)
    assert sweep(arc, RECORDS, as_of=date(2026, 1, 1)).deleted == 1
    assert rendition_objects(arc) == []
    (entry,) = protocol(arc, AUDITOR)
    assert entry.objects == 2


@pytest.mark.parametrize(
    "stack_env", [pytest.param("rgw", marks=[pytest.mark.server, pytest.mark.rgw])], indirect=True
)
def test_on_an_object_lock_store_the_searchable_pdf_is_locked_and_held_as_its_original(
    ocr_archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ekakte.retention.holds import add_hold, release_hold
    from ekakte.retention.worm import retain_until, sync_object_locks
    from tests.conftest import OTHER_CASE

    assert ocr_archive.store.object_lock()
    add_user(ocr_archive, ADMIN, RECORDS.name, ["records_manager"])
    rules = tmp_path / "rules.toml"
    rules.write_text(TEN_YEARS_RULES)
    load_rules(ocr_archive, RECORDS, rules)
    until = retain_until(date(2030, 12, 31))

    def lock(key: str) -> Any:
        info = ocr_archive.store.stat(key)
        assert info is not None and info.lock is not None
        return info.lock

    # Read before its case closed: the sync that tells the original its date tells the rendition too.
    path, _ = scanned(tmp_path, {"seed": 111})
    first = store(ocr_archive, path)
    run_ocr(ocr_archive, OCR, workers=1)
    made = the_rendition(ocr_archive, first)
    assert made is not None and lock(made.storage_key).retain_until is None
    close_case(ocr_archive, RECORDS, CASE, date(2020, 6, 30))
    assert lock(made.storage_key).retain_until == until
    assert ocr_archive.store.delete_many([made.storage_key])  # refused

    # Read after: made with the original's date.
    path, _ = scanned(tmp_path, {"seed": 112})
    meta = DocumentMeta(OTHER_CASE, "Antrag", date(2019, 3, 1))
    second = import_document(ocr_archive, OPERATOR, path, meta).document_id
    close_case(ocr_archive, RECORDS, OTHER_CASE, date(2020, 6, 30))
    run_ocr(ocr_archive, OCR, workers=1)
    later = the_rendition(ocr_archive, second)
    assert later is not None and lock(later.storage_key).retain_until == until

    hold = add_hold(ocr_archive, RECORDS, document_id=first, reason="SG Köln S 12 AS 345/25")
    assert hold.objects is not None and hold.objects.ok and lock(made.storage_key).legal_hold
    release_hold(ocr_archive, RECORDS, hold.id)
    assert not lock(made.storage_key).legal_hold
    checked = verify(ocr_archive, ADMIN)
    assert checked.locks_checked and checked.ok and checked.renditions_checked == 2

    # A rendition the store was never told about (a maker killed right after recording it): verify
    # names it, and the next sync tells it.
    path, _ = scanned(tmp_path, {"seed": 113})
    third = import_document(ocr_archive, OPERATOR, path, meta).document_id
    with monkeypatch.context() as patched:
        patched.setattr(rendition, "lock_derived", lambda *_args: None)
        run_ocr(ocr_archive, OCR, workers=1)
    untold = the_rendition(ocr_archive, third)
    assert untold is not None and lock(untold.storage_key).retain_until is None
    found = verify(ocr_archive, ADMIN)
    assert [(p.kind, p.key) for p in found.problems] == [("lock", untold.storage_key)]
    assert found.problems[0].detail.startswith("the searchable PDF: ")
    assert sync_object_locks(ocr_archive).ok
    assert lock(untold.storage_key).retain_until == until and verify(ocr_archive, ADMIN).ok


def test_of_two_workers_reading_one_document_only_the_one_recording_its_last_page_makes_the_pdf(
    ocr_archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ekakte.ocr import worker

    path, _ = scanned(tmp_path, *({"seed": 120 + n} for n in range(4)), lines=3)
    doc = store(ocr_archive, path)
    calls: list[uuid.UUID] = []
    make = worker.make_rendition

    def counted(archive: Archive, document_id: uuid.UUID, *args: Any) -> str:
        calls.append(document_id)
        return make(archive, document_id, *args)

    monkeypatch.setattr(worker, "make_rendition", counted)
    started = threading.Barrier(2, timeout=60)

    def work() -> None:
        with Archive.open(ocr_archive.settings) as own:  # as two processes: a connection each
            started.wait()
            run_ocr(own, OCR, workers=1)  # claims two pages at a time: each worker gets some

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    with ocr_archive.reading() as session:
        states = list(session.scalars(select(Page.ocr_state).where(Page.document_id == doc)))
    assert states == ["done"] * 4
    assert calls == [doc]  # told once, whichever recorded the last page
    assert the_rendition(ocr_archive, doc) is not None and rendition_objects(ocr_archive) != []
