"""Checking stored originals against the database (verify) and removing unreferenced objects (gc)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from ekakte.access import Action, gate, refuse
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import Document, DocumentState
from ekakte.errors import ChecksumMismatch, IntegrityError, InvalidInput
from ekakte.storage import read_verified
from ekakte.storage.base import ORIGINALS_PREFIX, ObjectInfo


@dataclass(frozen=True)
class Problem:
    kind: str  # "missing", "corrupt" or "unreferenced"
    key: str
    document_id: str | None
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "document_id": self.document_id, "detail": self.detail}


@dataclass
class VerifyReport:
    documents_checked: int = 0
    bytes_hashed: int = 0
    objects_listed: int = 0
    sample: int | None = None  # a random sample of this many documents; the store was not listed
    problems: list[Problem] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for p in self.problems if p.kind == kind)

    @property
    def ok(self) -> bool:
        """Unreferenced objects are what a crashed import leaves; only missing or corrupt ones are damage."""
        return self.count("missing") == 0 and self.count("corrupt") == 0

    def summary(self) -> str:
        damage = f"{self.count('missing')} missing, {self.count('corrupt')} corrupt"
        if self.sample is not None:
            return f"{self.documents_checked} documents checked (a random sample), {damage}"
        return (
            f"{self.documents_checked} documents checked, {damage},"
            f" {self.count('unreferenced')} unreferenced objects"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "documents_checked": self.documents_checked,
            "bytes_hashed": self.bytes_hashed,
            "objects_listed": self.objects_listed,
            "sample": self.sample,
            "missing": self.count("missing"),
            "corrupt": self.count("corrupt"),
            "unreferenced": self.count("unreferenced"),
            "problems": [p.as_json() for p in self.problems],
        }


def authorize_integrity(archive: Archive, actor: Actor, what: str) -> None:
    with archive.transaction() as session:
        decision = gate(session, actor, Action.INTEGRITY, detail=what)
    if not decision.allowed:
        raise refuse(what)


def _documents(archive: Archive, page: int = 1000) -> Iterator[tuple[str, str, str, int, str]]:
    """(id, key, sha256, size, state) of every document in key order, a page per short read
    transaction, so that no transaction stays open while objects are read."""
    last = ""
    while True:
        with archive.reading() as session:
            rows = session.execute(
                select(
                    Document.id, Document.storage_key, Document.sha256, Document.size_bytes, Document.state
                )
                .where(Document.storage_key > last)
                .order_by(Document.storage_key)
                .limit(page)
            ).all()
        if not rows:
            return
        for doc_id, key, sha256, size, state in rows:
            yield str(doc_id), key, sha256, size, state
        last = rows[-1][1]


class _Throttle:
    """Keeps reading at or below `rate` bytes a second (None: as fast as the store delivers), so that
    a verify in working hours does not starve the scanning stations of the store's bandwidth."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.started = time.monotonic()
        self.done = 0

    def __call__(self, nbytes: int) -> None:
        if self.rate is None:
            return
        self.done += nbytes
        ahead = self.done / self.rate - (time.monotonic() - self.started)
        if ahead > 0:
            time.sleep(ahead)


def _sample(archive: Archive, size: int) -> list[tuple[str, str, str, int, str]]:
    with archive.reading() as session:
        rows = session.execute(
            select(Document.id, Document.storage_key, Document.sha256, Document.size_bytes, Document.state)
            .where(Document.state != DocumentState.DELETING)
            .order_by(func.random())
            .limit(size)
        ).all()
    return [(str(doc_id), key, sha256, size_, state) for doc_id, key, sha256, size_, state in rows]


