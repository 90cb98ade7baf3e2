"""The synthetic scans are ground truth for OCR and search figures: they must be reproducible and honest."""

from __future__ import annotations

import io
import json
import random
import re
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from ekakte.config import DEFAULT_DOCUMENT_TYPES
from ekakte.hotfolder import batch_files
from tests.conftest import scans

DPI = 100  # small pages keep these tests fast; the layout scales with the resolution


def textbook_levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def test_german_lines_are_the_same_for_the_same_seed() -> None:
    assert scans.german_lines(3, 30) == scans.german_lines(3, 30)
    assert scans.german_lines(3, 30) != scans.german_lines(4, 30)


def test_german_lines_read_like_job_centre_letters() -> None:
    lines = [line for seed in range(20) for line in scans.german_lines(seed, 30)]
    text = "\n".join(lines)
    assert all(len(line) <= 80 for line in lines)
    assert sum(len(line) for line in lines) / len(lines) > 60
    for expected in ("ä", "ö", "ü", "ß", "Euro", "Jobcenter", "Bescheid", "Mietvertrag"):
        assert expected in text
    assert re.search(r"\b\d\d\.\d\d\.20\d\d\b", text)  # 03.11.2026
    assert re.search(r"\b\d\.\d\d\d,\d\d (Euro|EUR)\b", text)  # 1.234,56 Euro


def test_letter_kinds_are_document_types_the_archive_knows() -> None:
    assert {scans.letter_kind(seed) for seed in range(10)} <= set(DEFAULT_DOCUMENT_TYPES)


def test_a_scanned_page_is_the_same_for_the_same_seed() -> None:
    lines = scans.german_lines(1, 20)
    page = scans.scan_page(lines, dpi=DPI, seed=1)
    assert page.mode == "L"
    assert page.size == (827, 1169)  # A4 at 100 dpi
    assert page.tobytes() == scans.scan_page(lines, dpi=DPI, seed=1).tobytes()
    assert page.tobytes() != scans.scan_page(lines, dpi=DPI, seed=2).tobytes()


def test_pages_put_in_the_wrong_way_are_turned() -> None:
    lines = scans.german_lines(1, 10)
    upright = scans.scan_page(lines, dpi=DPI, seed=1, quality=None)
    upside_down = scans.scan_page(lines, dpi=DPI, seed=1, quality=None, upside_down=True)
    assert upside_down.tobytes() == upright.transpose(Image.Transpose.ROTATE_180).tobytes()
    sideways = scans.scan_page(lines, dpi=DPI, seed=1, quality=None, sideways=True)
    assert sideways.size == (upright.height, upright.width)


def test_more_lines_than_fit_on_a_page_are_refused() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        scans.scan_page(scans.german_lines(1, scans.max_lines(DPI) + 1), dpi=DPI)


def test_character_error_rate_of_identical_text_is_zero() -> None:
    text = "\n".join(scans.german_lines(5, 10))
    assert scans.character_error_rate(text, text) == 0.0
    # Where lines break and how many spaces there are is layout, not an OCR error.
    assert scans.character_error_rate(text, "  " + text.replace("\n", " \n\f  ") + "\n") == 0.0


@pytest.mark.parametrize(
    ("ocr", "edits"),
    [
        ("Bürgergeld 1.234,56 Euro", 0),
        ("Burgergeld 1.234,56 Euro", 1),  # substitution
        ("Bürgergeld 1.23456 Euro", 1),  # deletion
        ("Bürgergeld 1.234,56 Euro.", 1),  # insertion
        ("Bürgergeld 1,234.56 Eur0", 3),
        ("", 24),
    ],
)
def test_character_error_rate_counts_edits_against_the_truth(ocr: str, edits: int) -> None:
    truth = "Bürgergeld 1.234,56 Euro"
    assert scans.character_error_rate(truth, ocr) == pytest.approx(edits / len(truth))


def test_bit_parallel_distance_agrees_with_the_textbook_one() -> None:
    rng = random.Random(0)
    for _ in range(200):
        a = "".join(rng.choice("aäbß ") for _ in range(rng.randint(0, 150)))
        b = "".join(rng.choice("aäbß ") for _ in range(rng.randint(0, 150)))
        assert scans.levenshtein(a, b) == textbook_levenshtein(a, b), (a, b)


def test_character_error_rate_of_a_full_page_is_quick() -> None:
    import time

    truth = "\n".join(scans.german_lines(1, 45))
    ocr = truth.replace("ü", "u").replace("0", "O")[100:] + "Seite 1"
    start = time.perf_counter()
    scans.character_error_rate(truth, ocr)
    assert time.perf_counter() - start < 1.0


def test_scanned_pdf_has_one_jpeg_image_per_page_and_no_text() -> None:
    pages = [scans.scan_page(scans.german_lines(i, 10), dpi=DPI, seed=i) for i in range(3)]
    reader = PdfReader(io.BytesIO(scans.scan_pdf_bytes(pages, dpi=DPI)))
    assert len(reader.pages) == 3
    for page in reader.pages:
        xobjects = page["/Resources"]["/XObject"]
        assert len(xobjects) == 1
        image = next(iter(xobjects.values())).get_object()
        assert image["/Filter"] == "/DCTDecode"
        assert len(page.images) == 1
        assert page.extract_text().strip() == ""


def test_scanned_pdf_bytes_are_reproducible() -> None:
    """Byte for byte, whenever they are made: the same scan imported twice is the same document. Pillow
    stamps a PDF with the time of day unless told a date, so the check is the date, not two calls within
    the same second."""

    def pdf() -> bytes:
        return scans.scan_pdf_bytes([scans.scan_page(scans.german_lines(0, 5), dpi=DPI)], dpi=DPI)

    assert pdf() == pdf()
    for data in (pdf(), scans.pdf_bytes([["Seite 1"]], dpi=40, seed=1)):
        assert b"/CreationDate (D:20260101000000Z)" in data and b"/ModDate (D:20260101000000Z)" in data


def test_born_digital_pdf_has_extractable_text_and_no_images() -> None:
    pages = [scans.german_lines(1, 40), ["Straße, Größe, Übung: § (Klammer) \\ 1.234,56 Euro"]]
    reader = PdfReader(io.BytesIO(scans.born_digital_pdf_bytes(pages)))
    assert len(reader.pages) == 2
    for page, lines in zip(reader.pages, pages, strict=True):
        assert len(page.images) == 0
        assert scans.normalise_whitespace(page.extract_text()) == scans.normalise_whitespace(" ".join(lines))


def test_synthetic_batch_is_ready_for_a_batch_import(tmp_path: Path) -> None:
    written = scans.write_synthetic_batch(tmp_path, "12345BG0001234", 2, 3, dpi=DPI, seed=10)
    assert batch_files(tmp_path) == written  # the truth files are not taken for documents
    for path in written:
        reader = PdfReader(path)
        assert [len(page.images) for page in reader.pages] == [1, 1, 1]
        truth = scans.read_truth(tmp_path / "truth" / f"{path.stem}.truth.txt")
        assert len(truth) == 3
        assert truth[1] == "\n".join(scans.page_lines(int(path.stem.split("-")[1]), 1, 38))
        sidecar = json.loads((tmp_path / f"{path.stem}.json").read_text(encoding="utf-8"))
        assert sidecar["case"] == "12345BG0001234"
        assert sidecar["type"] in DEFAULT_DOCUMENT_TYPES
