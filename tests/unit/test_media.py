from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter

from ekakte.errors import UnsupportedFile
from ekakte.media import JPEG, PDF, PNG, TIFF, inspect_file
from tests.conftest import scans


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_media_type_is_judged_by_content_not_by_name(tmp_path: Path) -> None:
    png_named_pdf = write(tmp_path, "looks.pdf", scans.image_bytes(["x"], "PNG", dpi=30))
    assert inspect_file(png_named_pdf).media_type == PNG
    with pytest.raises(UnsupportedFile, match="not a PDF, TIFF, JPEG or PNG"):
        inspect_file(write(tmp_path, "text.pdf", b"just text, not a PDF\n"))


def test_page_counts_of_all_accepted_formats(tmp_path: Path) -> None:
    pages = [["eins"], ["zwei"], ["drei"]]
    assert inspect_file(write(tmp_path, "a.pdf", scans.pdf_bytes(pages, dpi=30))) == inspect_file(
        write(tmp_path, "b.pdf", scans.pdf_bytes(pages, dpi=30, seed=5))
    )
    assert inspect_file(tmp_path / "a.pdf").media_type == PDF
    assert inspect_file(tmp_path / "a.pdf").page_count == 3
    tif = inspect_file(write(tmp_path, "a.tif", scans.tiff_bytes(pages, dpi=30)))
    assert (tif.media_type, tif.page_count) == (TIFF, 3)
    jpg = inspect_file(write(tmp_path, "a.jpg", scans.image_bytes(["x"], "JPEG", dpi=30)))
    assert (jpg.media_type, jpg.page_count) == (JPEG, 1)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFile, match="empty file"):
        inspect_file(write(tmp_path, "empty.pdf", b""))


def test_truncated_pdf_is_refused(tmp_path: Path) -> None:
    data = scans.pdf_bytes([["x"]], dpi=30)
    with pytest.raises(UnsupportedFile, match="truncated PDF"):
        inspect_file(write(tmp_path, "cut.pdf", data[: len(data) // 2]))


def test_pdf_with_garbage_body_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFile, match="damaged PDF"):
        inspect_file(write(tmp_path, "bad.pdf", b"%PDF-1.7\n garbage garbage\n%%EOF\n"))


def test_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    data = scans.image_bytes(["Kontoauszug"], "JPEG", dpi=60)
    with pytest.raises(UnsupportedFile, match="damaged JPEG"):
        inspect_file(write(tmp_path, "cut.jpg", data[: len(data) // 2]))


def test_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(UnsupportedFile, match="image too large"):
        inspect_file(write(tmp_path, "bomb.png", scans.image_bytes(["x"], "PNG", dpi=30)))


def test_encrypted_pdf_is_accepted_without_a_page_count(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.append(io.BytesIO(scans.pdf_bytes([["geheim"], ["zwei"]], dpi=30)))
    writer.encrypt(user_password="secret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    info = inspect_file(write(tmp_path, "locked.pdf", out.getvalue()))
    assert (info.media_type, info.page_count, info.encrypted) == (PDF, None, True)
