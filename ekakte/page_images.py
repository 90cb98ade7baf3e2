"""Page images for a viewer: one page of any stored original (PDF, TIFF, JPEG, PNG) at a given width.

The original is streamed, verified, into a private temporary file and opened there (PDFium for PDFs,
Pillow for images), so only the asked-for page is decoded, never the whole document, and the copy is
gone when the image is made. The image format follows the page: a page on a clean, flat background (a
born-digital letter, a bitonal scan) is a PNG of 16 greys, sharp and small; a greyscale scan with its
paper's grain, and anything in colour, is a JPEG, a third of the PNG's size or less. docs/benchmarks.md
has the sizes that chose this.
"""

from __future__ import annotations

import io
import math
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.documents import DocumentInfo, open_original, write_export
from ekakte.errors import EkakteError, InvalidInput, NotFound, UnsupportedFile
from ekakte.jsonable import AsJson
from ekakte.media import ENCRYPTED_REASON, JPEG, PDF, PNG, TIFF
from ekakte.ocr import pages

MIN_WIDTH, MAX_WIDTH = 64, 4000
# A page far taller than wide (a till receipt) is made narrower rather than exceed this many pixels
# (4000 × 10000: a receipt of 1:2.5, or an A4 page at 4000 px with room to spare).
MAX_PIXELS = 40_000_000
# A page whose most common grey covers this share of its pixels has a flat background: a PNG of it
# is small. Measured: born-digital letter 90 %, bitonal scan 83 %, greyscale scan 19 %.
FLAT_BACKGROUND = 0.5
# Greys kept in a PNG: plenty for anti-aliased text, and a third of the size of 256 (docs/benchmarks.md).
PNG_GREYS = 16
JPEG_QUALITY = 85
# A colour page is one whose chroma (Cb, Cr) leaves grey by more than this for more than COLOUR_SHARE
# of its pixels; a JPEG colour scan of black print has a little chroma noise everywhere.
CHROMA_TOLERANCE = 12
COLOUR_SHARE = 0.005

