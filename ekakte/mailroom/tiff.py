"""Multi-page TIFF: the pages' directories, and new files made of some of them without recompression.

A part of a TIFF stack is a new TIFF whose pages are the stack's pages byte for byte: every strip or
tile is copied as it is (CCITT G4, LZW, JPEG, whatever the scanner wrote), and every tag with it, but
the tags that point elsewhere in the stack's file (EXIF and GPS directories, sub-images, free lists),
which the part has no room for, and the page number, which would be the stack's. Classic TIFF only
(BigTIFF stacks are refused; a scanner writes BigTIFF only past 4 GB).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
STRIP_OFFSETS, STRIP_BYTE_COUNTS, TILE_OFFSETS, TILE_BYTE_COUNTS = 273, 279, 324, 325
COMPRESSION = 259
_OLD_JPEG = 6
# Pointers into the stack's file that a part does not carry, and the stack's page numbering.
_DROPPED = {288, 289, 297, 330, 34665, 34853, 40965}
_MAX_ENTRIES = 1000
# The tag values of all pages held while a stack is split (strips and tiles are read when written, not
# held): a scanner writes a few KB per page (a JPEG table, an ICC profile); a file whose directories point
# at more is refused rather than read into memory page after page.
MAX_TAG_BYTES = 64 * 1024 * 1024


class TiffProblem(Exception):
    """The file is not a TIFF these functions can split (said in one line)."""


@dataclass(frozen=True)
class Entry:
    tag: int
    type: int
    count: int
    value: bytes  # the value's bytes as stored (in the file's byte order)


@dataclass(frozen=True)
class Directory:
    """One page: its tags, and where its image data lies in the file (offset, length per strip/tile)."""

    entries: tuple[Entry, ...]
    segments: tuple[tuple[int, int], ...]


class TiffFile:
    """The page directories of a classic TIFF, read from a seekable file."""

    def __init__(self, fh: BinaryIO, *, max_pages: int) -> None:
        self.fh = fh
        fh.seek(0)
        head = fh.read(8)
        if head[:4] == b"II*\x00":
            self.order = "<"
        elif head[:4] == b"MM\x00*":
            self.order = ">"
        elif head[:4] in (b"II+\x00", b"MM\x00+"):
            raise TiffProblem("a BigTIFF stack cannot be split: scan it as classic TIFF or PDF")
        else:
            raise TiffProblem("not a TIFF file")
        fh.seek(0, 2)
        self.size = fh.tell()
        (offset,) = struct.unpack(self.order + "I", head[4:8])
        self.pages: list[Directory] = []
        self.tag_bytes = 0
        seen: set[int] = set()
        while offset:
            if offset in seen:
                raise TiffProblem("its page directories form a loop")
            if len(self.pages) >= max_pages:
                raise TiffProblem(f"more than {max_pages} pages")
            seen.add(offset)
            directory, offset = self._directory(offset)
            self.pages.append(directory)
        if not self.pages:
            raise TiffProblem("a TIFF without pages")

    def _read(self, offset: int, length: int) -> bytes:
        if offset < 0 or offset + length > self.size:
            raise TiffProblem("damaged TIFF: a directory points past the end of the file")
        self.fh.seek(offset)
        return self.fh.read(length)

    def _directory(self, offset: int) -> tuple[Directory, int]:
        (count,) = struct.unpack(self.order + "H", self._read(offset, 2))
        if count > _MAX_ENTRIES:
            raise TiffProblem(f"damaged TIFF: a directory of {count} entries")
        raw = self._read(offset + 2, count * 12 + 4)
        entries: list[Entry] = []
        for i in range(count):
            tag, typ, n = struct.unpack(self.order + "HHI", raw[i * 12 : i * 12 + 8])
            if typ not in _TYPE_SIZES:
                continue  # a type no reader knows: its value cannot be copied faithfully, nor is it read
            length = _TYPE_SIZES[typ] * n
            field = raw[i * 12 + 8 : i * 12 + 12]
            if length <= 4:
                value = field[:length]
            else:
                self.tag_bytes += length
                if self.tag_bytes > MAX_TAG_BYTES:
                    raise TiffProblem(
                        f"its directories hold more than {MAX_TAG_BYTES // 2**20} MB of tag values"
                    )
                (where,) = struct.unpack(self.order + "I", field)
                value = self._read(where, length)
            entries.append(Entry(tag, typ, n, value))
        (next_offset,) = struct.unpack(self.order + "I", raw[count * 12 : count * 12 + 4])
        by_tag = {e.tag: e for e in entries}
        if COMPRESSION in by_tag and self._ints(by_tag[COMPRESSION]) == [_OLD_JPEG]:
            raise TiffProblem(
                "old-style JPEG in TIFF (compression 6) cannot be split; scan as PDF or new JPEG"
            )
        if STRIP_OFFSETS in by_tag:
            offsets, lengths = by_tag[STRIP_OFFSETS], by_tag.get(STRIP_BYTE_COUNTS)
        else:
            offsets, lengths = by_tag.get(TILE_OFFSETS), by_tag.get(TILE_BYTE_COUNTS)  # type: ignore[assignment]
        if offsets is None or lengths is None or offsets.count != lengths.count:
            raise TiffProblem("damaged TIFF: a page without matching strip or tile offsets and lengths")
        segments = tuple(zip(self._ints(offsets), self._ints(lengths), strict=True))
        for start, length in segments:
            if start + length > self.size:
                raise TiffProblem("damaged TIFF: image data past the end of the file")
        return Directory(tuple(entries), segments), next_offset

    def _ints(self, entry: Entry) -> list[int]:
        size = _TYPE_SIZES[entry.type]
        if entry.type not in (3, 4, 13) or size * entry.count != len(entry.value):
            raise TiffProblem(f"damaged TIFF: tag {entry.tag} is not a list of integers")
        code = "H" if entry.type == 3 else "I"
        return list(struct.unpack(f"{self.order}{entry.count}{code}", entry.value))

    def segment(self, start: int, length: int) -> bytes:
        return self._read(start, length)

    def write_part(self, out: BinaryIO, first: int, last: int) -> None:
        """Write pages first..last (0-based, inclusive) as a new TIFF (write_pages)."""
        self.write_pages(out, range(first, last + 1))

    def write_pages(self, out: BinaryIO, indices: Iterable[int]) -> None:
        """Write the pages at `indices` (0-based, in that order) as a new TIFF in the same byte order: each
        page's image data, then its out-of-line values, then its directory; the directories chained in
        order."""
        order = self.order
        position = 0

        def put(data: bytes) -> int:
            nonlocal position
            start = position
            out.write(data)
            position += len(data)
            if position % 2:  # values and directories start on a word boundary
                out.write(b"\x00")
                position += 1
            return start

        put((b"II*\x00" if order == "<" else b"MM\x00*") + b"\x00\x00\x00\x00")
        link_at = 4  # where the pointer to the next directory is to be written
        links: list[tuple[int, int]] = []
        for page in (self.pages[i] for i in indices):
            data_offsets = [put(self.segment(start, length)) for start, length in page.segments]
            entries = []
            for entry in page.entries:
                if entry.tag in _DROPPED:
                    continue
                value = entry.value
                if entry.tag in (STRIP_OFFSETS, TILE_OFFSETS):
                    value = struct.pack(f"{order}{len(data_offsets)}I", *data_offsets)
                    entry = Entry(entry.tag, 4, len(data_offsets), value)
                entries.append(entry)
            fields: list[bytes] = []
            for entry in sorted(entries, key=lambda e: e.tag):
                if len(entry.value) <= 4:
                    field = entry.value.ljust(4, b"\x00")
                else:
                    field = struct.pack(order + "I", put(entry.value))
                fields.append(struct.pack(order + "HHI", entry.tag, entry.type, entry.count) + field)
            directory = struct.pack(order + "H", len(fields)) + b"".join(fields) + b"\x00\x00\x00\x00"
            start = put(directory)
            links.append((link_at, start))
            link_at = start + 2 + 12 * len(fields)
        # The chain: written last, by seeking back (the parts are files, not pipes).
        end = position
        for at, target in links:
            out.seek(at)
            out.write(struct.pack(order + "I", target))
        out.seek(end)
