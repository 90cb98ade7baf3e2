"""A scan's pages as the scanner made them: resolution and colour mode, read from the images' headers and
dictionaries, never by decoding a page (pure; cheap enough for every import).

- PDF: the largest image on the page (a scanner writes one per page, drawn over the whole page). Its
  resolution is its pixels over the page's size; taken only when the image has the page's shape (within
  2 %), since a smaller image (a letterhead's logo on a page made by a program) says nothing about a scan.
  (A page's /Rotate turns both alike; an image drawn turned on the page is not judged.)
  Bitonal: a 1-bit image, an image mask, CCITT G4 or JBIG2; grayscale: one 8-bit channel; colour: more.
- TIFF, JPEG, PNG: the resolution the file states (TIFF's X/YResolution, JPEG's JFIF density, PNG's pHYs),
  none when it states none (a JPEG with an aspect ratio only); the mode from the image's.
A page whose resolution cannot be told has `dpi` None: it is not judged.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any, BinaryIO

from ekakte.config import Settings
from ekakte.errors import InvalidInput
from ekakte.media import JPEG, PDF, PNG, TIFF

BITONAL, GRAYSCALE, COLOUR = "bitonal", "grayscale", "colour"
_SHAPE_TOLERANCE = 0.02


@dataclass(frozen=True)
class PageScan:
    number: int
    dpi: float | None  # the lower of the horizontal and vertical resolution; None: not known
    mode: str | None  # BITONAL, GRAYSCALE, COLOUR; None: not known (no image on the page)


def page_scans(fh: BinaryIO, media_type: str) -> list[PageScan]:
    """Each page's resolution and colour mode; a page that cannot be read for them is not known (None,
    None), never an error: the import's own checks (ekakte.media) judge whether the file can be read."""
    fh.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if media_type == PDF:
                return _pdf(fh)
            if media_type in (TIFF, JPEG, PNG):
                return _image(fh)
    except Exception:  # an encrypted PDF, a damaged file: nothing is known of its pages
        return []
    finally:
        fh.seek(0)
    return []


def _pdf(fh: BinaryIO) -> list[PageScan]:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(fh, strict=False)
    found = []
    for number, page in enumerate(reader.pages, 1):
        try:
            found.append(_pdf_page(number, page))
        except Exception:  # a page pypdf cannot read for this is not known, as one without an image
            found.append(PageScan(number, None, None))
    return found


def _pdf_page(number: int, page: Any) -> PageScan:
    box = page.mediabox
    width_pt, height_pt = abs(float(box.width)), abs(float(box.height))
    resources = page.get("/Resources")
    xobjects = resources.get_object().get("/XObject") if resources is not None else None
    images = []
    for ref in xobjects.get_object().values() if xobjects is not None else []:
        obj = ref.get_object()
        if obj.get("/Subtype") == "/Image":
            images.append(obj)
    if not images or width_pt <= 0 or height_pt <= 0:
        return PageScan(number, None, None)
    image = max(images, key=lambda i: int(i.get("/Width", 0)) * int(i.get("/Height", 0)))
    width_px, height_px = int(image["/Width"]), int(image["/Height"])
    mode = _pdf_mode(image)
    if abs((width_px / height_px) / (width_pt / height_pt) - 1) > _SHAPE_TOLERANCE:
        return PageScan(number, None, mode)
    dpi = min(width_px / (width_pt / 72), height_px / (height_pt / 72))
    return PageScan(number, round(dpi, 1), mode)


def _pdf_mode(image: Any) -> str | None:
    filters = image.get("/Filter")
    names = [str(f) for f in filters] if isinstance(filters, list) else [str(filters)]
    if image.get("/ImageMask") or "/CCITTFaxDecode" in names or "/JBIG2Decode" in names:
        return BITONAL
    if int(image.get("/BitsPerComponent", 8)) == 1:
        return BITONAL
    space = image.get("/ColorSpace")
    space = space.get_object() if hasattr(space, "get_object") else space
    if isinstance(space, list) and space and str(space[0]) == "/ICCBased":
        channels = int(space[1].get_object().get("/N", 3))
        return GRAYSCALE if channels == 1 else COLOUR
    if str(space) in ("/DeviceGray", "/CalGray"):
        return GRAYSCALE
    if space is None and "/DCTDecode" in names:
        return None  # a JPEG's channels are in its own header; not read here
    return COLOUR if space is not None else None


def _image(fh: BinaryIO) -> list[PageScan]:
    from PIL import Image, ImageSequence

    found = []
    with Image.open(fh) as img:
        for number, frame in enumerate(ImageSequence.Iterator(img), 1):
            dpi = frame.info.get("dpi")
            lowest = round(float(min(dpi)), 1) if dpi and min(dpi) > 1 else None
            found.append(PageScan(number, lowest, _pil_mode(frame.mode)))
    return found


def _pil_mode(mode: str) -> str:
    if mode == "1":
        return BITONAL
    if mode in ("L", "LA", "I;16", "I", "F"):
        return GRAYSCALE
    return COLOUR


def below(pages: list[PageScan], min_dpi: int) -> list[PageScan]:
    """The pages scanned at less than `min_dpi` (with half a dot of leeway for the rounding of the
    page's size in points); those whose resolution is not known are not among them."""
    return [p for p in pages if p.dpi is not None and p.dpi + 0.5 < min_dpi]


def check_resolution(settings: Settings, pages: list[PageScan]) -> None:
    """With `min_dpi` set: InvalidInput naming the first pages scanned below it (nothing is stored, a
    batch moves the file aside with the reason). Pages whose resolution is not known pass."""
    if not settings.min_dpi:
        return
    low = below(pages, settings.min_dpi)
    if low:
        raise InvalidInput(
            f"scanned below the minimum resolution of {settings.min_dpi} dpi ({_named(low)}):"
            " scan it again at that resolution or more",
            code="low-resolution",
        )


def _named(pages: list[PageScan]) -> str:
    named = ", ".join(f"page {p.number} at {p.dpi:.0f} dpi" for p in pages[:3])
    return named + (f" and {len(pages) - 3} more" if len(pages) > 3 else "")


def anomalies(settings: Settings, pages: list[PageScan]) -> list[str]:
    """What the scan protocol and the transfer note warn of in how the pages were scanned: pages below
    `scan_warn_dpi` (those below `min_dpi` never get this far)."""
    found = []
    if settings.scan_warn_dpi:
        low = below(pages, settings.scan_warn_dpi)
        if low:
            found.append(f"scanned below {settings.scan_warn_dpi} dpi: {_named(low)}")
    return found
