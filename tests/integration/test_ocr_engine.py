"""The OCR worker with engines other than tesseract (test doubles), and what running tesseract leaves alone.

The doubles stand in for tesseract where a real one cannot be made to fail or to take long on cue; the
worker, the queue and both stacks are real. Reading with the real tesseract is tested in test_ocr.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.db.models import Page
from ekakte.errors import ConfigError
from ekakte.ingest import DocumentMeta, import_document
from ekakte.ocr import OcrError, Recognized, engine
from ekakte.ocr.worker import run_ocr
from ekakte.principals import add_user
from ekakte.setup import initialize
from tests.conftest import ADMIN, CASE, OPERATOR, ROOT, embedded_env, organise, scans

OCR = Actor("ocr-service")


class ReadingTestEngine:
    """A test double for tesseract: reads every page image as the same short text, at once."""

    def __init__(self) -> None:
        self.pages = 0
        self._lock = threading.Lock()

    def check(self, languages: str) -> None:
        pass

    def name(self) -> str:
        return "test engine"

    def recognize(self, image: Path, languages: str, dpi: int | None, layer: bool = False) -> Recognized:
        with self._lock:
            self.pages += 1
        assert image.exists()
        return Recognized("Bewilligungsbescheid gelesen", 91.0, 2, languages)

    def detect_rotation(self, image: Path, dpi: int | None) -> int:
        return 0


class FailingTestEngine(ReadingTestEngine):
    """A test double for a broken tesseract: fails on every page."""

    def recognize(self, image: Path, languages: str, dpi: int | None, layer: bool = False) -> Recognized:
        super().recognize(image, languages, dpi)
        raise OcrError("tesseract failed: simulated failure of the test engine")


class UnreadyTestEngine(ReadingTestEngine):
    """A test double for a tesseract without the configured language models."""

    def check(self, languages: str) -> None:
        raise ConfigError(f"tesseract has no language model for {languages}: apt-get install …")


class SlowTestEngine(ReadingTestEngine):
    """A test double for tesseract on a page that takes long: each page is read until the test sets
    `finish`; then it is read, or (`cut`) fails as tesseract does when a stop sent to the worker's
    process group reaches it too."""

    def __init__(self, *, cut: bool = False) -> None:
        super().__init__()
        self.cut = cut
        self.reading = threading.Event()
        self.finish = threading.Event()

    def recognize(self, image: Path, languages: str, dpi: int | None, layer: bool = False) -> Recognized:
        read = super().recognize(image, languages, dpi)
        self.reading.set()
        if not self.finish.wait(60):
            raise OcrError("the test never let the page finish")
        if self.cut:
            raise OcrError("tesseract failed: stopped by SIGTERM")
        return read


@pytest.fixture
def ocr_archive(archive: Archive) -> Archive:
    add_user(archive, ADMIN, OCR.name, ["service"])
    return archive


def store_scan(archive: Archive, path: Path) -> object:
    meta = DocumentMeta(CASE, "Antrag", date(2026, 3, 1))
    return import_document(archive, OPERATOR, path, meta).document_id


def pages_of(archive: Archive, document_id: object) -> list[Page]:
    with archive.reading() as session:
        return list(
            session.scalars(select(Page).where(Page.document_id == document_id).order_by(Page.number))
        )


def test_the_worker_reads_with_the_engine_it_is_given(
    ocr_archive: Archive, make_scan: Callable[..., Path]
) -> None:
    doc = store_scan(ocr_archive, make_scan(pages=2))
    reader = ReadingTestEngine()
    report = run_ocr(ocr_archive, OCR, workers=2, engine=reader)
    assert (report.done, report.failed, reader.pages) == (2, 0, 2)
    pages = pages_of(ocr_archive, doc)
    assert [(p.ocr_state, p.text, p.language) for p in pages] == [
        ("done", "Bewilligungsbescheid gelesen", "deu+eng")
    ] * 2
    assert [p.engine for p in pages] == ["test engine (embedded image)"] * 2


def test_a_failing_engine_leaves_the_page_failed_with_its_reason_after_the_last_attempt(
    ocr_archive: Archive, make_scan: Callable[..., Path]
) -> None:
    doc = store_scan(ocr_archive, make_scan(pages=1))
    failing = FailingTestEngine()
    attempts = ocr_archive.settings.ocr_max_attempts
    report = run_ocr(ocr_archive, OCR, workers=1, engine=failing)
    assert (report.done, report.failed, report.retried) == (0, 1, attempts - 1)
    assert failing.pages == attempts
    (page,) = pages_of(ocr_archive, doc)
    assert (page.ocr_state, page.attempts, page.lease_owner) == ("failed", attempts, None)
    assert page.reason == "tesseract failed: simulated failure of the test engine"
    assert run_ocr(ocr_archive, OCR, engine=failing).pages == 0  # failed stays failed


def test_an_engine_that_is_not_ready_stops_the_worker_before_it_claims_a_page(
    ocr_archive: Archive, make_scan: Callable[..., Path]
) -> None:
    doc = store_scan(ocr_archive, make_scan(pages=1))
    unready = UnreadyTestEngine()
    with pytest.raises(ConfigError, match="no language model for deu"):
        run_ocr(ocr_archive, OCR, engine=unready)
    (page,) = pages_of(ocr_archive, doc)
    assert (page.ocr_state, page.attempts, page.lease_owner, unready.pages) == ("pending", 0, None, 0)


def test_a_stop_mid_page_finishes_the_page_being_read_and_gives_the_waiting_one_back_uncounted(
    ocr_archive: Archive, make_scan: Callable[..., Path]
) -> None:
    """One reading thread, two pages claimed: the stop (SIGTERM to the worker alone, or a service's stop
    event) comes while the first is being read. The second goes back at once; the first is finished."""
    doc = store_scan(ocr_archive, make_scan(pages=2))
    slow = SlowTestEngine()
    stops_seen = 0

    def should_stop() -> bool:
        nonlocal stops_seen
        stops_seen += slow.reading.is_set()
        if stops_seen == 2:
            slow.finish.set()  # the worker has acted on the stop once: now the page being read ends
        return stops_seen > 0

    report = run_ocr(ocr_archive, OCR, workers=1, once=False, should_stop=should_stop, engine=slow)
    assert (report.done, report.failed, report.retried, slow.pages) == (1, 0, 0, 1)
    first, second = pages_of(ocr_archive, doc)
    assert (first.ocr_state, first.attempts, first.lease_owner) == ("done", 1, None)
    assert (second.ocr_state, second.attempts, second.lease_owner) == ("pending", 0, None)


def test_a_stop_that_cuts_the_reading_short_gives_the_pages_back_uncounted(
    ocr_archive: Archive, make_scan: Callable[..., Path]
) -> None:
    """A stop sent to the whole process group ends the tesseract runs too: the pages they were reading
    were not tried through, so they go back without using up an attempt and are read by the next run."""
    doc = store_scan(ocr_archive, make_scan(pages=2))
    cut = SlowTestEngine(cut=True)

    def should_stop() -> bool:
        if cut.reading.is_set():
            cut.finish.set()
        return cut.reading.is_set()

    report = run_ocr(ocr_archive, OCR, workers=2, once=False, should_stop=should_stop, engine=cut)
    assert (report.done, report.failed, report.retried, report.pages) == (0, 0, 0, 0)
    assert [(p.ocr_state, p.attempts, p.lease_owner) for p in pages_of(ocr_archive, doc)] == [
        ("pending", 0, None)
    ] * 2

    assert run_ocr(ocr_archive, OCR, engine=ReadingTestEngine()).done == 2
    assert [(p.ocr_state, p.attempts) for p in pages_of(ocr_archive, doc)] == [("done", 1)] * 2


# Run in a fresh interpreter: this process imported ekakte long ago. Imports every module of the
# package (as test_layout.py finds them), then reads the pending pages with the default engine.
_IMPORT_ALL_AND_READ = """
import importlib, json, os, sys
from pathlib import Path

