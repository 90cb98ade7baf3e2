"""The team inbox: the cases of the caller's teams that hold documents no one of the team has opened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from ekakte.access import About, Action, Decision, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import Case, Document, DocumentOpened, DocumentState, Team
from ekakte.jsonable import AsJson
from ekakte.paging import MAX_LIMIT, check_limit

DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class InboxCase(AsJson):
    """A case with new documents: how many, and when the newest of them was stored."""

    case_number: str
    team: str
    new: int
    newest: datetime


def team_inbox(archive: Archive, actor: Actor, *, limit: int = DEFAULT_LIMIT) -> list[InboxCase]:
    """The cases of the caller's teams with documents no one of the team has opened yet (read their
    content: `doc get`, `doc show --text`, a page image), newest first by their newest such document;
    at most `limit` cases. Restricted documents count only for callers with the health clearance, as
    they are shown only to them. For the content roles (caseworkers, team leads)."""
    check_limit(limit)
    limit = min(limit, MAX_LIMIT)

    def read(session: Session, decision: Decision) -> list[InboxCase]:
        subject = decision.subject
        assert subject is not None
        if not subject.team_ids:
            return []
        opened = exists().where(
            DocumentOpened.document_id == Document.id, DocumentOpened.team_id == Case.team_id
        )
        where = and_(
            Case.team_id.in_(sorted(subject.team_ids)),
            Document.state == DocumentState.STORED,
            ~opened,
        )
        if not subject.health_clearance:
            where = and_(where, Document.restricted.is_(False))
        newest = func.max(Document.created_at)
        rows = session.execute(
            select(Case.case_number, Team.name, func.count(Document.id), newest)
            .join(Document, Document.case_id == Case.id)
            .join(Team, Team.id == Case.team_id)
            .where(where)
            .group_by(Case.id, Case.case_number, Team.name)
            .order_by(newest.desc(), Case.case_number)
            .limit(limit)
        )
        return [InboxCase(number, team, count, at) for number, team, count, at in rows]

    return decided(archive, actor, Action.INBOX, "inbox", read, about=About(detail="inbox"), reads_only=True)
