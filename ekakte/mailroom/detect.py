"""Finding cover and separator sheets, blank pages and letters' reference codes on page images (zxing-cpp)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ekakte.mailroom.codes import BadReferenceCode, BadSheetCode, Reference, Sheet, decode_bytes

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
    codes = _qr_codes(image)
    if any(not code.valid for code in codes) and full is not None:
        codes = _qr_codes(full())
    sheets: set[Sheet] = set()
    for code in codes:
        if not code.valid:
            continue
        try:
            sheet = decode_bytes(code.bytes)
        except BadReferenceCode:
            # A letter's reference code never says where a document ends, so a damaged or forged one is
            # like any other code on a letter (a parcel label): its page is content. Refusing the day's
            # stack for it would stop the mail room over a code the split does not need. find_references
            # reports it, for the sort.
            continue
        except BadSheetCode as exc:
            raise SheetProblem(f"an ekakte sheet's code that does not check out: {exc}") from None
        if isinstance(sheet, Sheet):  # a reference code is content, like a foreign code
            sheets.add(sheet)
    if len(sheets) > 1:
        raise SheetProblem("two ekakte sheet codes that disagree on one page")
    return (sheets.pop() if sheets else None), any(not code.valid for code in codes)


@dataclass(frozen=True)
class References:
    """The reference codes on a page: those that check out (`found`), and what else was seen that may
    have been one (`problems`, one line each): a damaged or forged reference code, a QR code that could
    not be read even at full resolution."""

    found: frozenset[Reference]
    problems: tuple[str, ...] = ()


# How `find_references` names its problems (the Postkorb's sort tells them apart: a damaged code of
# ekakte's stops it, one it could not read at all may be anyone's).
UNREADABLE = "a QR code that could not be read"
BAD_REFERENCE = "a reference code that does not check out"


def find_references(image: Any, full: Any = None) -> References:
    """The reference codes the job centre's letters carry, on one page: `image` and `full` as for
    `examine`. Sheet codes and other codes are not references and are left out."""
    references = _references(_qr_codes(image))
    # Read again at full resolution not only when a code was seen but not read (as for sheets), but also
    # when none was read at all: a letter's code is small (15 to 20 mm where a sheet's is 60), and on a
    # 200 dpi scan it is at times not even seen at DETECT_DPI, while at the scan's own resolution every
    # one of the tests' reads. The sort reads a few pages per letter, not a day's stack: one more read of
    # a page without a code (9 ms at 200 dpi, 20 ms at 300 dpi) is what finding each code costs.
    if full is not None and (references.problems or not references.found):
        references = _references(_qr_codes(full()))
    return references


def _references(codes: list[Any]) -> References:
    found: set[Reference] = set()
    problems: list[str] = []
    for code in codes:
        if not code.valid:
            problems.append(UNREADABLE)
            continue
        try:
            content = decode_bytes(code.bytes)
        except BadReferenceCode as exc:
            problems.append(f"{BAD_REFERENCE}: {exc}")
            continue
        except BadSheetCode:
            continue  # a sheet's, not a reference
        if isinstance(content, Reference):
            found.add(content)
    return References(frozenset(found), tuple(dict.fromkeys(problems)))  # a code seen twice, said once


def _qr_codes(image: Any) -> list[Any]:
    """The QR codes zxing-cpp finds on the page, those it saw but could not read included."""
    import zxingcpp

    qr = zxingcpp.barcode_formats_from_str("QRCode")
    return list(zxingcpp.read_barcodes(image, formats=qr, return_errors=True))


def is_blank(image: Any) -> bool:
    """Whether a page (grayscale, PIL) has next to nothing on it: the back of a sheet in a duplex scan."""
    width, height = image.size
    dx, dy = int(width * _MARGIN), int(height * _MARGIN)
    inner = image.crop((dx, dy, width - dx, height - dy))
    histogram = inner.histogram()
    dark = sum(histogram[:_DARK])
    total = inner.width * inner.height
    return bool(total > 0 and dark / total < BLANK_DARK_SHARE)
