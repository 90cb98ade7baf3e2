"""One page of a stored original, ready for reading: its text layer, or an image file for tesseract.

Pages are taken one at a time from a local, verified copy of the original, so memory stays flat
however many pages a scan has. Scanner PDFs carry one JPEG per page: that JPEG goes to tesseract as it
is, without decoding and re-encoding it. Other PDF pages are rendered with PDFium (pypdfium2).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ekakte.media import ENCRYPTED_REASON, JPEG, PDF, PNG, TIFF

RENDER_DPI = 300
# A text layer with fewer letters or digits than this is a stray mark, not the page's text.
MIN_TEXT_LAYER_CHARS = 3


class PageUnreadable(Exception):
    """The page can never be read (e.g. an encrypted PDF): it is marked `skipped` with this reason."""


@dataclass(frozen=True)
class PageContent:
    """Either the page's own text (`text`), or an image file for OCR (`image`, with its resolution)."""

    text: str | None = None
    image: Path | None = None
    dpi: int | None = None
    source: str = ""  # how the content was obtained, for the page's `engine` column


@contextmanager
def page_content(original: Path, media_type: str, number: int, workdir: Path) -> Iterator[PageContent]:
    """Page `number` (1-based) of the original at `original`; temporary files live in `workdir`."""
    if media_type == PDF:
        yield _pdf_page(original, number, workdir)
    elif media_type in (TIFF, JPEG, PNG):
        yield _image_page(original, media_type, number, workdir)
    else:
        raise PageUnreadable(f"no pages to read in a {media_type} file")


def _pdf_page(original: Path, number: int, workdir: Path) -> PageContent:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    # A fresh reader per page, on an open file rather than a path (given a path, pypdf reads the whole
    # file into memory): memory stays flat however many pages the scan has.
    with original.open("rb") as fh:
        reader = PdfReader(fh, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise PageUnreadable(ENCRYPTED_REASON)
        if number > len(reader.pages):
            raise PageUnreadable(f"the PDF has no page {number}")
        page = reader.pages[number - 1]

        text = page.extract_text() or ""
        if sum(ch.isalnum() for ch in text) >= MIN_TEXT_LAYER_CHARS:
            return PageContent(text=text.strip(), source="pypdf text layer")
        image = _scanned_jpeg(page, workdir)
    if image is not None:
        return image
    return _render(original, number, workdir)


def _scanned_jpeg(page: Any, workdir: Path) -> PageContent | None:
    """The page's one JPEG, byte for byte as the scanner wrote it, if the page is nothing but that image.

    The raw DCTDecode stream, not pypdf's `images[…].data` (which decodes and re-encodes it): no time
    spent on pixels, no second round of compression artefacts. Anything else is rendered instead.
    """
    try:
        resources = page.get("/Resources")
        xobjects = resources.get_object().get("/XObject") if resources else None
        if not xobjects or len(xobjects.get_object()) != 1:
            return None
        image = next(iter(xobjects.get_object().values())).get_object()
        filters = image.get("/Filter")
        if isinstance(filters, list) and len(filters) == 1:
            filters = filters[0]
        if image.get("/Subtype") != "/Image" or filters != "/DCTDecode":
            return None
        if image.get("/ColorSpace") == "/DeviceCMYK":
            return None  # Adobe CMYK JPEGs read badly; PDFium renders them right
        px_w, px_h = int(image["/Width"]), int(image["/Height"])
        width_pt, height_pt = float(page.mediabox.width), float(page.mediabox.height)
        data = image.get_data()
    except Exception:  # a malformed page: rendering copes with more than this shortcut
        return None
    if px_w <= 0 or px_h <= 0 or width_pt <= 0 or height_pt <= 0:
        return None
    if int(getattr(page, "rotation", 0) or 0) % 180:
        width_pt, height_pt = height_pt, width_pt
    # Only a page-filling image is the page; a small logo on an otherwise empty page is not.
    if abs(px_w / px_h - width_pt / height_pt) > 0.03 * (width_pt / height_pt):
        return None
    path = workdir / "page.jpg"
    path.write_bytes(data)
    return PageContent(image=path, dpi=round(px_w / (width_pt / 72)), source="embedded image")


# PDFium is not thread-safe, not even for different documents (pypdfium2's documentation): the worker's
# reading threads render one page at a time. Rendering is the uncommon path (scanner pages are JPEGs).
_PDFIUM = threading.Lock()


def _render(original: Path, number: int, workdir: Path) -> PageContent:
    import pypdfium2

    with _PDFIUM:
        pdf = pypdfium2.PdfDocument(str(original))
        try:
            page = pdf[number - 1]
            bitmap = page.render(scale=RENDER_DPI / 72, grayscale=True)
            path = workdir / "page.pgm"
            bitmap.to_pil().save(path)  # the image shares the bitmap's memory: saved before closing
            page.close()
        finally:
            pdf.close()
    return PageContent(image=path, dpi=RENDER_DPI, source="rendered with PDFium")


def _image_page(original: Path, media_type: str, number: int, workdir: Path) -> PageContent:
    from PIL import Image

    with Image.open(original) as img:
        dpi = _dpi(img.info.get("dpi"))
        if media_type != TIFF:
            if number != 1:
                raise PageUnreadable(f"a {media_type} image has one page, not page {number}")
            return PageContent(image=original, dpi=dpi, source="image")
        try:
            img.seek(number - 1)
        except EOFError:
            raise PageUnreadable(f"the TIFF has no page {number}") from None
        frame = img if img.mode in ("1", "L", "RGB") else img.convert("RGB")
        # PNM: no compression to spend time on, and leptonica reads it directly.
        path = workdir / ("page.pbm" if frame.mode == "1" else "page.pnm")
        frame.save(path, "PPM")
    return PageContent(image=path, dpi=dpi, source="image")


def _dpi(value: object) -> int | None:
    if isinstance(value, tuple) and value and isinstance(value[0], int | float) and value[0] >= 50:
        return round(value[0])
    return None
