"""S3 Object Lock (WORM): the store itself refuses to delete a document before its due date or under hold.

Where the bucket has Object Lock enabled, every document's original (and its renditions, ekakte.derived:
the same date and hold, told with the original's) gets a retain-until date of the day
after its due date (mode COMPLIANCE or GOVERNANCE, `s3_lock_mode`), and S3's legal hold mirrors
ekakte's holds. The documents table remembers what the store was told (`locked_until`, `object_hold`), so
each sync sends only what changed. Retention is only ever extended: a later rule that shortens a period
leaves the longer lock in place, and the sweep then finds the store refusing, which counts as "not yet
due" (the document stays and is retried). An open case's documents (no due date) keep whatever lock they
had; ekakte's own rules keep them in any case. A retain-until date that has already passed (or passes in
the next minutes) is never sent: there is nothing left to protect, and real servers refuse it. Where the
store refuses a date but keeps the object at least that long anyway (a bucket's default retention), that
counts as told.

One object's refusal is that document's outcome (recorded, retried by the next sync, reported by the
caller); only a store that cannot be reached ends a sync early.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, false, or_, select, true, update

from ekakte.archive import Archive
from ekakte.db.chunks import in_chunks
from ekakte.db.models import Document, DocumentState
from ekakte.derived import derived_keys
from ekakte.errors import StorageError, StoreRefused
from ekakte.jsonable import AsJson
from ekakte.retention.held import is_held

_CHUNK = 500
# A retain-until date this close to now is not sent either: a sync that runs across 00:00 UTC, or a
# server whose clock runs a little ahead, would have it refused as "in the past".
LOCK_MARGIN = timedelta(minutes=5)


def retain_until(due_on: date) -> datetime:
    """The object may go from the first moment of the day after its due date (UTC)."""
    return datetime.combine(due_on + timedelta(days=1), time(0, 0), tzinfo=UTC)


def utc_today() -> date:
    """The day by which retain-until dates are reckoned: they are UTC midnights."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class LockRefusal(AsJson):
    json_omit = frozenset({"restricted"})

    document_id: uuid.UUID
    what: str  # "retention until …", "legal hold", "release of the legal hold"
    reason: str
    restricted: bool = False  # the document's type needs the health clearance (see without_restricted)

    def text(self) -> str:
        return f"document {self.document_id}: the store did not take the {self.what}: {self.reason}"


@dataclass
class LockOutcome(AsJson):
    """What a sync told the store: objects changed, the store's refusals, and whether it was away."""

    json_omit = frozenset({"changed_restricted"})

    changed: int = 0
    refused: list[LockRefusal] = field(default_factory=list)
    unreachable: str | None = None  # the store could not be reached: the rest waits for the next sync
    changed_restricted: int = 0  # of `changed`, documents whose type needs the health clearance

    @property
    def ok(self) -> bool:
        return not self.refused and self.unreachable is None

    def without_restricted(self) -> LockOutcome:
        """What a caller may be told who may not learn that restricted documents exist: no count, no id
        of one (a team lead without the health clearance closing a case)."""
        return LockOutcome(
            self.changed - self.changed_restricted,
            [r for r in self.refused if not r.restricted],
            self.unreachable,
        )

    def problem(self) -> str | None:
        """One line for an operator, or None when the store took everything."""
        if self.unreachable is not None:
            return f"the object store could not be told the locks: {self.unreachable}"
        if self.refused:
            more = f" and {len(self.refused) - 1} more" if len(self.refused) > 1 else ""
            return f"{self.refused[0].text()}{more}"
        return None


def sync_object_locks(
    archive: Archive, document_ids: list[uuid.UUID] | None = None, *, case_id: int | None = None
) -> LockOutcome:
    """Tell the store the retain-until dates and legal holds it does not know yet: of the given documents,
    of one case's, or of all. Nothing to do (and no query) for stores without Object Lock. Never raises
    for the store: refusals and an unreachable store are in the outcome; what was not told is told by the
    next sync (every sweep begins with one)."""
    outcome = LockOutcome()
    scope = _scope(document_ids, case_id)
    try:
        if not archive.store.object_lock():
            return outcome
        _sync_retention(archive, scope, outcome)
        _sync_holds(archive, scope, outcome)
    except StorageError as exc:  # away, or the bucket's lock configuration itself could not be read
        outcome.unreachable = str(exc)
    return outcome


def _scope(document_ids: list[uuid.UUID] | None, case_id: int | None) -> Any:
    scope = Document.state == DocumentState.STORED
    if document_ids is not None:
        scope = and_(scope, Document.id.in_(document_ids))
    if case_id is not None:
        scope = and_(scope, Document.case_id == case_id)
    return scope


def _chunks(archive: Archive, columns: tuple[Any, ...], where: Any) -> Iterator[Sequence[Any]]:
    """Rows in id order, a chunk per short read; keyset-paged, so a refused row (left as it was) is
    not read again in this sync."""
    return in_chunks(archive.reading, select(Document.id, *columns).where(where), [Document.id], _CHUNK)


