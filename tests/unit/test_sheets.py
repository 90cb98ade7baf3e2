"""Cover and separator sheets: their codes, and finding them on scanned pages (the generated corpus)."""

from __future__ import annotations

import io
import itertools
import os

import pytest

from ekakte.mailroom.codes import COVER, BadSheetCode, Sheet, checksum, decode, encode
from ekakte.mailroom.detect import DETECT_DPI, SheetProblem, examine, find_sheet
from ekakte.mailroom.split import Part, plan
from tests.conftest import CASE, scans

SHEET = Sheet(CASE, "Gutachten", "Ärztliches Gutachten – Dr. Müller")


def test_a_code_carries_case_type_and_title_and_checks_its_checksum() -> None:
    assert decode(encode(SHEET)) == SHEET
    assert decode(encode(Sheet())) == Sheet()
    assert decode("https://example.org/paket/123") is None  # someone else's code: not a sheet
    lines = [COVER, CASE, "Antrag", ""]
    assert decode("\n".join([*lines, checksum(lines)])) == Sheet(CASE, "Antrag")
    forged = "\n".join([COVER, "54321BG7654321", "Antrag", "", checksum(lines)])
    with pytest.raises(BadSheetCode, match="checksum"):
        decode(forged)
    with pytest.raises(BadSheetCode, match="layout"):
        decode("EKAKTE-DECKBLATT-9\nx")
    with pytest.raises(ValueError):
        encode(Sheet(CASE, "Antrag", "zwei\nZeilen"))


def small(image: object, dpi: int) -> object:
    """The page as the splitter looks at it: grayscale, reduced to about DETECT_DPI."""
    gray = image.convert("L")  # type: ignore[attr-defined]
    factor = max(1, round(dpi / DETECT_DPI))
    return gray.reduce(factor) if factor > 1 else gray


CORPUS = list(
    itertools.product(
        [200, 300],  # dpi
        [-5.0, -2.5, 0.0, 3.0, 5.0],  # skew in degrees
        [False, True],  # upside down
        [False, True],  # bitonal
    )
)
# Each sheet takes about half a second to print and scan here, so by default the cover sheet is tried at
# the extremes of skew in every resolution, orientation and mode (16), the separator in four of them;
# EKAKTE_SHEET_CORPUS=full tries all 40 of both (as `make bench` does, which reports the figures).
FULL = os.environ.get("EKAKTE_SHEET_CORPUS") == "full"


def corpus(sheet: Sheet) -> list[tuple[int, float, bool, bool]]:
    """The combinations tried, and a 600 dpi sheet (the top of a scanner's range) skewed and upside down."""
    top = [(600, 5.0, True, False)] if sheet.is_cover else []
    if FULL:
        return CORPUS + top
    extremes = [c for c in CORPUS if abs(c[1]) == 5.0]
    return (extremes if sheet.is_cover else extremes[::4]) + top


@pytest.mark.parametrize("sheet", [SHEET, Sheet()], ids=["cover", "separator"])
def test_every_sheet_of_the_corpus_is_found(sheet: Sheet) -> None:
    """200 and 300 dpi, skewed up to ±5°, upside down or not, grayscale JPEG or bitonal: all found."""
    missed = []
    for n, (dpi, skew, upside_down, bitonal) in enumerate(corpus(sheet)):
        page = scans.sheet_page(sheet.case_number, sheet.document_type, sheet.title, dpi=dpi, seed=n,
                                rotate=skew, upside_down=upside_down)  # fmt: skip
        if bitonal:
            page = scans.bitonal(page)
        found = examine(small(page, dpi), lambda page=page: page.convert("L"))
        if found.sheet != sheet or found.blank:
            missed.append((dpi, skew, upside_down, bitonal, found))
    assert missed == []


def test_no_sheet_is_found_where_there_is_none() -> None:
    """Letters of every kind the generator writes, a blank page, and a page with someone else's QR code."""
    import zxingcpp
    from PIL import Image

    pages = [scans.scan_page(scans.german_lines(seed, 40), dpi=200, seed=seed) for seed in range(12)]
    pages += [scans.bitonal(p) for p in pages[:4]]
    foreign = Image.new("L", (1654, 2339), 240)
    code = zxingcpp.create_barcode("https://www.jobcenter.example/termin/4711", zxingcpp.BarcodeFormat.QRCode)
    image = code.to_image(scale=12)
    foreign.paste(
        Image.frombytes("L", (image.shape[1], image.shape[0]), bytes(memoryview(image))), (300, 300)
    )
    for page in [*pages, foreign]:
        assert find_sheet(small(page, 200)) is None
    assert [examine(small(p, 200)).blank for p in pages] == [False] * len(pages)
    assert examine(small(scans.blank_page(dpi=200, seed=3), 200)).blank


