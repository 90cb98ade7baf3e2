"""Legal holds (Löschsperren): on a case or one document, with a reason, open-ended or until a day."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ekakte import paging
from ekakte.access import About, Action, Decision, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import Case, Document, LegalHold
from ekakte.errors import InvalidInput, NotFound, shown
from ekakte.jsonable import AsJson
from ekakte.paging import Page, check_limit
from ekakte.retention.worm import LockOutcome, sync_object_locks

MAX_REASON = 500


@dataclass(frozen=True)
class HoldInfo(AsJson):
    json_omit = frozenset({"objects"})

    id: int
    case_number: str | None
    document_id: uuid.UUID | None
    reason: str
    until: date | None
    created_at: datetime
    created_by: str
    released_at: datetime | None
    released_by: str | None
    # After `hold add` / `hold release` on an Object Lock store: what the store took (None otherwise).
    objects: LockOutcome | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None and (self.until is None or self.until >= date.today())

    def json_extra(self) -> dict[str, Any]:
        objects = {"objects": self.objects.as_json()} if self.objects is not None else {}
        return {"active": self.active, **objects}


def _info(hold: LegalHold, case_number: str | None) -> HoldInfo:
    return HoldInfo(
        hold.id, case_number, hold.document_id, hold.reason, hold.until, hold.created_at, hold.created_by,
        hold.released_at, hold.released_by,
    )  # fmt: skip


def add_hold(
    archive: Archive,
    actor: Actor,
    *,
    reason: str,
    case_number: str | None = None,
    document_id: uuid.UUID | None = None,
    until: date | None = None,
) -> HoldInfo:
    """Put a case or a document under legal hold. The hold is audited with its reason."""
    if (case_number is None) == (document_id is None):
        raise InvalidInput(
            "a hold is on a case or on a document, not both and not neither", code="hold-target"
        )
    reason = " ".join(reason.split())
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(
            f"give the hold a reason of 1 to {MAX_REASON} characters (e.g. the court file number)"
        )
    if shown(reason) != reason:
        # The reason is shown to records managers and auditors (`hold list`, `retention plan`, `audit
        # show`); the CLI escapes it anyway, but a court's file number never needs a control character.
        raise InvalidInput(
            f"the hold's reason '{shown(reason)}' holds control or direction-changing characters;"
            " give it as plain text"
        )
    if until is not None and until < date.today():
        raise InvalidInput(f"the hold's last day {until.isoformat()} lies in the past", field="until")
    number = archive.settings.case_number(case_number) if case_number else None
    target: tuple[int | None, str | None] = (None, number)

    def about(session: Session) -> About:
        nonlocal target
        target = _target(session, number, document_id)
        doc = str(document_id) if document_id else None
        return About(case_number=target[1], document_id=doc, detail=f"hold add: {reason}")

    def add(session: Session, _decision: Decision) -> HoldInfo | None:
        case_id, case_number = target
        if case_id is None:
            return None
        hold = LegalHold(
            case_id=case_id if document_id is None else None, document_id=document_id, reason=reason,
            until=until, created_at=datetime.now(UTC), created_by=actor.effective,
        )  # fmt: skip
        session.add(hold)
        session.flush()
        return _info(hold, case_number)

    info = decided(archive, actor, Action.RETENTION, "hold add", add, about=about)
    if info is None:
        raise NotFound(f"no case {number}" if number else f"no document {document_id}")
    return dataclasses.replace(info, objects=_mirror(archive, target[0], document_id))


def _target(
    session: Session, number: str | None, document_id: uuid.UUID | None
) -> tuple[int | None, str | None]:
    """(case id, case number) of the hold's target; (None, …) when it does not exist."""
    if document_id is not None:
        row = session.execute(
            select(Case.id, Case.case_number)
            .join(Document, Document.case_id == Case.id)
            .where(Document.id == document_id)
        ).first()
        return (row[0], row[1]) if row else (None, None)
    return session.scalar(select(Case.id).where(Case.case_number == number)), number


def release_hold(archive: Archive, actor: Actor, hold_id: int) -> HoldInfo:
    hold: LegalHold | None = None

    def about(session: Session) -> About:
        nonlocal hold
        hold = session.get(LegalHold, hold_id)
        number = session.scalar(select(Case.case_number).where(Case.id == hold.case_id)) if hold else None
        doc = str(hold.document_id) if hold and hold.document_id else None
        return About(case_number=number, document_id=doc, detail=f"hold release {hold_id}")

    def release(session: Session, _decision: Decision) -> HoldInfo | None:
        if hold is None:
            return None
        if hold.released_at is not None:
            raise InvalidInput(f"hold {hold_id} was released already ({hold.released_at:%Y-%m-%d})")
        hold.released_at = datetime.now(UTC)
        hold.released_by = actor.effective
        number = session.scalar(select(Case.case_number).where(Case.id == hold.case_id))
        return _info(hold, number)

    info = decided(archive, actor, Action.RETENTION, "hold release", release, about=about)
    if info is None:
        raise NotFound(f"no hold {hold_id}")
    assert hold is not None
    return dataclasses.replace(info, objects=_mirror(archive, hold.case_id, hold.document_id))


def _mirror(archive: Archive, case_id: int | None, document_id: uuid.UUID | None) -> LockOutcome | None:
    """Mirror the holds onto the objects of the hold's documents where the store has Object Lock (see
    ekakte.retention.worm), and say what the store took. The hold is in force in ekakte either way; what
    the store did not take, the next sweep tells it first."""
    if document_id is not None:
        outcome = sync_object_locks(archive, [document_id])
    else:
        outcome = sync_object_locks(archive, case_id=case_id)
    return outcome if not outcome.ok or archive.store.object_lock() else None


def list_holds(
    archive: Archive,
    actor: Actor,
    *,
    include_released: bool = False,
    limit: int | None = None,
    after: str | None = None,
) -> Page[HoldInfo]:
    """The holds in force (or all), oldest first; `limit` a page, `after` the cursor of the one before."""
    check_limit(limit)
    last = paging.decode("holds", after, [int])[0] if after else 0

    def read(session: Session, _decision: Decision) -> Page[HoldInfo]:
        stmt = (
            select(LegalHold, Case.case_number)
            .outerjoin(Case, Case.id == LegalHold.case_id)
            .where(LegalHold.id > last)
            .order_by(LegalHold.id)
        )
        if not include_released:
            stmt = stmt.where(LegalHold.released_at.is_(None))
        if limit is not None:
            stmt = stmt.limit(limit + 1)
        rows = [_info(h, n) for h, n in session.execute(stmt)]
        return paging.cut("holds", rows, limit, lambda h: [h.id])

    return decided(
        archive, actor, Action.RETENTION, "hold list", read, about=About(detail="hold list"), reads_only=True
    )
