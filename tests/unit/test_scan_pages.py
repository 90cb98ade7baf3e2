"""A scan's pages as the scanner made them: resolution and colour mode from the images' headers."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from pypdf import PdfReader, PdfWriter

from ekakte.media import JPEG, PDF, PNG, TIFF
from ekakte.scanning.pages import BITONAL, COLOUR, GRAYSCALE, PageScan, below, page_scans
from tests.conftest import scans


def scanned(data: bytes, media_type: str) -> list[PageScan]:
    return page_scans(io.BytesIO(data), media_type)


def page(dpi: int, seed: int = 0) -> Image.Image:
    return scans.scan_page(["Sehr geehrte Damen und Herren"], dpi=dpi, seed=seed)


def test_a_scanners_pdf_says_each_pages_resolution_and_mode(tmp_path: Path) -> None:
    jpeg = scans.scan_pdf_bytes([page(200), page(200, 1)], dpi=200)
    assert scanned(jpeg, PDF) == [PageScan(1, 200.0, GRAYSCALE), PageScan(2, 200.0, GRAYSCALE)]
    assert [p.dpi for p in scanned(scans.scan_pdf_bytes([page(300)], dpi=300), PDF)] == [300.0]
    bitonal = tmp_path / "g4.pdf"
    scans.write_bitonal_pdf(bitonal, [page(300)], dpi=300)
    assert scanned(bitonal.read_bytes(), PDF) == [PageScan(1, 300.0, BITONAL)]
    colour = io.BytesIO()
    page(150).convert("RGB").save(colour, "PDF", resolution=150)
    assert scanned(colour.getvalue(), PDF) == [PageScan(1, 150.0, COLOUR)]


def test_a_turned_page_keeps_its_resolution_and_a_small_image_says_nothing() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(scans.scan_pdf_bytes([page(200)], dpi=200))))
    writer.pages[0].rotate(90)
    turned = io.BytesIO()
    writer.write(turned)
    assert [p.dpi for p in scanned(turned.getvalue(), PDF)] == [200.0]
    # The same image on a page twice as wide: a logo on a page a program made, not a scan of the page.
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(scans.scan_pdf_bytes([page(200)], dpi=200))))
    box = writer.pages[0].mediabox
    writer.pages[0].mediabox.upper_right = (float(box.right) * 2, float(box.top))
    wide = io.BytesIO()
    writer.write(wide)
    assert scanned(wide.getvalue(), PDF) == [PageScan(1, None, GRAYSCALE)]
    # A page with no image at all (text a program wrote).
    assert scanned(scans.born_digital_pdf_bytes([["Bescheid"]]), PDF) == [PageScan(1, None, None)]


def test_images_say_the_resolution_they_state_and_nothing_when_they_state_none(tmp_path: Path) -> None:
    assert scanned(scans.image_bytes(["Antrag"], "PNG", dpi=150), PNG) == [PageScan(1, 150.0, GRAYSCALE)]
    assert scanned(scans.image_bytes(["Antrag"], "JPEG", dpi=240), JPEG)[0].dpi == 240.0
    bare = io.BytesIO()
    page(200).save(bare, "JPEG")  # no density written
    assert scanned(bare.getvalue(), JPEG) == [PageScan(1, None, GRAYSCALE)]
    tiff = tmp_path / "g4.tif"
    scans.write_g4_tiff(tiff, [page(300), page(300, 1)], dpi=300)
    assert scanned(tiff.read_bytes(), TIFF) == [PageScan(1, 300.0, BITONAL), PageScan(2, 300.0, BITONAL)]


def test_below_the_minimum_with_half_a_dot_of_leeway() -> None:
    pages = [PageScan(1, 299.6, GRAYSCALE), PageScan(2, 199.9, BITONAL), PageScan(3, None, None)]
    assert below(pages, 300) == [pages[1]]
    assert below(pages, 0) == []
