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
    """Base class. The message is one line an operator or caseworker can act on, in the domain's words
    (never a command-line flag or command: the CLI adds its own hints, the service its problem type).
    `code` names what went wrong for a program (stable; the HTTP service's problem type), `field` the
    input it was about, where there is one."""

    code = "internal"

    def __init__(self, message: str = "", *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.field = field

    @property
    def exit_code(self) -> ExitCode:
        return outcome(type(self))[0]

    @property
    def http_status(self) -> int:
        return outcome(type(self))[1]


class InvalidInput(EkakteError):
    """The caller gave something the archive refuses: a file, a case number, a type, a date."""

    code = "invalid-input"


class UnsupportedFile(InvalidInput):
    """A file that is not an acceptable, intact scan (PDF, TIFF, JPEG, PNG)."""

    code = "unsupported-file"


class NotFound(EkakteError):
    code = "not-found"


class NotPermitted(EkakteError):
    code = "not-permitted"


class NotAuthenticated(EkakteError):
    """A sign-in that failed (wrong name or password, locked out, an unknown or expired session): the same
    words whatever the cause, so that nobody learns which names exist."""

    code = "not-authenticated"


class ConfigError(EkakteError):
    code = "configuration"


class SchemaError(EkakteError):
    """The database has no schema or an outdated one."""

    code = "schema"


class StorageError(EkakteError):
    """The object store failed or could not be reached."""

    code = "storage"


class StoreRefused(StorageError):
    """The object store was reached and answered no (e.g. a retain-until date in the past, an object
    under Object Lock): the outcome of that one object, not an outage."""

    code = "storage-refused"


class DatabaseError(EkakteError):
    """The database failed or could not be reached."""

    code = "database"


class IntegrityError(EkakteError):
    """Stored bytes do not match their recorded SHA-256, or an object is missing."""

    code = "integrity"


class ChecksumMismatch(IntegrityError):
    code = "checksum-mismatch"


class OutputExists(EkakteError):
    code = "output-exists"


class Busy(EkakteError):
    """Another run of a job that must run alone (the retention sweep) holds its lock."""

    code = "busy"


# The one table: what each error means to the CLI (its exit code) and to the HTTP service (its status).
# A class not named here (e.g. one defined elsewhere) takes the row of its nearest ancestor.
OUTCOMES: dict[type[EkakteError], tuple[ExitCode, int]] = {
    EkakteError: (ExitCode.INTERNAL, 500),
    InvalidInput: (ExitCode.INVALID_INPUT, 422),
    UnsupportedFile: (ExitCode.INVALID_INPUT, 415),
    NotFound: (ExitCode.NOT_FOUND, 404),
    # The same answer whether the thing exists or not (the library refuses both alike).
    NotPermitted: (ExitCode.NOT_PERMITTED, 403),
    NotAuthenticated: (ExitCode.NOT_PERMITTED, 401),
    ConfigError: (ExitCode.CONFIG, 500),
    SchemaError: (ExitCode.SCHEMA, 503),
    StorageError: (ExitCode.STORAGE, 503),
    StoreRefused: (ExitCode.STORAGE, 502),
    DatabaseError: (ExitCode.DATABASE, 503),
    IntegrityError: (ExitCode.INTEGRITY, 500),
    OutputExists: (ExitCode.OUTPUT_EXISTS, 409),
    Busy: (ExitCode.BUSY, 409),
}


def outcome(error: type[EkakteError]) -> tuple[ExitCode, int]:
    """(exit code, HTTP status) of an error class, from OUTCOMES."""
    for cls in error.__mro__:
        if cls in OUTCOMES:
            return OUTCOMES[cls]
    return OUTCOMES[EkakteError]


# Errors that are not the file's fault: a batch stops on them and leaves the file where it is,
# instead of moving a perfectly good scan to rejected/.
STOPS_A_BATCH: tuple[type[EkakteError], ...] = (
    StorageError,
    DatabaseError,
    SchemaError,
    ConfigError,
    NotPermitted,
)
