"""Cover sheets (Deckblätter) and separator sheets (Trennblätter) as a PDF to print.

Each page is A4 with the sheet's QR code (drawn as vector squares: sharp at any printer resolution, a
few KB per page) and the same content in large type, so that a person can check a sheet before it goes
into the scanner. The PDF is written directly: fonts are the standard Helvetica of every PDF reader
(WinAnsiEncoding), nothing is embedded, the same input gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO

from ekakte.mailroom.codes import Sheet, encode

if TYPE_CHECKING:
    from ekakte.config import Settings

# Error correction level Q: a quarter of the code may be lost (a staple, a stamp, a fold) and it still
# reads. The code is 60 mm wide: at 100 dpi, the resolution pages are searched at, a module of the
# largest code ekakte writes (a 500-character title) is still four pixels wide.
EC_LEVEL = "Q"
A4 = (595.276, 841.890)  # points
CODE_SIZE = 170.0  # points, 60 mm
MAX_PRINTED_TITLE = 70  # characters of the title printed in large type; the code carries all of it


def qr_modules(text: str, ec_level: str = EC_LEVEL) -> list[list[bool]]:
    """The QR code's modules, row by row, True for dark (zxing-cpp writes it)."""
    import zxingcpp

    # As UTF-8 bytes (byte mode): read back as exactly these bytes, whatever character set a reader
    # would otherwise guess for text without a marker.
    image = zxingcpp.create_barcode(
        text.encode("utf-8"), zxingcpp.BarcodeFormat.QRCode, ec_level=ec_level
    ).to_image(scale=1, add_quiet_zones=False)
    height, width = image.shape[0], image.shape[1]
    data = bytes(memoryview(image))  # type: ignore[arg-type]  # the Image has the buffer protocol
    return [[data[y * width + x] < 128 for x in range(width)] for y in range(height)]


