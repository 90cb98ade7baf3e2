"""Which document types are restricted (health data): the archive's policy, kept in its database.

A document's `restricted` flag is what every read path asks (ekakte.documents, ekakte.search). This module
is the only place where a type's name is mapped to that flag: at import (`is_restricted_type`, in the
import's transaction) and when an admin changes the policy (`restrict_type` / `unrestrict_type`, which
re-mark the stored documents of the type in the same transaction). Names are compared case-folded here,
in Python, and nowhere else: SQL sees only the exact stored spellings that `fold` matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from ekakte import audit
from ekakte.access import About, Action, Decision, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.dialect import serialize_writers
from ekakte.db.models import Document, RestrictedType
from ekakte.errors import InvalidInput, shown
from ekakte.jsonable import AsJson

MAX_TYPE = 64


def fold(document_type: str) -> str:
    """The one comparison of type names: "Gutachten", "GUTACHTEN" and " gutachten" are one type."""
    return document_type.strip().casefold()


def is_restricted_type(session: Session, document_type: str) -> bool:
    """Whether a document of this type is restricted under the policy as the session sees it. Called by
    the import in the transaction that inserts the document, after it took the writers' lock that the
    policy's changes take too (so a change and an import never cross: see `_change`)."""
    found = session.scalar(
        select(RestrictedType.document_type).where(RestrictedType.document_type == fold(document_type))
    )
    return found is not None


@dataclass(frozen=True)
class TypePolicy(AsJson):
    """One restricted type: its folded name, who restricted it and when, and how many stored documents
    of it there are (all of them restricted)."""

    document_type: str
    added_at: datetime
    added_by: str
    documents: int


@dataclass(frozen=True)
class PolicyChange(AsJson):
    document_type: str  # folded
    restricted: bool  # the type's state afterwards
    changed: bool  # False: the type already was in that state
    documents: int  # stored documents whose flag was changed (re-marked)
    configured: bool  # whether the type is one of the configured document_types (imports accept it)


def list_types(archive: Archive, actor: Actor) -> list[TypePolicy]:
    """The restricted types. For admins, records managers and auditors; audited."""

    def read(session: Session, _decision: Decision) -> list[TypePolicy]:
        counts: dict[str, int] = {}
        for stored, n in session.execute(
            select(Document.document_type, func.count())
            .where(Document.restricted.is_(True))
            .group_by(Document.document_type)
        ):
            counts[fold(stored)] = counts.get(fold(stored), 0) + n
        return [
            TypePolicy(t.document_type, t.added_at, t.added_by, counts.get(t.document_type, 0))
            for t in session.scalars(select(RestrictedType).order_by(RestrictedType.document_type))
        ]

    return decided(archive, actor, Action.TYPE_LIST, "type list", read, reads_only=True)


def restrict_type(archive: Archive, actor: Actor, document_type: str) -> PolicyChange:
    """Make a type restricted, and every stored document of it (any spelling) with it. Admins only."""
    return _change(archive, actor, document_type, restricted=True)


def unrestrict_type(archive: Archive, actor: Actor, document_type: str) -> PolicyChange:
    """Lift the restriction of a type from the policy and from every stored document of it. Admins only."""
    return _change(archive, actor, document_type, restricted=False)


def _valid(document_type: str) -> str:
    folded = fold(document_type)
    if not folded or len(folded) > MAX_TYPE or any(ord(c) < 32 or c == "\x7f" for c in folded):
        raise InvalidInput(f"invalid document type {shown(document_type)}: at most {MAX_TYPE} characters")
    return folded


_SET_FLAG = (
    update(Document)
    .where(Document.document_type.in_(bindparam("spellings", expanding=True)))
    .where(Document.restricted != bindparam("flag"))
    .values(restricted=bindparam("flag"))
    .execution_options(synchronize_session=False)
)


def _change(archive: Archive, actor: Actor, document_type: str, *, restricted: bool) -> PolicyChange:
    """One transaction: the policy's row, the flag of every stored document of the type, the audit entry.

    The writers' lock comes first (PostgreSQL's advisory lock of the audit chain; SQLite has one writer):
    the import holds it from before it reads the policy until its document row is committed, so an import
    either sees the new policy or its document is among those re-marked here."""
    folded = _valid(document_type)
    verb = "restrict" if restricted else "unrestrict"
    configured = any(fold(t) == folded for t in archive.settings.document_types)

    def writers_first(session: Session) -> About:
        serialize_writers(session, audit.AUDIT_LOCK)
        return About(detail=f"{verb} type {folded}")

    def change(session: Session, _decision: Decision) -> PolicyChange:
        existing = session.get(RestrictedType, folded)
        if restricted and existing is None:
            session.add(
                RestrictedType(document_type=folded, added_at=datetime.now(UTC), added_by=actor.effective)
            )
        elif not restricted and existing is not None:
            session.execute(delete(RestrictedType).where(RestrictedType.document_type == folded))
        stored = session.scalars(select(Document.document_type).distinct()).all()
        spellings = [t for t in stored if fold(t) == folded]
        marked = 0
        if spellings:
            result: Any = session.execute(_SET_FLAG, {"spellings": spellings, "flag": restricted})
            marked = int(result.rowcount or 0)
        return PolicyChange(folded, restricted, (existing is None) == restricted, marked, configured)

    return decided(
        archive, actor, Action.TYPE_POLICY, f"type {verb}", change, about=writers_first,
        detail_after=lambda c: f"{verb} type {folded}: {c.documents} stored document(s) re-marked",
    )  # fmt: skip
