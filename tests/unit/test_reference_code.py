"""The reference code (Bezugscode) on the job centre's letters: its content, its images, reading it back."""

from __future__ import annotations

import io
import itertools
from pathlib import Path
from typing import Any

import pytest

from ekakte.config import Settings, load_settings
from ekakte.errors import InvalidInput
from ekakte.mailroom.codes import (
    REFERENCE,
    BadReferenceCode,
    BadSheetCode,
    Reference,
    Sheet,
    checksum,
    decode,
    decode_bytes,
    encode,
)
from ekakte.mailroom.detect import DETECT_DPI, Found, References, examine, find_references, find_sheet
from ekakte.mailroom.refcode import reference_code
from ekakte.mailroom.split import Part, plan
from tests.conftest import CASE, scans

REF = Reference(CASE, "Anforderung 2026-11-30")
LONG = "Anforderung von Nachweisen zur Weiterbewilligung vom 1.12.2026/1"  # the most a reference may have


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({"EKAKTE_HOME": str(tmp_path)})


def small(image: Any, dpi: int) -> Any:
    """The page as the splitter and the sort look at it first: grayscale, reduced to about DETECT_DPI."""
    gray = image.convert("L")
    factor = max(1, round(dpi / DETECT_DPI))
    return gray.reduce(factor) if factor > 1 else gray


def letter(png: bytes, *, dpi: int = 200, seed: int = 0, rotate: float = 0.0, bitonal: bool = False) -> Any:
    """A letter with the code printed in its information block, scanned."""
    page = scans.coded_letter_page(scans.german_lines(seed, 40), png, dpi=dpi, seed=seed, rotate=rotate)
    return scans.bitonal(page) if bitonal else page


def code_png(text: str, size_mm: float = 20.0) -> bytes:
    """Any text as a QR code PNG `size_mm` wide: a code ekakte would never print (forged, damaged)."""
    import zxingcpp
    from PIL import Image

    image = zxingcpp.create_barcode(text.encode("utf-8"), zxingcpp.BarcodeFormat.QRCode, ec_level="Q")
    pixels = image.to_image(scale=8)
    code = Image.frombytes("L", (pixels.shape[1], pixels.shape[0]), bytes(memoryview(pixels)))
    out = io.BytesIO()
    dpi = code.width / (size_mm / 25.4)
    code.save(out, "PNG", dpi=(dpi, dpi))
    return out.getvalue()


def test_a_reference_code_carries_case_and_reference_and_checks_its_checksum() -> None:
    assert decode(encode(REF)) == REF
    assert decode(encode(Reference(CASE))) == Reference(CASE)
    assert decode_bytes(encode(REF).encode("utf-8")) == REF
    assert encode(REF).split("\n")[:3] == [REFERENCE, CASE, "Anforderung 2026-11-30"]
    forged = "\n".join(
        [REFERENCE, "54321BG7654321", REF.reference or "", checksum(encode(REF).split("\n")[:3])]
    )
    with pytest.raises(BadReferenceCode, match="checksum"):
        decode(forged)
    assert issubclass(BadReferenceCode, BadSheetCode)  # whoever refuses a bad ekakte code refuses it too
    with pytest.raises(BadReferenceCode, match="layout"):
        decode("EKAKTE-BEZUG-2\nx\ny")  # a later version is a reference code too, never a sheet
    with pytest.raises(BadReferenceCode, match="UTF-8"):
        decode_bytes(b"EKAKTE-BEZUG-1\n\xc4\n\n00000000")
    lines = [REFERENCE, "", ""]
    with pytest.raises(BadReferenceCode, match="without case number"):
        decode("\n".join([*lines, checksum(lines)]))
    with pytest.raises(ValueError):
        encode(Reference(CASE, "zwei\nZeilen"))
    # A value ekakte would not write (a paragraph separator, a reference too long) is a forged code.
    for values in ([CASE, "a\u2028!zzz"], [CASE, "x" * 65], ["\x07" + CASE, ""]):
        lines = [REFERENCE, *values]
        with pytest.raises(BadReferenceCode, match="printable"):
            decode("\n".join([*lines, checksum(lines)]))
    # the sheets' codes are what they were
    assert decode(encode(Sheet(CASE, "Antrag"))) == Sheet(CASE, "Antrag")
    with pytest.raises(BadSheetCode) as refused:
        decode("EKAKTE-DECKBLATT-9\nx")
    assert not isinstance(refused.value, BadReferenceCode)