def write_sheets(out: BinaryIO, sheets: Iterable[Sheet]) -> int:
    """Write a PDF with one page per sheet to `out`; the number of pages."""
    pages = [_page_content(sheet) for sheet in sheets]
    if not pages:
        raise ValueError("no sheets to write")
    writer = _PdfWriter(out)
    catalog, pages_id = 1, 2
    font, bold = 3, 4
    writer.obj(catalog, b"<< /Type /Catalog /Pages 2 0 R >>")
    page_ids = [5 + 2 * i for i in range(len(pages))]
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    writer.obj(pages_id, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (len(pages), kids))
    writer.obj(font, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    writer.obj(
        bold, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
    )
    for pid, content in zip(page_ids, pages, strict=True):
        writer.obj(
            pid,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Resources << /Font << /F1 %d 0 R"
            b" /F2 %d 0 R >> >> /Contents %d 0 R >>" % (_num(A4[0]), _num(A4[1]), font, bold, pid + 1),
        )
        writer.obj(pid + 1, b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    writer.finish(catalog)
    return len(pages)


def _page_content(sheet: Sheet) -> bytes:
    width, height = A4
    ops: list[bytes] = []
    if sheet.is_cover:
        ops += _text(56, height - 90, 40, "DECKBLATT", bold=True)
    else:
        ops += _text(56, height - 90, 40, "TRENNBLATT", bold=True)
    ops += _text(56, height - 122, 18, "Trennblatt \u2013 wird nicht archiviert", bold=True)
    left, top = (width - CODE_SIZE) / 2, height - 160
    ops += _code(encode(sheet), left, top - CODE_SIZE, CODE_SIZE)
    y = top - CODE_SIZE - 60
    if sheet.is_cover:
        ops += _text(56, y, 13, "Aktenzeichen")
        ops += _text(56, y - 34, 30, sheet.case_number or "", bold=True)
        ops += _text(56, y - 80, 13, "Dokumentart")
        ops += _text(56, y - 110, 24, sheet.document_type or "", bold=True)
        if sheet.title:
            title = sheet.title
            if len(title) > MAX_PRINTED_TITLE:
                title = title[: MAX_PRINTED_TITLE - 1] + "\u2026"
            ops += _text(56, y - 150, 13, "Titel")
            ops += _text(56, y - 172, 15, title)
    else:
        ops += _text(56, y, 15, "Die folgenden Seiten bis zum nächsten Blatt sind ein neues Dokument.")
        ops += _text(56, y - 22, 15, "Ohne Aktenzeichen: es wird zugeordnet oder geht in den Postkorb.")
    ops += _text(
        56, 56, 10, "Mit der bedruckten Seite wie die Post in den Scanner legen. ekakte \u00b7 Posteingang"
    )
    return b"\n".join(ops)


def _text(x: float, y: float, size: float, text: str, *, bold: bool = False) -> list[bytes]:
    font = b"/F2" if bold else b"/F1"
    return [b"BT %s %s Tf %s %s Td (%s) Tj ET" % (font, _num(size), _num(x), _num(y), _pdf_string(text))]


def _code(text: str, left: float, bottom: float, size: float) -> list[bytes]:
    """The QR code as filled rectangles, one per horizontal run of dark modules."""
    modules = qr_modules(text)
    n = len(modules)
    unit = size / n
    ops = [b"0 g"]
    for row, dark in enumerate(modules):
        y = bottom + (n - 1 - row) * unit
        for start, length in dark_runs(dark):
            ops.append(
                b"%s %s %s %s re" % (_num(left + start * unit), _num(y), _num(length * unit), _num(unit))
            )
    ops.append(b"f")
    return ops


def dark_runs(row: list[bool]) -> Iterator[tuple[int, int]]:
    """A row's horizontal runs of dark modules, as (start, length)."""
    start = None
    for i, dark in enumerate([*row, False]):
        if dark and start is None:
            start = i
        elif not dark and start is not None:
            yield start, i - start
            start = None


def _num(value: float) -> bytes:
    return (b"%.3f" % value).rstrip(b"0").rstrip(b".")


def _pdf_string(text: str) -> bytes:
    """A literal string in WinAnsiEncoding; characters it lacks are printed as '?' (the code keeps them)."""
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


class _PdfWriter:
    """Objects written in order, then the cross-reference table and trailer."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.offsets: dict[int, int] = {}
        self.position = 0
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.position += len(data)

    def obj(self, number: int, body: bytes) -> None:
        self.offsets[number] = self.position
        self._write(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def finish(self, root: int) -> None:
        count = max(self.offsets) + 1
        xref = self.position
        lines = [b"xref\n0 %d\n" % count, b"0000000000 65535 f \n"]
        lines += [b"%010d 00000 n \n" % self.offsets[n] for n in range(1, count)]
        self._write(b"".join(lines))
        self._write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, root, xref))


MAX_COUNT = 500


def cover_sheets(
    settings: Settings,
    out: BinaryIO,
    *,
    case_number: str | None = None,
    document_type: str | None = None,
    title: str | None = None,
    count: int = 1,
) -> int:
    """Write `count` cover sheets for a case and type (or, without either, plain separator sheets) as a PDF
    to `out`; the number of pages. InvalidInput for a case number, type or title the archive would not
    take at import: a sheet is checked when it is printed, not when its stack is scanned."""
    from ekakte.errors import InvalidInput
    from ekakte.ingest import valid_title

    if not 1 <= count <= MAX_COUNT:
        raise InvalidInput(f"the number of sheets must be 1 to {MAX_COUNT}", field="count")
    if case_number is None and document_type is None:
        if title:
            raise InvalidInput("a separator sheet carries no title: it names no case", field="title")
        sheet = Sheet()
    elif case_number is None or document_type is None:
        raise InvalidInput(
            "a cover sheet names both the case number and the document type; a separator sheet neither",
            field="case_number" if case_number is None else "document_type",
        )
    else:
        sheet = Sheet(
            settings.case_number(case_number), settings.document_type(document_type), valid_title(title)
        )
    return write_sheets(out, [sheet] * count)
