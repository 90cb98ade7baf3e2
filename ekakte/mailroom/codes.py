"""What ekakte's 2D codes say (sheets, letters' reference codes) and how they are checked (pure functions)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# The first line names the kind of code and the layout's version. A code that begins with the prefix
# but does not check out is a damaged or forged one: for a sheet, the stack is refused, never split by
# guesswork. A reference code (Bezugscode) is printed by the benefits software on its own letters: it
# names the letter's case and never splits a stack (detect.py).
PREFIX = "EKAKTE-"
COVER = "EKAKTE-DECKBLATT-1"
SEPARATOR = "EKAKTE-TRENNBLATT-1"
REFERENCE_PREFIX = "EKAKTE-BEZUG-"
REFERENCE = "EKAKTE-BEZUG-1"


MAX_REFERENCE = 64  # a reference code's values (case number, the letter's reference): characters at most


class BadSheetCode(ValueError):
    """The code claims to be ekakte's but its layout or checksum is wrong."""


class BadReferenceCode(BadSheetCode):
    """A code that claims to be a reference code (any version) and does not check out: never a sheet."""


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


# How many lines each kind's code has, its checksum included.
_LINES = {COVER: 5, SEPARATOR: 2, REFERENCE: 4}


def checksum(lines: list[str]) -> str:
    """Eight hex digits of SHA-256 over the lines before it. The code's own error correction already
    stops misreads; this tells ekakte's sheets from other codes and refuses a hand-edited payload."""
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:8].upper()


@dataclass(frozen=True)
class Reference:
    """A reference code's content: the letter's case, and the letter's own reference as the benefits
    software chose it ("Anforderung 2026-11-30"), None if it gave none."""

    case_number: str
    reference: str | None = None


def encode(code: Sheet | Reference) -> str:
    """The text the code carries: the kind, then (for a cover sheet) case number, type and title, or (for
    a reference code) case number and reference, one per line, then the checksum. Values never hold a
    line break (case numbers and types are validated, titles and references are printable)."""
    if isinstance(code, Reference):
        lines = [REFERENCE, code.case_number, code.reference or ""]
    elif code.is_cover:
        lines = [COVER, code.case_number or "", code.document_type or "", code.title or ""]
    else:
        lines = [SEPARATOR]
    if any("\n" in line or "\r" in line for line in lines):
        raise ValueError("a code's values are single lines")
    return "\n".join([*lines, checksum(lines)])


def decode_bytes(raw: bytes) -> Sheet | Reference | None:
    """What a code's bytes describe (ekakte writes its codes as UTF-8 bytes, so that no reader has to
    guess a character set: given ISO-8859-1 without a marker, a reader may take "Ä" for Shift_JIS)."""
    if not raw.startswith(PREFIX.encode("ascii")):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        bad = BadReferenceCode if raw.startswith(REFERENCE_PREFIX.encode("ascii")) else BadSheetCode
        raise bad("its content is not UTF-8") from None
    return decode(text)


def decode(text: str) -> Sheet | Reference | None:
    """What a code's text describes; None for a code that is not ekakte's (a parcel label, a QR code on a
    letter); BadSheetCode for one that claims to be ekakte's and does not check out (BadReferenceCode for
    one that claims to be a reference code)."""
    if not text.startswith(PREFIX):
        return None
    lines = text.split("\n")
    kind, body, check = lines[0], lines[:-1], lines[-1]
    bad = BadReferenceCode if kind.startswith(REFERENCE_PREFIX) else BadSheetCode
    if _LINES.get(kind) != len(lines):
        raise bad(f"unknown layout {kind[:40]!r} with {len(lines)} lines")
    if checksum(body) != check.upper():
        raise bad("its checksum does not match its content")
    if kind == SEPARATOR:
        return Sheet()
    if kind == REFERENCE:
        if not lines[1]:
            raise bad("a reference code without case number")
        # As ekakte writes them: short, printable single lines (a forged code's value could otherwise
        # carry line or paragraph separators into what the OCR worker records, or crowd it out).
        if any(len(v) > MAX_REFERENCE or not v.isprintable() for v in lines[1:3]):
            raise bad(f"a value longer than {MAX_REFERENCE} characters or not printable")
        return Reference(lines[1], lines[2] or None)
    case_number, document_type, title = lines[1], lines[2], lines[3]
    if not case_number or not document_type:
        raise BadSheetCode("a cover sheet without case number or document type")
    return Sheet(case_number, document_type, title or None)
