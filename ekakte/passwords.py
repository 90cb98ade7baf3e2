"""Local passwords: argon2id (RFC 9106's second recommended profile: 3 passes over 64 MiB, 4 lanes), as
PHC strings that carry their own parameters, so that stronger ones can come later (`needs_rehash`)."""

from __future__ import annotations

import functools

from ekakte.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 hashes any length; this keeps a request from making it hash megabytes


@functools.cache
def _hasher():  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2-cffi's defaults: argon2id, RFC 9106 low-memory profile


def check_new(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_LENGTH} characters", code="weak-password")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"a password has at most {MAX_LENGTH} characters", code="weak-password")
    return password


def hashed(password: str) -> str:
    return str(_hasher().hash(password))


def matches(stored: str | None, password: str) -> bool:
    """Whether `password` is the one `stored` was made from. Without a stored hash (an unknown user, one
    who signs in only at the identity provider) a hash is checked all the same, so that the answer takes
    as long either way."""
    from argon2.exceptions import InvalidHashError, VerificationError

    if len(password) > MAX_LENGTH:
        return False
    try:
        return bool(_hasher().verify(stored or _dummy(), password)) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return bool(_hasher().check_needs_rehash(stored))


@functools.cache
def _dummy() -> str:
    return hashed("no user has this password; it keeps the timing of a failed sign-in even")
