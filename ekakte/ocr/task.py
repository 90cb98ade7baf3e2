"""What the OCR worker does with one page: take its content, read it, say how it went.

Runs in the worker's reading threads, one per tesseract: no database, no object store, a local file in
and plain values out.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ekakte.ocr import engine
from ekakte.ocr.pages import Original, PageUnreadable, open_original, page_content

DONE = "done"
SKIPPED = "skipped"
ERROR = "error"  # this attempt failed; the page is tried again up to the configured number of times


@dataclass(frozen=True)
class PageJob:
    page_id: int
    number: int
    media_type: str
    original: str  # path of the local, verified copy of the document's original
    languages: str
    tesseract: str = "tesseract"
    # The original opened once for all its pages (the worker's); None: opened for this page alone.
    source: Original | None = None
    # Where the page's image files go (the worker's private folder); None: the system's temp folder.
    workdir: str | None = None


@dataclass(frozen=True)
class PageOutcome:
    page_id: int
    status: str  # DONE, SKIPPED or ERROR
    text: str | None = None
    confidence: float | None = None
    engine: str | None = None
    language: str | None = None
    rotation: int | None = None
    reason: str | None = None
    seconds: float = 0.0


def read_page(job: PageJob) -> PageOutcome:
    """Never raises for a bad page: every failure becomes an outcome with its reason."""
    import time

    started = time.monotonic()
    try:
        outcome = _read(job)
    except PageUnreadable as exc:
        outcome = PageOutcome(job.page_id, SKIPPED, reason=str(exc))
    except engine.OcrError as exc:
        outcome = PageOutcome(job.page_id, ERROR, reason=str(exc))
    except Exception as exc:  # a broken page must not take the worker down with it
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        outcome = PageOutcome(job.page_id, ERROR, reason=reason[:500])
    return PageOutcome(**{**outcome.__dict__, "seconds": round(time.monotonic() - started, 3)})


def _read(job: PageJob) -> PageOutcome:
    engine.use(job.tesseract)
    with contextlib.ExitStack() as stack:
        original = job.source or stack.enter_context(open_original(Path(job.original), job.media_type))
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="ekakte-page-", dir=job.workdir))
        content = stack.enter_context(page_content(original, job.number, Path(tmp)))
        if content.text is not None:
            return PageOutcome(job.page_id, DONE, text=content.text, engine=content.source)
        assert content.image is not None
        found = engine.recognize_any_orientation(content.image, job.languages, content.dpi)
    return PageOutcome(
        job.page_id,
        DONE,
        text=found.text,
        confidence=found.confidence,
        engine=f"{engine.version()} ({content.source})",
        language=job.languages,
        rotation=found.rotation,
    )