def _sync_retention(archive: Archive, scope: Any, outcome: LockOutcome) -> None:
    needs = and_(
        scope,
        Document.due_on.is_not(None),
        # A date already past protects nothing, and RadosGW refuses it (InvalidArgument): not sent.
        Document.due_on >= utc_today(),
        or_(Document.locked_until.is_(None), Document.due_on > Document.locked_until),
    )
    columns = (Document.storage_key, Document.due_on, Document.restricted)
    for rows in _chunks(archive, columns, needs):
        derived = _derived(archive, [row[0] for row in rows])
        for doc_id, key, due_on, restricted in rows:
            until = retain_until(due_on)
            if until <= datetime.now(UTC) + LOCK_MARGIN:
                continue
            refusal = None
            for each in (key, *derived.get(doc_id, ())):
                try:
                    archive.store.retain(each, until)
                except StoreRefused as exc:
                    if not _kept_as_long(archive, each, until):
                        refusal = refusal or str(exc)
            if refusal is not None:
                what = f"retention until {until:%Y-%m-%d}"
                outcome.refused.append(LockRefusal(doc_id, what, refusal, restricted))
                continue
            with archive.transaction() as session:
                session.execute(update(Document).where(Document.id == doc_id).values(locked_until=due_on))
            outcome.changed += 1
            outcome.changed_restricted += restricted


def _derived(archive: Archive, document_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    with archive.reading() as session:
        return derived_keys(session, document_ids)


def lock_derived(archive: Archive, document_id: uuid.UUID, key: str) -> None:
    """A derived object just stored (a rendition) gets what the store was told for the document's
    original: its retain-until date and legal hold. Where the store does not take it, the record of
    what the store was told about the document is reset, so that the next sync (every sweep begins with
    one) tells the original and its renditions again. Nothing to do for stores without Object Lock."""
    if not archive.store.object_lock():
        return
    with archive.reading() as session:
        row = session.execute(
            select(Document.locked_until, Document.object_hold).where(Document.id == document_id)
        ).first()
    if row is None:
        return
    locked_until, held = row
    until = retain_until(locked_until) if locked_until is not None else None
    reset: dict[str, Any] = {}
    if until is not None and until > datetime.now(UTC) + LOCK_MARGIN:
        try:
            archive.store.retain(key, until)
        except StoreRefused:
            if not _kept_as_long(archive, key, until):
                reset["locked_until"] = None
    if held and _set_hold(archive, key, True) is not None:
        reset["object_hold"] = False  # what the next sync finds to differ from the hold: told again
    if reset:
        with archive.transaction() as session:
            session.execute(update(Document).where(Document.id == document_id).values(**reset))


def _kept_as_long(archive: Archive, key: str, until: datetime) -> bool:
    """After the store refused a retain-until date: whether it keeps the object at least that long
    already (a bucket's default retention, or an earlier, longer date: COMPLIANCE refuses to shorten),
    which is all ekakte asked for."""
    try:
        info = archive.store.stat(key)
    except StoreRefused:
        return False
    lock = info.lock if info is not None else None
    return lock is not None and lock.retain_until is not None and lock.retain_until >= until


def _sync_holds(archive: Archive, scope: Any, outcome: LockOutcome) -> None:
    today = date.today()
    for wanted, differs in ((True, and_(is_held(today), Document.object_hold == false())),
                            (False, and_(~is_held(today), Document.object_hold == true()))):  # fmt: skip
        what = "legal hold" if wanted else "release of the legal hold"
        for rows in _chunks(archive, (Document.storage_key, Document.restricted), and_(scope, differs)):
            derived = _derived(archive, [row[0] for row in rows])
            for doc_id, key, restricted in rows:
                reasons = [_set_hold(archive, each, wanted) for each in (key, *derived.get(doc_id, ()))]
                reason = next((r for r in reasons if r is not None), None)
                if reason is not None:
                    outcome.refused.append(LockRefusal(doc_id, what, reason, restricted))
                    continue
                with archive.transaction() as session:
                    session.execute(update(Document).where(Document.id == doc_id).values(object_hold=wanted))
                outcome.changed += 1
                outcome.changed_restricted += restricted


def _set_hold(archive: Archive, key: str, wanted: bool) -> str | None:
    """Set the object's legal hold and read it back; None when the store now says what was asked,
    else why not. Holds are few and are what a court relies on, so the answer is checked, not assumed."""
    try:
        archive.store.hold(key, wanted)
        info = archive.store.stat(key)
    except StoreRefused as exc:
        return str(exc)
    if info is None:
        return "the object is not in the store"
    if info.lock is None or info.lock.legal_hold != wanted:
        return f"the store acknowledged it but reports the legal hold {'OFF' if wanted else 'ON'}"
    return None
