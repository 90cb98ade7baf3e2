"""S3 Object Lock (WORM): the store itself refuses to delete a document before its due date or under hold.

Where the bucket has Object Lock enabled, every document's original gets a retain-until date of the day
after its due date (mode COMPLIANCE or GOVERNANCE, `s3_lock_mode`), and S3's legal hold mirrors
ekakte's holds. The documents table remembers what the store was told (`locked_until`, `object_hold`), so
each sync sends only what changed. Retention is only ever extended: a later rule that shortens a period
leaves the longer lock in place, and the sweep then finds the store refusing, which counts as "not yet
due" (the document stays and is retried). An open case's documents (no due date) keep whatever lock they
had; ekakte's own rules keep them in any case.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, false, or_, select, true, update

from ekakte.archive import Archive
from ekakte.db.models import Document, DocumentState
from ekakte.retention.holds import is_held

_CHUNK = 500


def retain_until(due_on: date) -> datetime:
    """The object may go from the first moment of the day after its due date (UTC)."""
    return datetime.combine(due_on + timedelta(days=1), time(0, 0), tzinfo=UTC)


def sync_object_locks(archive: Archive, document_ids: list[uuid.UUID] | None = None) -> int:
    """Tell the store the retain-until dates and legal holds it does not know yet; returns how many
    objects were changed. Nothing to do (and no query) for stores without Object Lock."""
    if not archive.store.object_lock():
        return 0
    changed = _sync_retention(archive, document_ids) + _sync_holds(archive, document_ids)
    return changed


def _scope(document_ids: list[uuid.UUID] | None) -> Any:
    stored = Document.state == DocumentState.STORED
    return and_(stored, Document.id.in_(document_ids)) if document_ids is not None else stored


def _sync_retention(archive: Archive, document_ids: list[uuid.UUID] | None) -> int:
    changed = 0
    while True:
        with archive.reading() as session:
            rows = session.execute(
                select(Document.id, Document.storage_key, Document.due_on)
                .where(
                    _scope(document_ids),
                    Document.due_on.is_not(None),
                    or_(Document.locked_until.is_(None), Document.due_on > Document.locked_until),
                )
                .limit(_CHUNK)
            ).all()
        if not rows:
            return changed
        for doc_id, key, due_on in rows:
            assert due_on is not None  # the WHERE asks for it
            archive.store.retain(key, retain_until(due_on))
            with archive.transaction() as session:
                session.execute(update(Document).where(Document.id == doc_id).values(locked_until=due_on))
            changed += 1


def _sync_holds(archive: Archive, document_ids: list[uuid.UUID] | None) -> int:
    today = date.today()
    changed = 0
    for wanted, differs in ((True, and_(is_held(today), Document.object_hold == false())),
                            (False, and_(~is_held(today), Document.object_hold == true()))):  # fmt: skip
        while True:
            with archive.reading() as session:
                rows = session.execute(
                    select(Document.id, Document.storage_key)
                    .where(_scope(document_ids), differs)
                    .limit(_CHUNK)
                ).all()
            if not rows:
                break
            for doc_id, key in rows:
                archive.store.hold(key, wanted)
                with archive.transaction() as session:
                    session.execute(update(Document).where(Document.id == doc_id).values(object_hold=wanted))
                changed += 1
    return changed
