"""The exception hierarchy; every class carries the exit code the CLI ends with."""

from __future__ import annotations

import os
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


def shown(name: object) -> str:
    """A file name or path as one printable line: bytes that are not UTF-8 (Linux allows them in names)
    as \\xNN, control and direction-changing characters as \\uNNNN. For messages, never for opening."""
    text = os.fsencode(str(name)).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


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
