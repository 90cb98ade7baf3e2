"""What the OCR worker does with one page: take its content, read it upright, say how it went.

Runs in the worker's reading threads, one per OCR process: no database, no object store, a local file in
and plain values out.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ekakte.ocr.base import OcrEngine, OcrError, Recognized
from ekakte.ocr.pages import Original, PageUnreadable, open_original, page_content

if TYPE_CHECKING:
    from ekakte.mailroom.codes import Reference

DONE = "done"
SKIPPED = "skipped"
ERROR = "error"  # this attempt failed; the page is tried again up to the configured number of times

# Below this mean word confidence a page may be upside down or sideways: ask the engine's orientation
# detection, and read it again turned. Upright pages (nearly all) pay nothing for the check.
LOW_CONFIDENCE = 60.0

# The first pages of a document are looked at for ekakte's 2D reference code (printed on the job
# centre's own letters: ekakte.mailroom.refcode), which the Postkorb's sort reads beside the text.
CODE_PAGES = 2
MAX_CODES_TEXT = 1000  # pages.codes


@dataclass(frozen=True)
class PageJob:
    page_id: int
    number: int
    media_type: str
    original: str  # path of the local, verified copy of the document's original
    languages: str
    # The original opened once for all its pages (the worker's); None: opened for this page alone.
    source: Original | None = None
    # Where the page's image files go (the worker's private folder); None: the system's temp folder.
    workdir: str | None = None
    codes: bool = False  # look for ekakte's reference codes too (the first CODE_PAGES pages)
    layer: bool = False  # have the engine write the page's text-only PDF too (the searchable rendition)


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
    # What ekakte's codes on the page say (`codes_text`); None when the page was not looked at.
    codes: str | None = None
    # The engine's text-only PDF of the page as read (turned by `rotation`), for the rendition.
    layer: bytes | None = None
    # Whether the page is blank (ekakte.mailroom.detect.is_blank); None when it was not looked at.
    blank: bool | None = None


def read_page(job: PageJob, engine: OcrEngine) -> PageOutcome:
    """Never raises for a bad page: every failure becomes an outcome with its reason."""
    started = time.monotonic()
    try:
        outcome = _read(job, engine)
    except PageUnreadable as exc:
        outcome = PageOutcome(job.page_id, SKIPPED, reason=str(exc))
    except OcrError as exc:
        outcome = PageOutcome(job.page_id, ERROR, reason=str(exc))
    except Exception as exc:  # a broken page must not take the worker down with it
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        outcome = PageOutcome(job.page_id, ERROR, reason=reason[:500])
    return PageOutcome(**{**outcome.__dict__, "seconds": round(time.monotonic() - started, 3)})


def _read(job: PageJob, engine: OcrEngine) -> PageOutcome:
    with contextlib.ExitStack() as stack:
        original = job.source or stack.enter_context(open_original(Path(job.original), job.media_type))
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="ekakte-page-", dir=job.workdir))
        content = stack.enter_context(page_content(original, job.number, Path(tmp)))
        if content.text is not None:
            return PageOutcome(job.page_id, DONE, text=content.text, engine=content.source)
        assert content.image is not None
        codes = look_for_codes(content.image) if job.codes else None
        blank = looks_blank(content.image, content.dpi)
        found = read_upright(engine, content.image, job.languages, content.dpi, layer=job.layer)
    return PageOutcome(
        job.page_id,
        DONE,
        text=found.text,
        confidence=found.confidence,
        engine=f"{engine.name()} ({content.source})",
        language=found.language,
        rotation=found.rotation,
        codes=codes,
        layer=found.layer,
        blank=blank,
    )


def looks_blank(image: Path, dpi: int | None) -> bool | None:
    """Whether the page image is blank (ekakte.mailroom.detect.is_blank), judged as the mail room's
    splitter judges it: in grayscale at about DETECT_DPI or a little more (a scanner's JPEG decoded at
    1/2, 1/4 or 1/8 of its size: 30-40 ms a 300 dpi A4 page, most of it the JPEG's entropy decoding,
    which no scale saves; other images made smaller after decoding). None when the image cannot be
    looked at: that is no reason not to read its text."""
    from PIL import Image

    from ekakte.mailroom.detect import DETECT_DPI, is_blank

    factor = max(1, (dpi or 300) // DETECT_DPI)
    try:
        with Image.open(image) as img:
            if img.format == "JPEG":
                img.draft("L", (img.width // factor, img.height // factor))
                factor = 1
            gray = img.convert("L")
        return is_blank(gray.reduce(factor) if factor > 1 else gray)
    except Exception:  # an image that cannot be looked at is not a page that cannot be read
        return None


def look_for_codes(image: Path) -> str:
    """ekakte's reference codes on a page image, as `codes_text` writes them ("" for none), read at the
    scan's own resolution: a letter's code is 15 to 20 mm, not always seen on a page made smaller (a
    page without one costs 20-60 ms, beside tesseract's seconds). Never raises: a page whose codes cannot
    be looked at says so, and its text is read all the same."""
    from PIL import Image

    from ekakte.mailroom.detect import find_references

    try:
        with Image.open(image) as img:
            gray = img.convert("L")
        found = find_references(gray)
    except Exception as exc:  # a page that cannot be looked at is not a page that cannot be read
        return codes_text([], [f"could not look for codes: {type(exc).__name__}"])
    return codes_text(sorted(found.found, key=lambda r: (r.case_number, r.reference or "")), found.problems)


def codes_text(references: Sequence[Reference], problems: Sequence[str]) -> str:
    """One line per code: "case number<TAB>reference" for each reference code, "!problem" for a code
    that could not be trusted or read; at most 1,000 characters. What does not fit is not dropped
    silently: the last line then says so as a damaged code would, which stops the sort."""
    from ekakte.mailroom.detect import BAD_REFERENCE

    lines = [f"{r.case_number}\t{r.reference or ''}" for r in references]
    lines += [f"!{' '.join(p.split())}" for p in problems]
    text = "\n".join(lines)
    if len(text) <= MAX_CODES_TEXT:
        return text
    marker = f"!{BAD_REFERENCE}: more codes on the page than can be recorded"
    kept: list[str] = []
    for line in lines:
        if sum(len(k) + 1 for k in kept) + len(line) + 1 + len(marker) > MAX_CODES_TEXT:
            break
        kept.append(line)
    return "\n".join([*kept, marker])


def read_upright(
    engine: OcrEngine, image: Path, languages: str, dpi: int | None = None, layer: bool = False
) -> Recognized:
    """Read a page; if it reads badly, find its orientation and read it turned upright. With `layer`,
    the answer's text-only PDF is of the page as read: turned by its `rotation`."""
    first = engine.recognize(image, languages, dpi, layer)
    if first.confidence >= LOW_CONFIDENCE and first.words >= 3:
        return first
    rotation = engine.detect_rotation(image, dpi)
    if not rotation:
        return first
    from PIL import Image

    # Beside the image, i.e. in the worker's private folder (ekakte.ocr.base.OcrEngine).
    with tempfile.TemporaryDirectory(prefix="rot-", dir=image.parent) as tmp:
        turned = Path(tmp) / "turned.png"
        with Image.open(image) as img:
            # "Rotate: R" of tesseract's orientation detection is clockwise; PIL's rotate() turns
            # counter-clockwise.
            img.rotate(-rotation, expand=True).save(turned)
        second = engine.recognize(turned, languages, dpi, layer)
    if second.confidence > first.confidence:
        return Recognized(
            second.text, second.confidence, second.words, second.language, rotation, second.layer
        )
    return first