before = dict(os.environ)
package = Path(sys.argv[1])
names = []
for path in sorted(package.rglob("*.py")):
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if parts[-1] != "__main__":
        names.append(".".join(parts))
for name in names:
    importlib.import_module(name)
imported = dict(os.environ)

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.ocr.worker import run_ocr

with Archive.open(load_settings()) as archive:
    report = run_ocr(archive, Actor(sys.argv[2]), workers=1)
after = dict(os.environ)

def changed(a, b):
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))

pytesseract = sys.modules.get("pytesseract")
print(json.dumps({
    "modules": len(names),
    "changed_by_import": changed(before, imported),
    "changed_by_ocr": changed(imported, after),
    "done": report.done,
    "pytesseract": None if pytesseract is None else pytesseract.pytesseract.tesseract_cmd,
}))
"""


@pytest.mark.skipif(
    not engine.available() and os.environ.get("CI") != "true",
    reason="tesseract is not installed (make services installs it as root)",
)
def test_importing_all_of_ekakte_and_running_ocr_leaves_the_environment_and_pytesseract_alone(
    tmp_path: Path,
) -> None:
    """A web server imports the library: neither the import nor reading pages with tesseract may change
    its environment or another library's globals. The page lies upside down, so tesseract is asked for
    its orientation as well as for the text."""
    env = embedded_env(tmp_path / "home")
    initialize(load_settings(env))
    organise(load_settings(env))
    with Archive.open(load_settings(env)) as archive:
        add_user(archive, ADMIN, OCR.name, ["service"])
        lines = scans.german_lines(31, 8)
        scan = tmp_path / "upside-down.pdf"
        scan.write_bytes(scans.scan_pdf_bytes([scans.scan_page(lines, seed=31, upside_down=True)]))
        doc = store_scan(archive, scan)
    child_env = {**os.environ, **env}
    for variable in ("OMP_THREAD_LIMIT", "TESSDATA_PREFIX", "EKAKTE_CONFIG"):
        child_env.pop(variable, None)  # unset, so that setting one would show

    child = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL_AND_READ, str(ROOT / "ekakte"), OCR.name],
        env=child_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout)
    assert result["modules"] > 50
    assert result["changed_by_import"] == [] and result["changed_by_ocr"] == []
    assert result["pytesseract"] in (None, "tesseract")  # not imported, or its default left as it was
    assert result["done"] == 1
    with Archive.open(load_settings(env)) as archive:
        (page,) = pages_of(archive, doc)
    assert page.ocr_state == "done" and page.rotation == 180
    assert scans.character_error_rate("\n".join(lines), page.text or "") <= 0.03