def test_the_code_for_a_letter_is_checked_as_an_import_checks_a_case_number(settings: Settings) -> None:
    svg = reference_code(settings, CASE.lower(), "  Anforderung 2026-11-30 ")
    assert decode(_svg_text(svg)) == REF  # the stored spelling, the reference trimmed
    assert decode(_svg_text(reference_code(settings, CASE, "   "))) == Reference(CASE)

    def refused(**kw: Any) -> InvalidInput:
        args = {"case_number": CASE, "reference": None, **kw}
        with pytest.raises(InvalidInput) as exc:
            reference_code(settings, args.pop("case_number"), args.pop("reference"), **args)
        assert "\n" not in str(exc.value)
        return exc.value

    assert "invalid case number '123'" in str(refused(case_number="123"))
    assert refused(reference="x" * 65).field == "reference"
    assert refused(reference="zwei\nZeilen").field == "reference"
    assert refused(reference="Bezug \u202e").field == "reference"  # a direction override
    assert refused(size_mm=14.9).field == "size_mm"
    assert refused(size_mm=60.5).field == "size_mm"
    assert refused(fmt="pdf").field == "format"
    assert refused(dpi=150).field == "dpi"
    # 64 letters of two bytes each make a larger code: 20 mm would make its modules too small to scan
    big = refused(reference="ä" * 64)
    assert big.field == "size_mm" and "at least 23 mm" in str(big)
    assert decode(_svg_text(reference_code(settings, CASE, "ä" * 64, size_mm=23))) == Reference(
        CASE, "ä" * 64
    )
    assert len(LONG) == 64 and decode(_svg_text(reference_code(settings, CASE, LONG))) == Reference(
        CASE, LONG
    )


def test_the_same_code_gives_the_same_bytes_and_the_png_prints_at_its_size(settings: Settings) -> None:
    from PIL import Image

    for fmt in ("svg", "png"):
        assert reference_code(settings, CASE, "Anforderung 2026-11-30", fmt=fmt) == reference_code(
            settings, CASE, "Anforderung 2026-11-30", fmt=fmt
        )
    for size_mm, dpi in [(20.0, 300), (15.0, 600), (60.0, 1200)]:
        png = Image.open(io.BytesIO(reference_code(settings, CASE, fmt="png", size_mm=size_mm, dpi=dpi)))
        assert png.format == "PNG" and png.mode == "1"
        assert png.size == (round(size_mm / 25.4 * dpi),) * 2
        assert [round(d) for d in png.info["dpi"]] == [dpi, dpi]  # printed at size_mm


def _svg_squares(svg: bytes) -> tuple[tuple[str, str, str], list[tuple[str, int, int, int, int]]]:
    """The SVG's size and viewBox, and its rectangles (fill, x, y, width, height), parsed as XML."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    rects = []
    for element in root.iter():
        assert element.tag in (f"{ns}svg", f"{ns}rect"), element.tag  # squares only
        assert not any("href" in name for name in element.attrib)  # nothing to fetch
        if element.tag == f"{ns}rect":
            a = element.attrib
            rects.append((a["fill"], int(a["x"]), int(a["y"]), int(a["width"]), int(a["height"])))
    return (root.attrib["width"], root.attrib["height"], root.attrib["viewBox"]), rects


def _svg_text(svg: bytes) -> str:
    """The SVG's squares painted with PIL, 8 pixels a module, and the code on them read by zxing-cpp."""
    import zxingcpp
    from PIL import Image, ImageDraw

    (_, _, view_box), rects = _svg_squares(svg)
    side = int(view_box.split()[2])
    image = Image.new("L", (side * 8, side * 8), 128)  # grey: the white square must cover it
    draw = ImageDraw.Draw(image)
    for fill, x, y, width, height in rects:
        draw.rectangle((x * 8, y * 8, (x + width) * 8 - 1, (y + height) * 8 - 1), fill=fill)
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.barcode_formats_from_str("QRCode"))
    assert len(codes) == 1
    return bytes(codes[0].bytes).decode("utf-8")


def test_the_svg_is_vector_squares_carrying_the_same_code(settings: Settings) -> None:
    svg = reference_code(settings, CASE, "Anforderung 2026-11-30", size_mm=22.5)
    (width, height, view_box), rects = _svg_squares(svg)
    assert (width, height) == ("22.5mm", "22.5mm")
    side = int(view_box.split()[2])
    assert view_box == f"0 0 {side} {side}" and rects[0] == ("#ffffff", 0, 0, side, side)
    # the quiet zone: four modules of white around every dark square
    assert all(x >= 4 and x + w <= side - 4 and 4 <= y <= side - 5 for _, x, y, w, _ in rects[1:])
    assert decode_bytes(_svg_text(svg).encode("utf-8")) == REF


# 200 and 300 dpi, skewed by ±3°, grayscale JPEG or bitonal: the code at its default size (20 mm); at 200
# dpi also the smallest (15 mm) and a reference of 64 characters at the default size.
CORPUS = [
    (20.0, REF, dpi, rotate, bitonal)
    for dpi, rotate, bitonal in itertools.product([200, 300], [-3.0, 3.0], [False, True])
] + [
    (size, ref, 200, rotate, bitonal)
    for (size, ref), rotate, bitonal in itertools.product(
        [(15.0, REF), (20.0, Reference(CASE, LONG))], [-3.0, 3.0], [False, True]
    )
]


