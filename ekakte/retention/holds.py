"""Legal holds (Löschsperren): on a case or one document, with a reason, open-ended or until a day."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ekakte.access import Action, gate, refuse
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import Case, Document, LegalHold
from ekakte.errors import InvalidInput, NotFound, shown
from ekakte.retention.worm import LockOutcome, sync_object_locks

MAX_REASON = 500


@dataclass(frozen=True)
class HoldInfo:
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

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case_number": self.case_number,
            "document_id": str(self.document_id) if self.document_id else None,
            "reason": self.reason,
            "until": self.until.isoformat() if self.until else None,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "released_at": self.released_at.isoformat() if self.released_at else None,
            "released_by": self.released_by,
            "active": self.active,
            **({"objects": self.objects.as_json()} if self.objects is not None else {}),
        }


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
        raise InvalidInput("a hold is on a case (--case) or on a document (--doc), not both and not neither")
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
        raise InvalidInput(f"--until {until.isoformat()} lies in the past")
    number = archive.settings.case_number(case_number) if case_number else None
    with archive.transaction() as session:
        case_id, number = _target(session, number, document_id)
        decision = gate(
            session, actor, Action.RETENTION, case_number=number,
            document_id=str(document_id) if document_id else None, detail=f"hold add: {reason}",
        )  # fmt: skip
        info = None
        if decision.allowed and (case_id is not None or document_id is not None):
            hold = LegalHold(
                case_id=case_id if document_id is None else None,
                document_id=document_id,
                reason=reason,
                until=until,
                created_at=datetime.now(UTC),
                created_by=actor.effective,
            )
            session.add(hold)
            session.flush()
            info = _info(hold, number)
    if not decision.allowed:
        raise refuse("hold add")
    if info is None:
        raise NotFound(f"no case {number}" if number else f"no document {document_id}")
    return dataclasses.replace(info, objects=_mirror(archive, case_id, document_id))


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
    with archive.transaction() as session:
        hold = session.get(LegalHold, hold_id)
        number = session.scalar(select(Case.case_number).where(Case.id == hold.case_id)) if hold else None
        decision = gate(
            session, actor, Action.RETENTION, case_number=number,
            document_id=str(hold.document_id) if hold and hold.document_id else None,
            detail=f"hold release {hold_id}",
        )  # fmt: skip
        info = None
        if decision.allowed and hold is not None:
            if hold.released_at is not None:
                raise InvalidInput(f"hold {hold_id} was released already ({hold.released_at:%Y-%m-%d})")
            hold.released_at = datetime.now(UTC)
            hold.released_by = actor.effective
            info = _info(hold, number)
            target = (hold.case_id, hold.document_id)
    if not decision.allowed:
        raise refuse("hold release")
    if info is None:
        raise NotFound(f"no hold {hold_id}")
    return dataclasses.replace(info, objects=_mirror(archive, *target))


def _mirror(archive: Archive, case_id: int | None, document_id: uuid.UUID | None) -> LockOutcome | None:
    """Mirror the holds onto the objects of the hold's documents where the store has Object Lock (see
    ekakte.retention.worm), and say what the store took. The hold is in force in ekakte either way; what
    the store did not take, the next sweep tells it first."""
    if document_id is not None:
        outcome = sync_object_locks(archive, [document_id])
    else:
        outcome = sync_object_locks(archive, case_id=case_id)
    return outcome if not outcome.ok or archive.store.object_lock() else None


def list_holds(archive: Archive, actor: Actor, *, include_released: bool = False) -> list[HoldInfo]:
    with archive.transaction() as session:
        decision = gate(session, actor, Action.RETENTION, detail="hold list")
        holds: list[HoldInfo] = []
        if decision.allowed:
            stmt = (
                select(LegalHold, Case.case_number)
                .outerjoin(Case, Case.id == LegalHold.case_id)
                .order_by(LegalHold.id)
            )
            if not include_released:
                stmt = stmt.where(LegalHold.released_at.is_(None))
            holds = [_info(h, n) for h, n in session.execute(stmt)]
    if not decision.allowed:
        raise refuse("hold list")
    return holds
