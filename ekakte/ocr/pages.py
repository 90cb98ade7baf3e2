"""One page of a stored original, ready for reading: its text layer, or an image file for tesseract.

Pages are taken one at a time from a local, verified copy of the original, so memory stays flat
however many pages a scan has. The copy is opened once per document and worker (`Original`): one pypdf
reader, one PDFium document, one TIFF, shared by the worker's reading threads, so that reading all of
a document's pages costs time in proportion to its pages, not pages × size. Scanner PDFs carry one JPEG
per page: that JPEG goes to tesseract as it is, without decoding and re-encoding it. Other PDF pages
are rendered with PDFium (pypdfium2).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ekakte.media import ENCRYPTED_REASON, JPEG, PDF, PNG, TIFF

RENDER_DPI = 300
# The source of a page rendered with PDFium (its `engine` column ends with it in brackets): the image is
# the page as shown, turned by the page's /Rotate, where a page's embedded JPEG is the page unturned.
RENDERED = "rendered with PDFium"
# A text layer with fewer letters or digits than this is a stray mark, not the page's text.
MIN_TEXT_LAYER_CHARS = 3


# PDFium is not thread-safe, not even for different documents (pypdfium2's documentation): the worker's
# reading threads render one page at a time. Rendering is the uncommon path (scanner pages are JPEGs).
# PDFium is not thread-safe: every use of it in the process (OCR's reading threads, page images) takes
# this one lock.
PDFIUM = threading.Lock()


class PageUnreadable(Exception):
    """The page can never be read (e.g. an encrypted PDF): it is marked `skipped` with this reason."""


@dataclass(frozen=True)
class PageContent:
    """Either the page's own text (`text`), or an image file for OCR (`image`, with its resolution)."""

    text: str | None = None
    image: Path | None = None
    dpi: int | None = None
    source: str = ""  # how the content was obtained, for the page's `engine` column


class Original:
    """A local copy of an original, opened once for all the pages read from it.

    Readers are made on first use and kept until `close`. The reading threads share them, one page at
    a time (`lock`): neither pypdf's reader nor a Pillow image may be used by two threads at once, and
    the Python parts hold the GIL anyway.
    """

    def __init__(self, path: Path, media_type: str) -> None:
        self.path = path
        self.media_type = media_type
        self.lock = threading.Lock()
        self._file: BinaryIO | None = None
        self._reader: Any = None
        self._pdfium: Any = None
        self._image: Any = None

    def pdf_reader(self) -> Any:
        """The pypdf reader (call with `lock` held). PageUnreadable for an encrypted PDF."""
        if self._reader is None:
            from pypdf import PdfReader

            logging.getLogger("pypdf").setLevel(logging.ERROR)
            # On an open file rather than a path: given a path, pypdf reads the whole file into memory.
            self._file = self.path.open("rb")
            self._reader = PdfReader(self._file, strict=False)
        if self._reader.is_encrypted and not self._reader.decrypt(""):
            raise PageUnreadable(ENCRYPTED_REASON)
        return self._reader

    def pdfium(self) -> Any:
        """The PDFium document (call with PDFIUM held)."""
        if self._pdfium is None:
            import pypdfium2

            self._pdfium = pypdfium2.PdfDocument(str(self.path))
        return self._pdfium

    def image(self) -> Any:
        """The Pillow image, e.g. a multi-page TIFF (call with `lock` held)."""
        if self._image is None:
            from PIL import Image

            self._image = Image.open(self.path)
        return self._image

    def close(self) -> None:
        with self.lock:
            if self._reader is not None:
                self._reader.close()
            if self._file is not None:
                self._file.close()
            if self._image is not None:
                self._image.close()
            self._reader = self._file = self._image = None
        with PDFIUM:
            if self._pdfium is not None:
                self._pdfium.close()
            self._pdfium = None


@contextmanager
def open_original(path: Path, media_type: str) -> Iterator[Original]:
    original = Original(path, media_type)
    try:
        yield original
    finally:
        original.close()


@contextmanager
def page_content(original: Original, number: int, workdir: Path) -> Iterator[PageContent]:
    """Page `number` (1-based) of the original; temporary files live in `workdir`."""
    if original.media_type == PDF:
        yield _pdf_page(original, number, workdir)
    elif original.media_type in (TIFF, JPEG, PNG):
        yield _image_page(original, number, workdir)
    else:
        raise PageUnreadable(f"no pages to read in a {original.media_type} file")


def _pdf_page(original: Original, number: int, workdir: Path) -> PageContent:
    with original.lock:
        reader = original.pdf_reader()
        if number > len(reader.pages):  # the page list is built once, on the first page's call
            raise PageUnreadable(f"the PDF has no page {number}")
        page = reader.pages[number - 1]
        try:
            text = page.extract_text() or ""
            if sum(ch.isalnum() for ch in text) >= MIN_TEXT_LAYER_CHARS:
                return PageContent(text=text.strip(), source="pypdf text layer")
            image = _scanned_jpeg(page, workdir)
        finally:
            # The reader keeps every object it has parsed, a scanned page's JPEG included: forgotten
            # after each page, memory stays flat. The cross-reference table and the page list stay;
            # what the next page needs is parsed again from the file.
            reader.resolved_objects.clear()
    if image is not None:
        return image
    return _render(original, number, workdir)


def _scanned_jpeg(page: Any, workdir: Path) -> PageContent | None:
    """The page's one JPEG as a file for tesseract, if the page is nothing but that image (page_jpeg)."""
    found = page_jpeg(page)
    if found is None:
        return None
    data, dpi = found
    path = workdir / "page.jpg"
    path.write_bytes(data)
    return PageContent(image=path, dpi=dpi, source="embedded image")


def page_jpeg(page: Any) -> tuple[bytes, int] | None:
    """The page's one JPEG, byte for byte as the scanner wrote it, and its resolution, if the page (a
    pypdf page) is nothing but that image.

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
    return data, round(px_w / (width_pt / 72))


def _render(original: Original, number: int, workdir: Path) -> PageContent:
    with PDFIUM:
        page = original.pdfium()[number - 1]
        try:
            bitmap = page.render(scale=RENDER_DPI / 72, grayscale=True)
            path = workdir / "page.pgm"
            bitmap.to_pil().save(path)  # the image shares the bitmap's memory: saved before closing
        finally:
            page.close()
    return PageContent(image=path, dpi=RENDER_DPI, source=RENDERED)


def _image_page(original: Original, number: int, workdir: Path) -> PageContent:
    media_type = original.media_type
    if media_type != TIFF and number != 1:
        raise PageUnreadable(f"a {media_type} image has one page, not page {number}")
    with original.lock:
        img = original.image()
        if media_type != TIFF:
            return PageContent(image=original.path, dpi=_dpi(img.info.get("dpi")), source="image")
        try:
            img.seek(number - 1)  # Pillow remembers where the frames it passed start
        except EOFError:
            raise PageUnreadable(f"the TIFF has no page {number}") from None
        dpi = _dpi(img.info.get("dpi"))
        frame = img if img.mode in ("1", "L", "RGB") else img.convert("RGB")
        # PNM: no compression to spend time on, and leptonica reads it directly.
        path = workdir / ("page.pbm" if frame.mode == "1" else "page.pnm")
        frame.save(path, "PPM")
    return PageContent(image=path, dpi=dpi, source="image")


def _dpi(value: object) -> int | None:
    if isinstance(value, tuple) and value and isinstance(value[0], int | float) and value[0] >= 50:
        return round(value[0])
    return None