def test_the_printed_code_is_read_back_from_a_scanned_letter(settings: Settings) -> None:
    """The PNG printed at its size on a letter, scanned: found at DETECT_DPI or, where it is too small to
    be seen there, at the scan's full resolution; and the page is content for the stack splitter."""
    missed, unseen = [], 0
    for n, (size, ref, dpi, rotate, bitonal) in enumerate(CORPUS):
        png = reference_code(settings, ref.case_number, ref.reference, fmt="png", size_mm=size)
        page = letter(png, dpi=dpi, seed=n, rotate=rotate, bitonal=bitonal)
        found = find_references(small(page, dpi), lambda page=page: page.convert("L"))
        if found != References(frozenset({ref})):
            missed.append((size, dpi, rotate, bitonal, found))
        unseen += find_references(small(page, dpi)) == References(frozenset())
        assert examine(small(page, dpi), lambda page=page: page.convert("L")) == Found(None, blank=False)
    assert missed == []
    assert unseen > 0  # the corpus holds codes not even seen at DETECT_DPI: the retry finds them


def test_a_letter_with_a_reference_code_never_splits_a_stack_nor_does_a_damaged_one(
    settings: Settings,
) -> None:
    """A cover sheet, a letter with its reference code, a letter with a forged one: one document after the
    cover sheet, in its case; nothing refused. find_references names the forged code, and a code stained
    past reading, as problems."""
    from PIL import ImageDraw

    good = letter(reference_code(settings, CASE, "Anforderung 2026-11-30", fmt="png"), seed=1)
    lines = [REFERENCE, "54321BG7654321", "Anforderung"]
    forged = letter(code_png("\n".join([*lines, "00000000"])), seed=2)
    stained = letter(reference_code(settings, CASE, fmt="png", size_mm=30), seed=3)
    left, top, side = round(150 / 25.4 * 200), round(45 / 25.4 * 200), round(30 / 25.4 * 200)
    ImageDraw.Draw(stained).rectangle(
        [left + side * 0.25, top + side * 0.25, left + side * 0.75, top + side * 0.75], fill=240
    )
    cover = scans.sheet_page(CASE, "Nachweis", dpi=200, seed=4, rotate=1)
    pages = [cover, good, forged]
    found = [examine(small(p, 200), lambda p=p: p.convert("L")) for p in pages]
    assert [f.sheet for f in found] == [Sheet(CASE, "Nachweis"), None, None]
    assert find_sheet(small(forged, 200), lambda: forged.convert("L")) is None
    sheet = Sheet(CASE, "Nachweis")
    assert plan(found) == [Part("cover", 1, 1, sheet), Part("document", 2, 3, sheet)]

    forged_found = find_references(small(forged, 200), lambda: forged.convert("L"))
    assert forged_found.found == frozenset()
    assert forged_found.problems == ("a reference code that does not check out: its checksum does not match"
                                     " its content",)  # fmt: skip
    stained_found = find_references(small(stained, 200), lambda: stained.convert("L"))
    assert stained_found.found == frozenset()
    assert stained_found.problems and set(stained_found.problems) == {"a QR code that could not be read"}


def test_other_codes_on_a_letter_are_not_references(settings: Settings) -> None:
    """A cover sheet's code and someone else's code are left out; a page without a code has none."""
    none = References(frozenset())
    sheet_page = scans.sheet_page(CASE, "Antrag", dpi=200, seed=5, rotate=0)
    assert find_references(small(sheet_page, 200), lambda: sheet_page.convert("L")) == none
    plain = scans.scan_page(scans.german_lines(6, 40), dpi=200, seed=6)
    assert find_references(small(plain, 200), lambda: plain.convert("L")) == none
    foreign = letter(code_png("https://www.jobcenter.example/termin/4711"), seed=7)
    assert find_references(small(foreign, 200), lambda: foreign.convert("L")) == none


def test_what_the_ocr_worker_records_of_a_pages_codes(tmp_path: Path) -> None:
    """pages.codes: a line per code; what does not fit is said as a damaged code would be (it stops the
    sort), never dropped; a page that cannot be looked at says so instead of failing."""
    from ekakte.mailroom.detect import BAD_REFERENCE
    from ekakte.ocr.task import MAX_CODES_TEXT, codes_text, look_for_codes

    assert codes_text([REF, Reference(CASE)], ["a QR code that could not be read"]) == (
        f"{CASE}\tAnforderung 2026-11-30\n{CASE}\t\n!a QR code that could not be read"
    )
    many = [Reference(f"{n:05d}BG{n:07d}", "x" * 60) for n in range(40)]
    text = codes_text(many, [f"{BAD_REFERENCE}: its checksum does not match its content"])
    assert len(text) <= MAX_CODES_TEXT
    assert text.split("\n")[-1] == f"!{BAD_REFERENCE}: more codes on the page than can be recorded"
    broken = tmp_path / "page.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    assert look_for_codes(broken) == "!could not look for codes: UnidentifiedImageError"
