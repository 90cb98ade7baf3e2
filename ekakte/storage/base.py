"""The small interface every object store implements, and the hashing that guards it."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

from ekakte.errors import ChecksumMismatch

CHUNK_SIZE = 1 << 20


@dataclass(frozen=True)
class ObjectLock:
    """What an S3 Object Lock store says protects an object (from the headers of a HEAD request)."""

    mode: str | None  # COMPLIANCE or GOVERNANCE, None without a retain-until date
    retain_until: datetime | None
    legal_hold: bool
    # A retain-until date the store sent in a form ekakte cannot read: counted as protecting, for ever.
    unreadable: str | None = None

    def protects(self, now: datetime) -> bool:
        if self.legal_hold or self.unreadable is not None:
            return True
        return self.retain_until is not None and self.retain_until > now

    def describe(self) -> str:
        parts = []
        if self.unreadable is not None:
            parts.append(
                f"retained until {self.unreadable!r} ({self.mode or '?'}; a date ekakte cannot read)"
            )
        elif self.retain_until is not None:
            parts.append(f"retained until {self.retain_until:%Y-%m-%d %H:%M} UTC ({self.mode or '?'})")
        if self.legal_hold:
            parts.append("under a legal hold")
        return " and ".join(parts) or "not locked"


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime
    # The digest recorded in the object's metadata; listings leave it out (None) to stay cheap.
    sha256: str | None = None
    # Object Lock stores only, from stat(): its retain-until date and legal hold.
    lock: ObjectLock | None = None


class ObjectStore(Protocol):
    """put / get / stat / delete / list, plus preparing the store and clearing abandoned uploads."""

    description: str

    def prepare(self) -> None:
        """Create the directory or bucket if it does not exist yet."""

    def put(self, key: str, source: BinaryIO, size: int, sha256: str, content_type: str) -> ObjectInfo:
        """Store exactly `size` bytes from `source` under a new `key`, streaming.

        The SHA-256 is computed on the way; if it differs from `sha256` nothing is left under `key` and
        ChecksumMismatch is raised. The digest is recorded in the object's metadata. Never overwrites.
        """

    def get(self, key: str) -> Iterator[bytes]:
        """The object's bytes in chunks, unverified (use read_verified). IntegrityError when missing."""

    def stat(self, key: str) -> ObjectInfo | None:
        """Size, time, recorded digest and (Object Lock stores) lock, or None when there is no such object."""

    def delete(self, key: str) -> None:
        """Remove the object; removing a missing object is not an error."""

    def delete_many(self, keys: list[str]) -> dict[str, str]:
        """Remove objects for good (every version, where the store keeps versions); missing ones are no
        error. Returns the keys the store refused to remove (e.g. under S3 Object Lock) with its reason;
        StorageError when the store cannot be reached."""

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix`."""

    def object_lock(self) -> bool:
        """True when the store can refuse deletions itself (an S3 bucket with Object Lock enabled)."""

    def retain(self, key: str, until: datetime) -> None:
        """Object Lock: the object may not be deleted before `until` (only ever extended; never a time in
        the past, which real servers refuse). StoreRefused when the store says no."""

    def hold(self, key: str, on: bool) -> None:
        """Object Lock: set or clear the object's legal hold. StoreRefused when the store says no."""

    def remove_abandoned_uploads(self, older_than: datetime) -> int:
        """Remove partial uploads a crashed writer left behind; returns how many."""


def original_key(document_id: uuid.UUID) -> str:
    """Where a document's original lives. Derived from the random UUID only: no case number, no name."""
    h = document_id.hex
    return f"originals/{h[:2]}/{h[2:4]}/{document_id}"


ORIGINALS_PREFIX = "originals/"
RENDITIONS_PREFIX = "renditions/"
# Every prefix under which ekakte stores objects a document owns: what verify and gc list.
OBJECT_PREFIXES = (ORIGINALS_PREFIX, RENDITIONS_PREFIX)


def rendition_key(document_id: uuid.UUID, kind: str) -> str:
    """Where a new rendition of a document goes: beside the original's key, under its own prefix, with a
    random part. Each rendition made gets a new key, so a maker that crashed after storing its object
    and before recording it never blocks the next one (objects are never overwritten); what it left is
    an unreferenced object for `verify` and `gc`, as an interrupted import leaves one."""
    h = document_id.hex
    return f"{RENDITIONS_PREFIX}{h[:2]}/{h[2:4]}/{document_id}/{kind}-{uuid.uuid4().hex[:12]}"


class HashingReader:
    """Wraps a binary stream; hashes and counts every byte read through it."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._source.read(n)
        self._hash.update(data)
        self.size += len(data)
        return data

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def file_sha256(source: BinaryIO) -> tuple[str, int]:
    """SHA-256 and length of a stream, read in chunks."""
    reader = HashingReader(source)
    while reader.read(CHUNK_SIZE):
        pass
    return reader.hexdigest(), reader.size


def read_verified(store: ObjectStore, key: str, sha256: str, size: int) -> Iterator[bytes]:
    """The object's bytes; raises ChecksumMismatch after the last chunk if they are not the recorded ones.

    Callers must not treat what they received as valid until the iterator is exhausted without error.
    """
    digest = hashlib.sha256()
    seen = 0
    for chunk in store.get(key):
        digest.update(chunk)
        seen += len(chunk)
        yield chunk
    if seen != size or digest.hexdigest() != sha256:
        raise ChecksumMismatch(
            f"object {key} is corrupt: expected {size} bytes with SHA-256 {sha256[:16]}…,"
            f" read {seen} bytes with SHA-256 {digest.hexdigest()[:16]}…"
        )


def mismatch_on_put(key: str, expected: str, size: int, got: str, got_size: int) -> ChecksumMismatch:
    return ChecksumMismatch(
        f"the file changed while it was being stored (expected {size} bytes, SHA-256 {expected[:16]}…;"
        f" read {got_size} bytes, SHA-256 {got[:16]}…): nothing was stored under {key}, try again"
    )
