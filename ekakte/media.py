"""What a scan is, judged from its bytes (never its name), and how many pages it has."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ekakte.errors import UnsupportedFile

PDF = "application/pdf"
TIFF = "image/tiff"
JPEG = "image/jpeg"
PNG = "image/png"
ACCEPTED = (PDF, TIFF, JPEG, PNG)

# Why the pages of an encrypted PDF have no text (the same words at import and in the OCR worker).
ENCRYPTED_REASON = "encrypted PDF: its pages cannot be read without the password"

_PIL_FORMATS = {TIFF: "TIFF", JPEG: "JPEG", PNG: "PNG"}


@dataclass(frozen=True)
class MediaInfo:
    media_type: str
    page_count: int | None  # None: an encrypted PDF whose pages cannot be read without its password
    encrypted: bool = False


def detect_media_type(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    # The PDF header may legally be preceded by junk; readers look in the first 1024 bytes.
    if b"%PDF-" in head[:1024]:
        return PDF
    return None


def inspect_file(path: Path) -> MediaInfo:
    with path.open("rb") as fh:
        return inspect_stream(fh)


def inspect_stream(fh: BinaryIO) -> MediaInfo:
    """Media type and page count of a seekable stream, or UnsupportedFile with the reason in one line.

    Takes the stream the importer will hash and store, so that what is checked is what is stored.
    """
    fh.seek(0)
    head = fh.read(1024)
    if not head:
        raise UnsupportedFile("empty file (0 bytes)")
    media_type = detect_media_type(head)
    if media_type is None:
        raise UnsupportedFile("not a PDF, TIFF, JPEG or PNG file (judged by its content, not its name)")
    if media_type == PDF:
        return _inspect_pdf(fh)
    return MediaInfo(media_type, _count_image_pages(fh, media_type))


def _inspect_pdf(fh: BinaryIO) -> MediaInfo:
    fh.seek(0, 2)
    fh.seek(max(0, fh.tell() - 2048))
    tail = fh.read()
    fh.seek(0)
    if b"%%EOF" not in tail:
        raise UnsupportedFile("truncated PDF: no %%EOF marker at its end (was the scan completely written?)")

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(fh, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return MediaInfo(PDF, None, encrypted=True)
        pages = len(reader.pages)
    except RecursionError:
        raise UnsupportedFile("damaged PDF: its objects are nested too deeply to read") from None
    except Exception as exc:  # pypdf raises many types for broken files; all mean "cannot be read"
        raise UnsupportedFile(f"damaged PDF: {_one_line(exc)}") from None
    if pages < 1:
        raise UnsupportedFile("PDF without pages")
    return MediaInfo(PDF, pages, encrypted=reader.is_encrypted)


def _count_image_pages(fh: BinaryIO, media_type: str) -> int:
    from PIL import Image

    # Decode every frame, one at a time: a truncated or corrupt image must be refused at the scanning
    # station, where it can still be scanned again, not discovered by a caseworker years later.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's notes on odd files are not for the operator's screen
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            fh.seek(0)
            with Image.open(fh, formats=[_PIL_FORMATS[media_type]]) as img:
                frames = getattr(img, "n_frames", 1) if media_type == TIFF else 1
                for index in range(frames):
                    img.seek(index)
                    img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnsupportedFile(f"image too large to be a scan: {_one_line(exc)}") from None
    except Exception as exc:  # Pillow's decoders raise OSError, SyntaxError, ValueError, …
        raise UnsupportedFile(f"damaged {media_type.split('/')[1].upper()} image: {_one_line(exc)}") from None
    return frames


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