def test_two_sheets_that_disagree_on_one_page_are_refused() -> None:
    from PIL import Image

    a = scans.sheet_page(CASE, "Antrag", dpi=200, seed=1, rotate=0)
    b = scans.sheet_page("54321BG7654321", "Antrag", dpi=200, seed=2, rotate=0)
    both = Image.new("L", (a.width, a.height), 240)
    both.paste(a.crop((0, 0, a.width, a.height // 2)), (0, 0))
    both.paste(b.crop((0, 0, a.width, a.height // 2)), (0, a.height // 2))
    with pytest.raises(SheetProblem, match="disagree"):
        find_sheet(small(both, 200))


def test_the_plan_splits_at_sheets_and_takes_only_a_blank_page_right_after_a_sheet_as_its_back() -> None:
    from ekakte.mailroom.detect import Found

    cover, sep = Found(SHEET, False), Found(Sheet(), False)
    page, blank = Found(None, False), Found(None, True)
    assert plan([page, cover, blank, page, blank, page, sep, page, cover, cover, page]) == [
        Part("document", 1, 1, None),
        Part("cover", 2, 2, SHEET),
        Part("back", 3, 3),
        Part("document", 4, 6, SHEET),  # a blank page inside a document stays in it
        Part("separator", 7, 7, Sheet()),
        Part("document", 8, 8, Sheet()),
        Part("cover", 9, 9, SHEET),
        Part("cover", 10, 10, SHEET),
        Part("document", 11, 11, SHEET),
    ]


def test_the_printed_pdf_is_the_same_for_the_same_sheet() -> None:
    from ekakte.mailroom.coversheet import write_sheets

    a, b = io.BytesIO(), io.BytesIO()
    write_sheets(a, [SHEET, Sheet()])
    write_sheets(b, [SHEET, Sheet()])
    assert a.getvalue() == b.getvalue()
    assert a.getvalue().startswith(b"%PDF-1.4") and a.getvalue().rstrip().endswith(b"%%EOF")


@pytest.mark.parametrize("title", ["Ä" * 100, "Müller", "Ärztliches Gutachten – Dr. Müller", "x" * 500])
def test_what_is_printed_is_read_back_exactly_whatever_its_characters(title: str) -> None:
    """Latin-1 letters only ("Ä" * 100) once came back as Shift_JIS katakana: a reader guesses the
    character set of text without a marker. ekakte's codes carry UTF-8 bytes, read back as bytes."""
    import pypdfium2

    from ekakte.mailroom.coversheet import write_sheets

    out = io.BytesIO()
    sheet = Sheet(CASE, "Gutachten", title)
    write_sheets(out, [sheet])
    pdf = pypdfium2.PdfDocument(out.getvalue())
    try:
        image = pdf[0].render(scale=DETECT_DPI / 72, grayscale=True).to_pil().convert("L")
    finally:
        pdf.close()
    assert find_sheet(image) == sheet


def stapled_sheet(case: str = CASE) -> object:
    """A cover sheet whose code lost its middle to a stain: the code is seen, but cannot be read."""
    from PIL import ImageDraw

    page = scans.sheet_page(case, "Antrag", dpi=200, seed=1, rotate=0)
    centre, top, size = page.width // 2, round(200 * 160 / 72), round(200 * 170 / 72)
    ImageDraw.Draw(page).rectangle(
        [centre - size * 0.35, top + size * 0.25, centre + size * 0.35, top + size * 0.75], fill=240
    )
    return page


def test_a_code_that_cannot_be_read_is_said_so_never_taken_for_content() -> None:
    page = stapled_sheet()
    found = examine(small(page, 200), lambda: page.convert("L"))  # type: ignore[attr-defined]
    assert (found.sheet, found.blank, found.unreadable) == (None, False, True)


def test_a_document_after_an_unreadable_code_is_in_doubt_not_in_the_case_before_it() -> None:
    from ekakte.mailroom.detect import Found

    cover, page, stain = Found(SHEET, False), Found(None, False), Found(None, False, unreadable=True)
    assert plan([cover, page, stain, page, cover, page]) == [
        Part("cover", 1, 1, SHEET),
        Part("document", 2, 2, SHEET),
        Part("document", 3, 4, None, doubt=True),
        Part("cover", 5, 5, SHEET),
        Part("document", 6, 6, SHEET),
    ]


def test_a_page_with_a_pencil_note_is_not_a_blank_back() -> None:
    from PIL import ImageDraw, ImageFont

    page = scans.blank_page(dpi=200, seed=4)
    hand = ImageFont.load_default(size=40)  # about 5 mm high at 200 dpi, as a note is written
    ImageDraw.Draw(page).text((400, 600), "Bitte Rückruf", fill=200, font=hand)  # light pencil
    assert not examine(small(page, 200)).blank
