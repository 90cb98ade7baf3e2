"""Checking stored originals and their renditions against the database (verify) and removing
unreferenced objects (gc)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from ekakte.access import About, Action, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.chunks import in_chunks
from ekakte.db.models import Document, DocumentState, Rendition
from ekakte.errors import ChecksumMismatch, IntegrityError, InvalidInput, StoreRefused
from ekakte.jsonable import AsJson
from ekakte.progress import Progress, ShouldStop, never
from ekakte.retention.held import is_held
from ekakte.retention.worm import LOCK_MARGIN, retain_until
from ekakte.storage import read_verified
from ekakte.storage.base import OBJECT_PREFIXES, ObjectInfo, ObjectLock

# Problems that are damage (exit 10); "unreferenced" is what an interrupted import leaves behind.
# "seal": a checked batch's sealed manifest, its signature or chain link does not hold, or what it seals
# changed (ekakte.scanning.checks.seal_problems).
DAMAGE = ("missing", "corrupt", "lock", "seal")


@dataclass(frozen=True)
class Problem(AsJson):
    # "missing", "corrupt", "unreferenced", or "lock": the Object Lock store protects the object less
    # (or otherwise) than ekakte wants it to
    kind: str
    key: str
    document_id: str | None
    detail: str


@dataclass
class VerifyReport:
    documents_checked: int = 0
    renditions_checked: int = 0  # derived objects (searchable PDFs) checked beside the originals
    bytes_hashed: int = 0
    objects_listed: int = 0
    sample: int | None = None  # a random sample of this many documents; the store was not listed
    locks_checked: bool = False  # the store has Object Lock: each document's lock was compared too
    stopped: bool = False  # asked to stop before every document was checked
    seals_checked: int = 0  # the scanned batches' seals (ekakte.scanning): signature, chain, contents
    problems: list[Problem] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for p in self.problems if p.kind == kind)

    @property
    def ok(self) -> bool:
        """Unreferenced objects are what a crashed import leaves; missing, corrupt or wrongly locked ones
        are damage."""
        return not any(p.kind in DAMAGE for p in self.problems)

    def summary(self) -> str:
        damage = f"{self.count('missing')} missing, {self.count('corrupt')} corrupt"
        if self.renditions_checked:
            plural = "s" if self.renditions_checked != 1 else ""
            damage = f"{self.renditions_checked} searchable PDF{plural} with them, {damage}"
        if self.locks_checked:
            damage += f", {self.count('lock')} not locked as recorded"
        if self.seals_checked or self.count("seal"):
            damage += f", {self.seals_checked} seals checked, {self.count('seal')} seal problems"

        if self.stopped:
            return f"{self.documents_checked} documents checked before verify was stopped, {damage}"
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
            "renditions_checked": self.renditions_checked,
            "bytes_hashed": self.bytes_hashed,
            "objects_listed": self.objects_listed,
            "sample": self.sample,
            "locks_checked": self.locks_checked,
            "stopped": self.stopped,
            "missing": self.count("missing"),
            "corrupt": self.count("corrupt"),
            "lock": self.count("lock"),
            "unreferenced": self.count("unreferenced"),
            "seals_checked": self.seals_checked,
            "seal": self.count("seal"),
            "problems": [p.as_json() for p in self.problems],
        }


@dataclass(frozen=True)
class _Doc:
    id: uuid.UUID
    key: str
    sha256: str
    size: int
    state: str
    # For an Object Lock store (see retention/worm.py): what ekakte wants of the object's lock, and what
    # it recorded telling the store.
    due_on: date | None
    held: bool
    locked_until: date | None
    object_hold: bool


def _columns() -> tuple[Any, ...]:
    return (
        Document.id, Document.storage_key, Document.sha256, Document.size_bytes, Document.state,
        Document.due_on, is_held(date.today()), Document.locked_until, Document.object_hold,
    )  # fmt: skip


def _documents(archive: Archive, page: int = 1000) -> Iterator[_Doc]:
    """Every document in key order, a chunk per short read, so that no transaction stays open while
    objects are read."""
    for rows in in_chunks(archive.reading, select(*_columns()), [Document.storage_key], page):
        yield from (_Doc(*row) for row in rows)


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


def _renditions(archive: Archive, ids: list[uuid.UUID] | None, page: int = 1000) -> Iterator[_Doc]:
    """Every rendition (of the documents `ids`, or of all) as a _Doc of its own: its key, size and
    SHA-256, with its document's state and what its document's lock should be (a rendition is locked as
    its original: ekakte.retention.worm)."""
    stmt = select(
        Rendition.document_id, Rendition.storage_key, Rendition.sha256, Rendition.size_bytes,
        *_columns()[4:],
    ).join(Document, Document.id == Rendition.document_id)  # fmt: skip
    if ids is not None:
        stmt = stmt.where(Rendition.document_id.in_(ids))
    for rows in in_chunks(archive.reading, stmt, [Rendition.storage_key], page):
        yield from (_Doc(*row) for row in rows)


def _sample(archive: Archive, size: int) -> list[_Doc]:
    with archive.reading() as session:
        rows = session.execute(
            select(*_columns())
            .where(Document.state != DocumentState.DELETING)
            .order_by(func.random())
            .limit(size)
        ).all()
    return [_Doc(*row) for row in rows]


def verify(
    archive: Archive,
    actor: Actor,
    *,
    checksums: bool = True,
    sample: int | None = None,
    rate_mb_s: float | None = None,
    progress: Progress | None = None,
    should_stop: ShouldStop = never,
) -> VerifyReport:
    """Every document's object must exist with its size and SHA-256, and so must each of its renditions
    (searchable PDFs); every object must belong to a document.
    On an Object Lock store, every document's object must also be locked as ekakte wants it (retain-until
    date from its due date, legal hold while a hold covers it); where it is not, ekakte's record of what
    the store was told is reset, so that the next sync (every sweep begins with one) tells it again.

    `checksums=False` compares sizes and recorded digests only, without reading the objects.
    `sample=N` checks N documents drawn at random and does not list the store (so it finds no
    unreferenced objects): the cheap nightly check, with a full run now and then.
    `rate_mb_s` caps the reading at that many MB (10^6 bytes) a second.
    `progress(n)` after each document with the documents checked so far; `should_stop()` is asked
    before each document: a stopped verify reports what it checked (`stopped`) and lists no
    unreferenced objects.
    """
    if sample is not None and sample < 1:
        raise InvalidInput("a sample is at least 1 document", field="sample")
    if rate_mb_s is not None and rate_mb_s <= 0:
        raise InvalidInput("the reading rate must be more than 0 MB/s", field="rate_mb_s")
    what = "verify" if sample is None else f"verify, a sample of {sample}"
    decided(archive, actor, Action.INTEGRITY, "verify", about=About(detail=what))
    report = VerifyReport(sample=sample, locks_checked=archive.store.object_lock())
    _check_seals(archive, report, contents=sample is None)
    throttle = _Throttle(rate_mb_s * 1e6 if rate_mb_s else None)
    referenced: set[str] = set()
    sampled_ids: list[uuid.UUID] = []
    documents = _documents(archive) if sample is None else iter(_sample(archive, sample))
    for doc in documents:
        sampled_ids.append(doc.id)
        if should_stop():
            report.stopped = True
            return report
        referenced.add(doc.key)
        if doc.state == DocumentState.DELETING:
            continue  # the retention sweep is removing it; its object may be gone already
        report.documents_checked += 1
        info = archive.store.stat(doc.key)
        if info is None:
            report.problems.append(Problem("missing", doc.key, str(doc.id), "the object is not in the store"))
            continue
        if report.locks_checked:
            wrong = _lock_problem(archive, doc, info.lock)
            if wrong:
                report.problems.append(wrong)
        problem = _check_one(archive, doc, info, checksums, report, throttle)
        if problem:
            report.problems.append(problem)
        if progress is not None:
            progress(report.documents_checked)
    sampled = sampled_ids if sample is not None else None
    for rendition in _renditions(archive, sampled):
        if should_stop():
            report.stopped = True
            return report
        referenced.add(rendition.key)
        if rendition.state == DocumentState.DELETING:
            continue
        report.renditions_checked += 1
        stored = archive.store.stat(rendition.key)
        if stored is None:
            found: Problem | None = Problem("missing", rendition.key, str(rendition.id), "")
        else:
            wrong = _lock_problem(archive, rendition, stored.lock) if report.locks_checked else None
            if wrong:
                report.problems.append(replace(wrong, detail=f"the searchable PDF: {wrong.detail}"))
            found = _check_one(archive, rendition, stored, checksums, report, throttle)
        if found:
            what = "the searchable PDF"
            detail = f"{what}: {found.detail}" if found.detail else f"{what} is not in the store"
            report.problems.append(replace(found, detail=detail))
    if sample is not None:
        return report
    for prefix in OBJECT_PREFIXES:
        for obj in archive.store.list(prefix):
            report.objects_listed += 1
            if obj.key not in referenced:
                detail = f"{obj.size} bytes, stored {obj.modified:%Y-%m-%d %H:%M}" + _locked(archive, obj.key)
                report.problems.append(Problem("unreferenced", obj.key, None, detail))
    return report


def _check_seals(archive: Archive, report: VerifyReport, *, contents: bool) -> None:
    """The seals of the checked batches: each is read from the database and checked there, so it costs
    no object read; a problem names the batch and what no longer holds. A sampled verify checks the
    signatures and the chain only; a full one also what each seal protects (every batch's rows)."""
    from ekakte.db.models import ScanSeal
    from ekakte.scanning.sealing import seal_problems

    with archive.reading() as session:
        report.seals_checked = session.scalar(select(func.count()).select_from(ScanSeal)) or 0
    # Also without any seal: a check whose seal was removed (the last one too) is found by the trail.
    for problem in seal_problems(archive, contents=contents):
        report.problems.append(Problem("seal", f"batch {problem.batch_id}", None, problem.detail))


def _locked(archive: Archive, key: str) -> str:
    """For an object the store protects now (gc cannot remove it yet): ", retained until …"; else ""."""
    if not archive.store.object_lock():
        return ""
    info = archive.store.stat(key)
    lock = info.lock if info is not None else None
    return f", {lock.describe()}" if lock is not None and lock.protects(datetime.now(UTC)) else ""


def _lock_problem(archive: Archive, doc: _Doc, lock: ObjectLock | None) -> Problem | None:
    """The object's lock against what ekakte wants of it now: a retain-until date from its due date (the
    store may keep it longer: it only ever extends, and a bucket may have a default retention; not
    shorter), and a legal hold exactly while a hold covers it. A difference is checked once more against
    the row as it is now (a hold or due date may have changed since the page was read), and then the
    record of what the store was told is reset, so that the next sync (every sweep begins with one)
    sends the wanted state again."""
    lock = lock or ObjectLock(None, None, False)
    if _lock_differs(doc, lock) == (None, None):
        return None
    with archive.transaction() as session:
        row = session.execute(select(*_columns()).where(Document.id == doc.id)).one_or_none()
        now = _Doc(*row) if row is not None else None
        if now is None or now.state != DocumentState.STORED:
            return None  # being deleted, or gone
        retention, hold = _lock_differs(now, lock)
        if retention is None and hold is None:
            return None
        fix: dict[str, Any] = {}
        if retention is not None:
            fix["locked_until"] = None
        if hold is not None:
            fix["object_hold"] = not now.held  # the opposite of what is wanted: the next sync sends it
        session.execute(update(Document).where(Document.id == doc.id).values(**fix))
    wrong = "; ".join(w for w in (retention, hold) if w is not None)
    return Problem("lock", doc.key, str(doc.id), wrong + " (told again by the next sweep)")


def _lock_differs(doc: _Doc, lock: ObjectLock) -> tuple[str | None, str | None]:
    """What is wrong with the object's retain-until date, and with its legal hold (None: nothing)."""
    retention = hold = None
    wanted = retain_until(doc.due_on) if doc.due_on is not None else None
    short = lock.unreadable is None and (lock.retain_until is None or (wanted and lock.retain_until < wanted))
    if wanted is not None and wanted > datetime.now(UTC) + LOCK_MARGIN and short:
        told = doc.locked_until is not None and doc.locked_until >= wanted.date() - timedelta(days=1)
        retention = (
            f"{'ekakte told the store' if told else 'the store was not yet told'} to keep it until"
            f" {wanted:%Y-%m-%d}, the store says {lock.describe()}"
        )
    if doc.held and not lock.legal_hold:
        hold = "a hold covers it, the object has no legal hold" + (
            "" if doc.object_hold else " (the store was not yet told)"
        )
    elif lock.legal_hold and not doc.held:
        hold = "the object has a legal hold that no hold in ekakte covers"
    return retention, hold


def _check_one(
    archive: Archive, doc: _Doc, info: ObjectInfo, checksums: bool, report: VerifyReport, throttle: _Throttle
) -> Problem | None:
    doc_id = str(doc.id)
    if info.size != doc.size:
        return Problem("corrupt", doc.key, doc_id, f"size {info.size}, expected {doc.size}")
    if info.sha256 is not None and info.sha256 != doc.sha256:
        return Problem(
            "corrupt", doc.key, doc_id, "the SHA-256 in the object's metadata differs from the database"
        )
    if not checksums:
        return None
    try:
        for chunk in read_verified(archive.store, doc.key, doc.sha256, doc.size):
            report.bytes_hashed += len(chunk)
            throttle(len(chunk))
    except ChecksumMismatch as exc:
        return Problem("corrupt", doc.key, doc_id, str(exc))
    except IntegrityError:
        return Problem("missing", doc.key, doc_id, "the object disappeared while it was being read")
    return None


@dataclass
class GcReport:
    removed: list[ObjectInfo] = field(default_factory=list)
    kept_young: int = 0
    # Unreferenced, but the store's Object Lock keeps them for now (why): a later gc removes them.
    kept_locked: list[tuple[ObjectInfo, str]] = field(default_factory=list)
    abandoned_uploads: int = 0
    dry_run: bool = False

    def summary(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        locked = f", kept {len(self.kept_locked)} under the store's lock" if self.kept_locked else ""
        return (
            f"{verb} {len(self.removed)} unreferenced objects"
            f" ({sum(o.size for o in self.removed)} bytes),"
            f" kept {self.kept_young} younger than the grace period{locked},"
            f" {verb} {self.abandoned_uploads} abandoned uploads"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "removed": [
                {"key": o.key, "size": o.size, "modified": o.modified.isoformat()} for o in self.removed
            ],
            "kept_young": self.kept_young,
            "kept_locked": [{"key": o.key, "size": o.size, "reason": why} for o, why in self.kept_locked],
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
    decided(archive, actor, Action.INTEGRITY, "gc", about=About(detail="gc"))
    grace = timedelta(hours=grace_hours if grace_hours is not None else archive.settings.gc_grace_hours)
    cutoff = datetime.now(UTC) - grace
    report = GcReport(dry_run=dry_run)
    with archive.reading() as session:
        referenced = set(session.scalars(select(Document.storage_key)))
        referenced |= set(session.scalars(select(Rendition.storage_key)))
    for obj in (o for prefix in OBJECT_PREFIXES for o in archive.store.list(prefix)):
        if obj.key in referenced:
            continue
        if obj.modified > cutoff:
            report.kept_young += 1
            continue
        if _is_referenced(archive, obj.key):
            continue
        # An Object Lock store may keep it (a corrupt upload under the bucket's default retention):
        # then it stays, named, until a gc after its lock has passed.
        locked = _locked(archive, obj.key)
        if locked:
            report.kept_locked.append((obj, locked.removeprefix(", ")))
            continue
        if not dry_run:
            refused = archive.store.delete_many([obj.key])
            if refused:
                locked = _locked(archive, obj.key)
                if not locked:  # refused, and no lock protects it: not something a later gc outgrows
                    raise StoreRefused(f"the object store refused to delete {obj.key}: {refused[obj.key]}")
                report.kept_locked.append((obj, locked.removeprefix(", ")))
                continue
        report.removed.append(obj)
    if not dry_run:
        report.abandoned_uploads = archive.store.remove_abandoned_uploads(cutoff)
    return report


def _is_referenced(archive: Archive, key: str) -> bool:
    with archive.reading() as session:
        if session.scalar(select(Document.id).where(Document.storage_key == key)) is not None:
            return True
        return session.scalar(select(Rendition.document_id).where(Rendition.storage_key == key)) is not None
