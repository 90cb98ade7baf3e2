"""What a cover sheet's or separator sheet's 2D code says, and how it is checked (pure functions)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# The first line names the kind of sheet and the layout's version. A code that begins with the prefix
# but does not check out is a damaged or forged sheet: the stack is refused, never split by guesswork.
PREFIX = "EKAKTE-"
COVER = "EKAKTE-DECKBLATT-1"
SEPARATOR = "EKAKTE-TRENNBLATT-1"


class BadSheetCode(ValueError):
    """The code claims to be ekakte's but its layout or checksum is wrong."""


@dataclass(frozen=True)
class Sheet:
    """A sheet's content: a cover sheet (case number, type, optional title) or a plain separator
    (`case_number` None)."""

    case_number: str | None = None
    document_type: str | None = None
    title: str | None = None

    @property
    def is_cover(self) -> bool:
        return self.case_number is not None

    @property
    def kind(self) -> str:
        return "cover" if self.is_cover else "separator"


def checksum(lines: list[str]) -> str:
    """Eight hex digits of SHA-256 over the lines before it. The code's own error correction already
    stops misreads; this tells ekakte's sheets from other codes and refuses a hand-edited payload."""
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:8].upper()


def encode(sheet: Sheet) -> str:
    """The text the code carries: the kind, then (for a cover sheet) case number, type and title, one
    per line, then the checksum. Values never hold a line break (case numbers and types are validated,
    titles are printable)."""
    if sheet.is_cover:
        lines = [COVER, sheet.case_number or "", sheet.document_type or "", sheet.title or ""]
    else:
        lines = [SEPARATOR]
    if any("\n" in line or "\r" in line for line in lines):
        raise ValueError("a sheet's values are single lines")
    return "\n".join([*lines, checksum(lines)])


def decode_bytes(raw: bytes) -> Sheet | None:
    """The sheet a code's bytes describe (ekakte writes its codes as UTF-8 bytes, so that no reader has to
    guess a character set: given ISO-8859-1 without a marker, a reader may take "Ä" for Shift_JIS)."""
    if not raw.startswith(PREFIX.encode("ascii")):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadSheetCode("its content is not UTF-8") from None
    return decode(text)


def decode(text: str) -> Sheet | None:
    """The sheet a code's text describes; None for a code that is not ekakte's (a parcel label, a QR code
    on a letter); BadSheetCode for one that claims to be ekakte's and does not check out."""
    if not text.startswith(PREFIX):
        return None
    lines = text.split("\n")
    kind, body, check = lines[0], lines[:-1], lines[-1]
    if (kind == COVER and len(lines) == 5) or (kind == SEPARATOR and len(lines) == 2):
        pass
    else:
        raise BadSheetCode(f"unknown layout {kind[:40]!r} with {len(lines)} lines")
    if checksum(body) != check.upper():
        raise BadSheetCode("its checksum does not match its content")
    if kind == SEPARATOR:
        return Sheet()
    case_number, document_type, title = lines[1], lines[2], lines[3]
    if not case_number or not document_type:
        raise BadSheetCode("a cover sheet without case number or document type")
    return Sheet(case_number, document_type, title or None)
