"""Removing a scan's blank pages at import (the setting drop_blank_pages): which pages are blank, judged as
the splitter judges a sheet's back, and the scan written again without them, its other pages as they are.

Off by default: a scan is stored as the scanner wrote it, and the OCR worker flags its blank pages. On,
every page is decoded at import (about DETECT_DPI, a JPEG page by DCT scaling): docs/benchmarks.md has what
that costs. The result is deterministic (the same scan gives the same bytes), so a re-import of the same
file still finds it stored.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from ekakte.errors import InvalidInput
from ekakte.media import JPEG, PDF, PNG, TIFF, MediaInfo


@dataclass(frozen=True)
class WithoutBlanks:
    file: BinaryIO  # a private temporary file, gone when the context ends
    media: MediaInfo
    removed: list[int]  # the pages removed, numbered as in the scan


@contextmanager
def without_blank_pages(fh: BinaryIO, media: MediaInfo) -> Iterator[WithoutBlanks | None]:
    """The scan without its blank pages, or None when it has none (or cannot be judged: an encrypted PDF).
    InvalidInput when every page is blank: there is nothing to store."""
    if media.page_count is None or media.encrypted:
        yield None
        return
    if media.media_type in (JPEG, PNG):
        if _single_image_blank(fh):
            raise InvalidInput("every page of the scan is blank (drop_blank_pages)", code="blank-scan")
        yield None
        return
    if media.media_type not in (PDF, TIFF):
        yield None
        return
    from ekakte.mailroom.split import Stack

    stack = Stack(fh, media.media_type, media.page_count)
    blank = stack.blank_pages()
    if not blank:
        yield None
        return
    if len(blank) == media.page_count:
        raise InvalidInput("every page of the scan is blank (drop_blank_pages)", code="blank-scan")
    with tempfile.TemporaryFile(prefix="ekakte-noblank-") as out:
        stack.write_without(out, set(blank))
        out.flush()
        out.seek(0)
        yield WithoutBlanks(out, MediaInfo(media.media_type, media.page_count - len(blank)), blank)


def _single_image_blank(fh: BinaryIO) -> bool:
    from PIL import Image

    from ekakte.mailroom.detect import DETECT_DPI, is_blank

    fh.seek(0)
    with Image.open(fh) as image:
        dpi = image.info.get("dpi")
        factor = max(1, round(float(dpi[0]) / DETECT_DPI)) if dpi and dpi[0] else 1
        if image.format == "JPEG":
            image.draft("L", (image.width // factor, image.height // factor))
            factor = 1
        gray = image.convert("L")
        small = gray.reduce(factor) if factor > 1 else gray
        blank = is_blank(small)
    fh.seek(0)
    return blank
