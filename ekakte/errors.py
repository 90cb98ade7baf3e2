"""The exception hierarchy; every class carries the exit code the CLI ends with."""

from __future__ import annotations

import unicodedata
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes. Documented in docs/cli.md; scripts depend on them, so never renumber."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    INVALID_INPUT = 3
    NOT_FOUND = 4
    NOT_PERMITTED = 5
    CONFIG = 6
    SCHEMA = 7
    STORAGE = 8
    DATABASE = 9
    INTEGRITY = 10
    OUTPUT_EXISTS = 11
    PARTIAL = 12
    BUSY = 13


def shown(text: object) -> str:
    """Any untrusted text as one printable line for a terminal or a message; the one escaping function.

    Everything a terminal would act on or that changes how a line reads is written as visible escape
    text: C0 controls (tab and newline too), DEL, C1 controls, format characters (bidi overrides and
    isolates, zero-width characters), line and paragraph separators, lone surrogates, and private-use
    and unassigned code points (a newer terminal may know them as something else). Bytes that are
    not UTF-8 (Linux allows them in file names; Python carries them as surrogate escapes) become
    \\xNN. Letters of every script, umlauts and ß included, stay as they are. A backslash stays a
    backslash, so the result is idempotent (escaping twice changes nothing) but not reversible: for the
    exact value use the command's --json. For display and messages only, never for opening a file.
    """
    raw = text.decode("utf-8", "surrogateescape") if isinstance(text, bytes) else str(text)
    if raw.isprintable():  # the common case, checked in C
        return raw
    return "".join(c if _plain(c) else _escaped(c) for c in raw)


def _plain(char: str) -> bool:
    # str.isprintable() is False for Cc, Cf, Cs, Co, Cn, Zl, Zp and every space but U+0020. The other
    # spaces (no-break space, thin space, …) are ordinary text in titles and names and move nothing.
    return char.isprintable() or unicodedata.category(char) == "Zs"


_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escaped(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the byte that was not UTF-8
        return f"\\x{code - 0xDC00:02x}"
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


class EkakteError(Exception):
    """Base class. The message is one line an operator or caseworker can act on."""

    exit_code: ExitCode = ExitCode.INTERNAL


class InvalidInput(EkakteError):
    """The caller gave something the archive refuses: a file, a case number, a type, a date."""

    exit_code = ExitCode.INVALID_INPUT


class UnsupportedFile(InvalidInput):
    """A file that is not an acceptable, intact scan (PDF, TIFF, JPEG, PNG)."""


class NotFound(EkakteError):
    exit_code = ExitCode.NOT_FOUND


class NotPermitted(EkakteError):
    exit_code = ExitCode.NOT_PERMITTED


class ConfigError(EkakteError):
    exit_code = ExitCode.CONFIG


class SchemaError(EkakteError):
    """The database has no schema or an outdated one; the message names the command that fixes it."""

    exit_code = ExitCode.SCHEMA


class StorageError(EkakteError):
    """The object store failed or could not be reached."""

    exit_code = ExitCode.STORAGE


class StoreRefused(StorageError):
    """The object store was reached and answered no (e.g. a retain-until date in the past, an object
    under Object Lock): the outcome of that one object, not an outage."""


class DatabaseError(EkakteError):
    """The database failed or could not be reached."""

    exit_code = ExitCode.DATABASE


class IntegrityError(EkakteError):
    """Stored bytes do not match their recorded SHA-256, or an object is missing."""

    exit_code = ExitCode.INTEGRITY


class ChecksumMismatch(IntegrityError):
    pass


class OutputExists(EkakteError):
    exit_code = ExitCode.OUTPUT_EXISTS


class Busy(EkakteError):
    """Another run of a job that must run alone (the retention sweep) holds its lock."""

    exit_code = ExitCode.BUSY


# Errors that are not the file's fault: a batch stops on them and leaves the file where it is,
# instead of moving a perfectly good scan to rejected/.
STOPS_A_BATCH: tuple[type[EkakteError], ...] = (
    StorageError,
    DatabaseError,
    SchemaError,
    ConfigError,
    NotPermitted,
)
