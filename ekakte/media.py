"""What a scan is, judged from its bytes (never its name), and how many pages it has."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ekakte.config import DEFAULT_MAX_PAGES
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


def inspect_file(path: Path, *, max_pages: int = DEFAULT_MAX_PAGES) -> MediaInfo:
    with path.open("rb") as fh:
        return inspect_stream(fh, max_pages=max_pages)


def inspect_stream(fh: BinaryIO, *, max_pages: int = DEFAULT_MAX_PAGES) -> MediaInfo:
    """Media type and page count of a seekable stream, or UnsupportedFile with the reason in one line.

    Takes the stream the importer will hash and store, so that what is checked is what is stored.
    A document of more than `max_pages` pages is refused: each page is a row in the OCR queue.
    """
    fh.seek(0)
    head = fh.read(1024)
    if not head:
        raise UnsupportedFile("empty file (0 bytes)")
    media_type = detect_media_type(head)
    if media_type is None:
        raise UnsupportedFile("not a PDF, TIFF, JPEG or PNG file (judged by its content, not its name)")
    if media_type == PDF:
        return _inspect_pdf(fh, max_pages)
    return MediaInfo(media_type, _count_image_pages(fh, media_type, max_pages))


def _too_many_pages(pages: int | None, max_pages: int) -> UnsupportedFile:
    """`pages` None: the count stopped past the limit."""
    counted = f"{pages}" if pages is not None else f"more than {max_pages}"
    return UnsupportedFile(f"too many pages: {counted}, at most {max_pages} per document (max_pages)")


def _inspect_pdf(fh: BinaryIO, max_pages: int) -> MediaInfo:
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
        _check_page_tree(reader, max_pages)
        pages = len(reader.pages)
    except UnsupportedFile:
        raise
    except RecursionError:
        raise UnsupportedFile("damaged PDF: its objects are nested too deeply to read") from None
    except Exception as exc:  # pypdf raises many types for broken files; all mean "cannot be read"
        raise UnsupportedFile(f"damaged PDF: {_one_line(exc)}") from None
    if pages < 1:
        raise UnsupportedFile("PDF without pages")
    if pages > max_pages:  # _check_page_tree counts as pypdf does; this is what the worker will see
        raise _too_many_pages(pages, max_pages)
    return MediaInfo(PDF, pages, encrypted=reader.is_encrypted)


def _check_page_tree(reader: Any, max_pages: int) -> None:
    """UnsupportedFile if the page tree has a loop, lists a page (or a branch of pages) more than once,
    or has more than `max_pages` pages.

    A PDF lists each page exactly once (each has one /Parent), but a reader follows whatever /Kids say:
    a few KB listing one branch thousands of times is read as tens of thousands of pages, each a row
    in the OCR queue. So the tree is walked here first, each indirect object at most once, which keeps
    the walk as long as the file, and the walk stops once the pages exceed the limit. Nodes are told
    apart as pypdf tells them (/Type, else a node without /Kids is a page), so the counts agree.
    """
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    seen: dict[tuple[int, int], int] = {}  # indirect object -> how often the tree refers to it
    branches: set[tuple[int, int]] = set()  # those of them that are /Pages nodes or /Kids arrays
    path: set[tuple[int, int]] = set()  # the nodes (and their /Kids arrays) above the current one
    pages = 0

    def first_visit(obj: Any, branch: bool) -> bool:
        """False for an object met before; counts the meeting. UnsupportedFile for a loop."""
        if not isinstance(obj, IndirectObject):
            return True  # a direct object is written out where it is used: it cannot recur
        ref = (obj.idnum, obj.generation)
        if ref in path:
            raise UnsupportedFile("damaged PDF: the page tree has a loop")
        seen[ref] = seen.get(ref, 0) + 1
        if branch:
            branches.add(ref)
        return seen[ref] == 1

    def ref_of(obj: Any) -> list[tuple[int, int]]:
        return [(obj.idnum, obj.generation)] if isinstance(obj, IndirectObject) else []

    end: Any = object()
    # An explicit stack, not recursion: a hostile tree may be deeper than Python's recursion limit.
    stack: list[tuple[list[tuple[int, int]], Any]] = [([], iter([reader.root_object.get("/Pages")]))]
    while stack and pages <= max_pages:
        entered, kids = stack[-1]
        kid: Any = next(kids, end)
        if kid is end:
            stack.pop()
            path.difference_update(entered)
            continue
        node = kid.get_object() if kid is not None else None
        if not isinstance(node, DictionaryObject) or not node:
            continue  # pypdf skips these too
        kind = node.get("/Type", "/Page" if "/Kids" not in node else "/Pages")
        if not first_visit(kid, branch=kind == "/Pages"):
            continue  # counted; its pages were walked the first time
        if kind == "/Page":
            pages += 1
        elif kind == "/Pages":
            array = node.get("/Kids")
            # Two nodes sharing one /Kids array list the same pages twice.
            if not first_visit(array, branch=True):
                continue
            entered = ref_of(kid) + ref_of(array)
            path.update(entered)
            array = array.get_object() if array is not None else None
            stack.append((entered, iter(array if isinstance(array, ArrayObject) else [])))
    if seen and max(seen.values()) > 1:
        ref, times = max(seen.items(), key=lambda item: item[1])
        what = "branch of pages" if ref in branches else "page"
        raise UnsupportedFile(
            f"damaged PDF: the page tree refers to the same {what} {times} times (a PDF lists each once)"
        )
    if pages > max_pages:
        raise _too_many_pages(None, max_pages)


def _count_image_pages(fh: BinaryIO, media_type: str, max_pages: int) -> int:
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
                if frames > max_pages:
                    raise _too_many_pages(frames, max_pages)
                for index in range(frames):
                    img.seek(index)
                    img.load()
    except UnsupportedFile:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnsupportedFile(f"image too large to be a scan: {_one_line(exc)}") from None
    except Exception as exc:  # Pillow's decoders raise OSError, SyntaxError, ValueError, …
        raise UnsupportedFile(f"damaged {media_type.split('/')[1].upper()} image: {_one_line(exc)}") from None
    return frames


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