_GREY_LEVELS = [min(255, round(v * (PNG_GREYS - 1) / 255) * 255 // (PNG_GREYS - 1)) for v in range(256)]


@dataclass(frozen=True)
class PageImage(AsJson):
    json_omit = frozenset({"data"})  # the facts, not the image's bytes

    document_id: uuid.UUID
    page: int
    page_count: int
    media_type: str  # image/png or image/jpeg
    width: int
    height: int
    data: bytes

    def json_extra(self) -> dict[str, Any]:
        return {"size_bytes": len(self.data)}


def render_page(archive: Archive, actor: Actor, document_id: uuid.UUID, page: int, width: int) -> PageImage:
    """Page `page` (1-based) of a document as an image `width` pixels wide (MIN_WIDTH to MAX_WIDTH).

    Reading a page is reading the content: decided and audited as `doc.get` (with the page and width),
    refused with the same NotPermitted whether the document exists or not. NotFound for a page the
    document does not have; UnsupportedFile when its pages cannot be shown (an encrypted PDF, a page the
    renderer cannot read); ChecksumMismatch when the stored original is corrupt. A page far taller than
    wide may come narrower than asked, within MAX_PIXELS; the image says its size.
    """
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise InvalidInput(f"a page image is {MIN_WIDTH} to {MAX_WIDTH} pixels wide, not {width}")
    if page < 1:
        raise InvalidInput(f"pages are counted from 1, not {page}")
    with open_original(archive, actor, document_id, detail=f"page {page}, {width} px") as original:
        try:
            count = _page_count(original.info, page)
            with _private_copy(original) as path:
                image = _page_image(path, original.info.media_type, page, width)
            media_type, data = _encode(image)
        except EkakteError as exc:
            original.record_failure("no page image was made", exc)
            raise
    return PageImage(document_id, page, count, media_type, image.width, image.height, data)


def export_page(
    archive: Archive,
    actor: Actor,
    document_id: uuid.UUID,
    page: int,
    width: int,
    target: Path,
    *,
    force: bool = False,
) -> PageImage:
    """Write a page image (render_page) to `target`, as `export_original` writes an original: mode 0600,
    never over an existing file unless `force`, never into the archive's own folders."""
    image = render_page(archive, actor, document_id, page, width)
    suffix = ".png" if image.media_type == PNG else ".jpg"
    write_export(archive, [image.data], target, force=force, example=f"page-{page}{suffix}")
    return image


def _page_count(info: DocumentInfo, page: int) -> int:
    if info.page_count is None:
        raise UnsupportedFile(f"the pages of document {info.id} cannot be shown: {ENCRYPTED_REASON}")
    if page > info.page_count:
        noun = "page" if info.page_count == 1 else "pages"
        raise NotFound(
            f"document {info.id} has {info.page_count} {noun}, no page {page}", code="no-page", field="page"
        )
    return info.page_count


@contextmanager
def _private_copy(chunks: Iterable[bytes]) -> Iterator[Path]:
    """The original in a folder of this process's own (mode 0700), removed with everything in it after."""
    folder = Path(tempfile.mkdtemp(prefix="ekakte-page-"))  # mkdtemp makes it 0700
    try:
        path = folder / "original"
        with path.open("xb") as out:
            for chunk in chunks:
                out.write(chunk)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _page_image(path: Path, media_type: str, page: int, width: int) -> Any:
    """The page as a Pillow image `width` pixels wide (or narrower, within MAX_PIXELS), mode L or RGB."""
    try:
        with pages.open_original(path, media_type) as original:
            if media_type == PDF:
                return _pdf_page(original, page, width)
            if media_type in (TIFF, JPEG, PNG):
                return _image_page(original, page, width)
    except EkakteError:
        raise
    except Exception as exc:  # a page the renderer cannot read: the document's problem, told in one line
        raise UnsupportedFile(f"page {page} cannot be shown: {type(exc).__name__}: {exc}") from None
    raise UnsupportedFile(f"a {media_type} file has no pages to show")


def _fit(width: int, aspect: float) -> tuple[int, int]:
    """Width and height for a page of `aspect` (height / width) at `width`, within MAX_PIXELS."""
    if width * width * aspect > MAX_PIXELS:
        width = max(1, math.floor(math.sqrt(MAX_PIXELS / aspect)))
    return width, max(1, round(width * aspect))


def _pdf_page(original: pages.Original, number: int, width: int) -> Any:
    with pages.PDFIUM:  # PDFium is not thread-safe: the process's one lock, shared with OCR
        document = original.pdfium()
        if number > len(document):
            raise NotFound(f"the PDF has no page {number}")
        page = document[number - 1]
        try:
            page_width, page_height = page.get_size()  # in points, /Rotate applied
            if page_width <= 0 or page_height <= 0:
                raise UnsupportedFile(f"page {number} has no area to show")
            target, _height = _fit(width, page_height / page_width)
            # pypdfium2 makes the bitmap ceil(points × scale) wide: a hair under target / points keeps a
            # rounding error from adding a column, so the page is drawn at the width, never resampled.
            bitmap = page.render(scale=target / page_width * (1 - 1e-9))
            image = bitmap.to_pil().convert("RGB")  # a copy: the bitmap's memory goes with it
            bitmap.close()
            if image.width != target:  # not expected; the width is the contract
                image = image.resize((target, round(image.height * target / image.width)))
        finally:
            page.close()
    return image


def _image_page(original: pages.Original, number: int, width: int) -> Any:
    from PIL import Image

    with original.lock:
        image = original.image()
        if original.media_type != TIFF and number != 1:
            raise NotFound(f"an image has one page, not page {number}")
        try:
            image.seek(number - 1)  # Pillow finds a TIFF's frames one after the other, not all at once
        except EOFError:
            raise NotFound(f"the TIFF has no page {number}") from None
        # Phone photos and some scanners say in EXIF / the TIFF tag which way is up: shown upright.
        turn = _orientations().get(image.getexif().get(0x0112, 1))
        t = Image.Transpose
        sideways = turn in (t.TRANSPOSE, t.TRANSVERSE, t.ROTATE_90, t.ROTATE_270)
        stored_w, stored_h = image.size
        size = _fit(width, stored_w / stored_h if sideways else stored_h / stored_w)
        if original.media_type == JPEG:  # decoded at 1/2, 1/4 or 1/8 when that is still large enough
            image.draft(image.mode, (size[1], size[0]) if sideways else size)
        frame = image.convert("L" if image.mode in ("1", "L", "LA", "I;16", "I") else "RGB")
    if turn is not None:
        frame = frame.transpose(turn)
    # Box-averaged down by a whole factor first, then Lanczos for the rest: an A4 scan at 300 dpi to
    # 1,200 px in 64 ms instead of 150 ms, and a bitonal page's strokes still averaged into greys.
    return frame.resize(size, Image.Resampling.LANCZOS, reducing_gap=1.0)


def _orientations() -> dict[int, Any]:
    """EXIF orientation (tag 0x0112) → the turn that shows the image upright."""
    from PIL import Image

    t = Image.Transpose
    return {
        2: t.FLIP_LEFT_RIGHT, 3: t.ROTATE_180, 4: t.FLIP_TOP_BOTTOM, 5: t.TRANSPOSE, 6: t.ROTATE_270,
        7: t.TRANSVERSE, 8: t.ROTATE_90,
    }  # fmt: skip


def _encode(image: Any) -> tuple[str, bytes]:
    """PNG of 16 greys for a grey page on a flat background, JPEG for any other."""
    if image.mode == "RGB" and _grey(image):
        image = image.convert("L")
    out = io.BytesIO()
    if image.mode == "L" and _flat_background(image):
        # zlib level 3: 70 ms and 15 % more bytes than the default 6 (157 ms), for an A4 page at 1,200 px.
        image.point(_GREY_LEVELS).save(out, "PNG", compress_level=3)
        return PNG, out.getvalue()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return JPEG, out.getvalue()


def _grey(image: Any) -> bool:
    # Judged at a quarter of the size: a quarter of the time, and colour does not hide in 4×4 pixels.
    small = image.reduce(4) if min(image.size) >= 64 else image
    _, cb, cr = small.convert("YCbCr").split()
    low, high = 128 - CHROMA_TOLERANCE, 128 + CHROMA_TOLERANCE
    coloured = sum(sum(h[:low]) + sum(h[high + 1 :]) for h in (cb.histogram(), cr.histogram()))
    return bool(coloured <= COLOUR_SHARE * small.width * small.height)


def _flat_background(image: Any) -> bool:
    most = max(image.histogram())
    return bool(most >= FLAT_BACKGROUND * image.width * image.height)
