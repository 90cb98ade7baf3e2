"""A stack (one scanned PDF or multi-page TIFF of many documents): its pages for the detector, its plan
of parts, and each part written as a new file whose page images are the stack's, never re-encoded."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from ekakte.errors import UnsupportedFile
from ekakte.mailroom.codes import Sheet
from ekakte.mailroom.detect import DETECT_DPI, Found, SheetProblem, examine, is_blank
from ekakte.media import PDF, TIFF


@dataclass(frozen=True)
class Part:
    """Pages first..last (1-based, inclusive) of the stack. `kind`: "document" (with the cover sheet it
    follows, or none: `sheet` None or a separator), "cover" or "separator" (the sheet itself), "back"
    (the blank back of a sheet scanned duplex)."""

    kind: str
    first: int
    last: int
    sheet: Sheet | None = None
    # A document that begins on a page with a QR code no one could read: that page may have been a
    # cover sheet, so which case the pages belong to is not certain (they go to the Postkorb).
    doubt: bool = False

    @property
    def pages(self) -> int:
        return self.last - self.first + 1


def plan(found: list[Found]) -> list[Part]:
    """The stack's parts from what each page is. A sheet starts a document; the pages after it up to the
    next sheet are that document. A blank page right after a sheet is the sheet's back (duplex) and is
    not part of the document; other blank pages stay where they are (a page of the document). Two
    sheets in a row leave no document between them. Pages before the first sheet are a document
    without a sheet. A page with a QR code that could not be read starts a document in doubt (it may
    have been a cover sheet): it and the pages up to the next sheet go to the Postkorb, never into the
    case of the sheet before it."""
    parts: list[Part] = []
    current: Sheet | None = None
    start: int | None = None
    after_sheet = False
    doubt = False
    for number, page in enumerate(found, start=1):
        if page.sheet is not None:
            if start is not None:
                parts.append(Part("document", start, number - 1, current, doubt))
            parts.append(Part(page.sheet.kind, number, number, page.sheet))
            current, start, after_sheet, doubt = page.sheet, None, True, False
        elif page.unreadable:
            if start is not None:
                parts.append(Part("document", start, number - 1, current, doubt))
            current, start, after_sheet, doubt = None, number, False, True
        elif page.blank and after_sheet:
            parts.append(Part("back", number, number))
            after_sheet = False
        else:
            if start is None:
                start = number
            after_sheet = False
    if start is not None:
        parts.append(Part("document", start, len(found), current, doubt))
    return parts


class Stack:
    """An open stack file. `pages()` yields each page for the detector; `write_part` writes a part."""

    def __init__(self, fh: BinaryIO, media_type: str, page_count: int) -> None:
        self.fh = fh
        self.media_type = media_type
        self.page_count = page_count
        self._pdf: Any = None
        self._pdfium: Any = None
        self._tiff: Any = None
        if media_type == PDF:
            from pypdf import PdfReader

            logging.getLogger("pypdf").setLevel(logging.ERROR)
            fh.seek(0)
            self._pdf = PdfReader(fh, strict=False)
        elif media_type == TIFF:
            from ekakte.mailroom.tiff import TiffFile, TiffProblem

            try:
                self._tiff = TiffFile(fh, max_pages=page_count)
            except TiffProblem as exc:
                raise UnsupportedFile(f"cannot split this TIFF: {exc}") from None
            if len(self._tiff.pages) != page_count:
                raise UnsupportedFile("cannot split this TIFF: its pages do not agree with its directories")
        else:
            raise UnsupportedFile(
                "a stack is a PDF or a multi-page TIFF; import a single image as a document"
            )

    def examine_pages(self, progress: Callable[[int], None] | None = None) -> list[Found]:
        """What each page is, in order. UnsupportedFile naming the page when a sheet cannot be trusted."""
        found = []
        for number, (image, full) in enumerate(self._images(), start=1):
            try:
                found.append(examine(image, full))
            except SheetProblem as exc:
                raise UnsupportedFile(f"page {number}: {exc}") from None
            if progress:
                progress(number)
        return found

    def _images(self) -> Iterator[tuple[Any, Callable[[], Any]]]:
        """Each page in grayscale at about DETECT_DPI, and how to get it at full resolution."""
        if self.media_type == PDF:
            yield from self._pdf_images()
        else:
            yield from self._tiff_images()

    def _pdf_images(self) -> Iterator[tuple[Any, Callable[[], Any]]]:
        """A scanner's page (one JPEG filling it) is decoded by libjpeg at a fraction of its size, which
        costs a fraction of the time (DCT scaling); other pages are rendered by PDFium."""
        import pypdfium2

        from ekakte.ocr.pages import PDFIUM, RENDER_DPI, page_jpeg

        self.fh.seek(0)
        with PDFIUM:
            document = pypdfium2.PdfDocument(self.fh)
        try:
            for index in range(self.page_count):

                def render(dpi: int, index: int = index) -> Any:
                    with PDFIUM:
                        page = document[index]
                        try:
                            bitmap = page.render(scale=dpi / 72, grayscale=True)
                            return bitmap.to_pil().convert("L")
                        finally:
                            page.close()

                jpeg = page_jpeg(self._pdf.pages[index])
                # What pypdf parsed of this page (its JPEG included) is forgotten: memory stays flat.
                self._pdf.resolved_objects.clear()
                full = functools.partial(render, RENDER_DPI)
                yield (_jpeg_image(*jpeg) if jpeg is not None else render(DETECT_DPI)), full
        finally:
            with PDFIUM:
                document.close()

    def _tiff_images(self) -> Iterator[tuple[Any, Callable[[], Any]]]:
        from PIL import Image

        self.fh.seek(0)
        with Image.open(self.fh) as image:
            for index in range(self.page_count):
                image.seek(index)
                gray = image.convert("L")
                dpi = _dpi(image.info.get("dpi"))
                factor = max(1, round(dpi / DETECT_DPI))
                small = gray.reduce(factor) if factor > 1 else gray
                yield small, functools.partial(_itself, gray)

    def blank_pages(self) -> list[int]:
        """The pages (1-based) with next to nothing on them (ekakte.mailroom.detect.is_blank), judged at
        about DETECT_DPI as the splitter judges a sheet's back."""
        return [n for n, (image, _full) in enumerate(self._images(), start=1) if is_blank(image)]

    def write_without(self, out: BinaryIO, dropped: set[int]) -> None:
        """The file without the pages in `dropped` (1-based), the others' content as it is."""
        kept = [index for index in range(self.page_count) if index + 1 not in dropped]
        if self.media_type == PDF:
            from pypdf import PdfWriter

            writer = PdfWriter()
            for index in kept:
                writer.add_page(self._pdf.pages[index])
            writer.write(out)
            self._pdf.resolved_objects.clear()
        else:
            self._tiff.write_pages(out, kept)

    def write_part(self, out: BinaryIO, first: int, last: int) -> None:
        """Pages first..last (1-based) as a new file of the stack's kind, its page content the stack's."""
        if self.media_type == PDF:
            from pypdf import PdfWriter

            writer = PdfWriter()
            for index in range(first - 1, last):
                writer.add_page(self._pdf.pages[index])
            writer.write(out)
            # What the reader parsed for this part (its pages' images) is forgotten, as after detection:
            # memory stays that of one part, not of the whole stack.
            self._pdf.resolved_objects.clear()
        else:
            self._tiff.write_part(out, first - 1, last - 1)


def _itself(image: Any) -> Any:
    return image


def _jpeg_image(data: bytes, dpi: int) -> Any:
    """A scanner's JPEG in grayscale at about DETECT_DPI, decoded at 1/2, 1/4 or 1/8 of its size."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(data))
    factor = max(1, dpi // DETECT_DPI)
    image.draft("L", (image.width // factor, image.height // factor))
    return image.convert("L")


def _dpi(value: Any) -> float:
    try:
        dpi = float(value[0])
    except (TypeError, ValueError, IndexError):
        return 300.0  # scanners write it; without it, assume the usual
    return dpi if 50 <= dpi <= 2400 else 300.0