def verify(
    archive: Archive,
    actor: Actor,
    *,
    checksums: bool = True,
    sample: int | None = None,
    rate_mb_s: float | None = None,
) -> VerifyReport:
    """Every document's object must exist with its size and SHA-256; every object must have a document.

    `checksums=False` compares sizes and recorded digests only, without reading the objects.
    `sample=N` checks N documents drawn at random and does not list the store (so it finds no
    unreferenced objects): the cheap nightly check, with a full run now and then.
    `rate_mb_s` caps the reading at that many MB (10^6 bytes) a second.
    """
    if sample is not None and sample < 1:
        raise InvalidInput("--sample must be at least 1")
    if rate_mb_s is not None and rate_mb_s <= 0:
        raise InvalidInput("--rate must be more than 0 MB/s")
    authorize_integrity(archive, actor, "verify" if sample is None else f"verify --sample {sample}")
    report = VerifyReport(sample=sample)
    throttle = _Throttle(rate_mb_s * 1e6 if rate_mb_s else None)
    referenced: set[str] = set()
    documents = _documents(archive) if sample is None else iter(_sample(archive, sample))
    for doc_id, key, sha256, size, state in documents:
        referenced.add(key)
        if state == DocumentState.DELETING:
            continue  # the retention sweep is removing it; its object may be gone already
        report.documents_checked += 1
        problem = _check_one(archive, doc_id, key, sha256, size, checksums, report, throttle)
        if problem:
            report.problems.append(problem)
    if sample is not None:
        return report
    for obj in archive.store.list(ORIGINALS_PREFIX):
        report.objects_listed += 1
        if obj.key not in referenced:
            report.problems.append(
                Problem(
                    "unreferenced", obj.key, None, f"{obj.size} bytes, stored {obj.modified:%Y-%m-%d %H:%M}"
                )
            )
    return report


def _check_one(
    archive: Archive,
    doc_id: str,
    key: str,
    sha256: str,
    size: int,
    checksums: bool,
    report: VerifyReport,
    throttle: _Throttle,
) -> Problem | None:
    info = archive.store.stat(key)
    if info is None:
        return Problem("missing", key, doc_id, "the object is not in the store")
    if info.size != size:
        return Problem("corrupt", key, doc_id, f"size {info.size}, expected {size}")
    if info.sha256 is not None and info.sha256 != sha256:
        return Problem(
            "corrupt", key, doc_id, "the SHA-256 in the object's metadata differs from the database"
        )
    if not checksums:
        return None
    try:
        for chunk in read_verified(archive.store, key, sha256, size):
            report.bytes_hashed += len(chunk)
            throttle(len(chunk))
    except ChecksumMismatch as exc:
        return Problem("corrupt", key, doc_id, str(exc))
    except IntegrityError:
        return Problem("missing", key, doc_id, "the object disappeared while it was being read")
    return None


@dataclass
class GcReport:
    removed: list[ObjectInfo] = field(default_factory=list)
    kept_young: int = 0
    abandoned_uploads: int = 0
    dry_run: bool = False

    def summary(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (
            f"{verb} {len(self.removed)} unreferenced objects"
            f" ({sum(o.size for o in self.removed)} bytes),"
            f" kept {self.kept_young} younger than the grace period,"
            f" {verb} {self.abandoned_uploads} abandoned uploads"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "removed": [
                {"key": o.key, "size": o.size, "modified": o.modified.isoformat()} for o in self.removed
            ],
            "kept_young": self.kept_young,
            "abandoned_uploads": self.abandoned_uploads,
        }


def gc(
    archive: Archive, actor: Actor, *, grace_hours: float | None = None, dry_run: bool = False
) -> GcReport:
    """Remove objects no document refers to, once they are older than the grace period.

    The grace period protects imports in flight: an import writes its object before its row (see
    ingest.import_document), so a young unreferenced object may be claimed any moment. Each candidate
    is looked up once more right before it is removed.
    """
    authorize_integrity(archive, actor, "gc")
    grace = timedelta(hours=grace_hours if grace_hours is not None else archive.settings.gc_grace_hours)
    cutoff = datetime.now(UTC) - grace
    report = GcReport(dry_run=dry_run)
    with archive.reading() as session:
        referenced = set(session.scalars(select(Document.storage_key)))
    for obj in archive.store.list(ORIGINALS_PREFIX):
        if obj.key in referenced:
            continue
        if obj.modified > cutoff:
            report.kept_young += 1
            continue
        if _is_referenced(archive, obj.key):
            continue
        if not dry_run:
            archive.store.delete(obj.key)
        report.removed.append(obj)
    if not dry_run:
        report.abandoned_uploads = archive.store.remove_abandoned_uploads(cutoff)
    return report


def _is_referenced(archive: Archive, key: str) -> bool:
    with archive.reading() as session:
        return session.scalar(select(Document.id).where(Document.storage_key == key)) is not None
