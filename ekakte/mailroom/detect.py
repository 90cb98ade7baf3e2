"""Finding cover and separator sheets, and blank pages, on a stack's page images (zxing-cpp)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ekakte.mailroom.codes import BadSheetCode, Sheet, decode_bytes

# Pages are searched at this resolution: enough for the 60 mm code of any sheet ekakte prints, and a
# ninth of the pixels of a 300 dpi scan. A code found but not decoded there is read again at the scan's
# full resolution (`find_sheet`'s `full`), so nothing is missed for speed.
DETECT_DPI = 100
# A page is blank when fewer than this share of its pixels, 5 % margins cut off (punch holes, the
# scanner's edge), are darker than paper: at 100 dpi, 15 pixels of an A4 page, a few specks of dust. A
# single typed "x" is 22 pixels, a word 150: a page with anything written on it is never taken for blank.
# "Darker than paper" is below 215 of 255, so that light pencil and faint ink count as writing (scanned
# paper is 230 and more); a sheet's back showing its front through thin paper then counts as content
# too, and stays a page of the document: the safe side.
BLANK_DARK_SHARE = 0.00002
_DARK = 215
_MARGIN = 0.05


class SheetProblem(Exception):
    """A page carries ekakte's code, but it cannot be trusted: damaged, forged, or two that disagree."""


@dataclass(frozen=True)
class Found:
    """What a page is to the splitter: a sheet (`sheet`), a blank page, or content; `unreadable`: a QR code
    is on it that could not be read even at full resolution (a stapled or stained sheet, perhaps)."""

    sheet: Sheet | None
    blank: bool
    unreadable: bool = False


def examine(image: Any, full: Any = None) -> Found:
    """`image`: the page in grayscale (PIL, mode L) at about DETECT_DPI; `full`: a callable giving it at
    its own resolution, asked only when a code was seen but could not be read in `image`."""
    sheet, unreadable = _read(image, full)
    if sheet is not None:
        return Found(sheet, blank=False)
    return Found(None, blank=not unreadable and is_blank(image), unreadable=unreadable)


def find_sheet(image: Any, full: Any = None) -> Sheet | None:
    """The sheet whose code is on the page; None if there is none (other codes are ignored).
    SheetProblem if ekakte's code is there and damaged, or two of ekakte's codes on one page disagree."""
    return _read(image, full)[0]


def _read(image: Any, full: Any) -> tuple[Sheet | None, bool]:
    """The page's sheet, and whether a QR code on it could not be read even at full resolution."""
    import zxingcpp

    qr = zxingcpp.barcode_formats_from_str("QRCode")
    codes = zxingcpp.read_barcodes(image, formats=qr, return_errors=True)
    if any(not code.valid for code in codes) and full is not None:
        codes = zxingcpp.read_barcodes(full(), formats=qr, return_errors=True)
    sheets: set[Sheet] = set()
    for code in codes:
        if not code.valid:
            continue
        try:
            sheet = decode_bytes(code.bytes)
        except BadSheetCode as exc:
            raise SheetProblem(f"an ekakte sheet's code that does not check out: {exc}") from None
        if sheet is not None:
            sheets.add(sheet)
    if len(sheets) > 1:
        raise SheetProblem("two ekakte sheet codes that disagree on one page")
    return (sheets.pop() if sheets else None), any(not code.valid for code in codes)


def is_blank(image: Any) -> bool:
    """Whether a page (grayscale, PIL) has next to nothing on it: the back of a sheet in a duplex scan."""
    width, height = image.size
    dx, dy = int(width * _MARGIN), int(height * _MARGIN)
    inner = image.crop((dx, dy, width - dx, height - dy))
    histogram = inner.histogram()
    dark = sum(histogram[:_DARK])
    total = inner.width * inner.height
    return bool(total > 0 and dark / total < BLANK_DARK_SHARE)
