"""What auditors read: the audit trail, filtered, the check of its hash chain, and its anchors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from ekakte import anchors, audit, paging
from ekakte.access import About, Action, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.errors import IntegrityError
from ekakte.paging import Page, check_limit


def audit_entries(
    archive: Archive,
    actor: Actor,
    *,
    case_number: str | None = None,
    user: str | None = None,
    since: date | None = None,
    after: str | None = None,
    limit: int = 1000,
) -> Page[audit.AuditRecord]:
    """One page of entries, newest first: up to `limit` of them, and with `after` (the cursor of the page
    before) the older ones that follow. Each page read is itself audited."""
    check_limit(limit)
    before = paging.decode("audit", after, [int])[0] if after else None
    number = archive.settings.case_number(case_number) if case_number else None
    what = "audit show" if before is None else f"audit show before entry {before}"
    decided(archive, actor, Action.AUDIT_READ, "audit show", about=About(case_number=number, detail=what))
    with archive.reading() as session:
        rows = audit.query(session, case_number=number, user=user, since=since, after=before, limit=limit + 1)
    return paging.cut("audit", rows, limit, lambda e: [e.id])


def verify_audit_trail(archive: Archive, actor: Actor) -> audit.ChainReport:
    """The chain checked entry by entry, and against every anchor written so far."""
    decided(archive, actor, Action.AUDIT_READ, "audit verify", about=About(detail="audit verify"))
    return audit.verify_chain(archive.reading, anchors.read_anchors(archive))


@dataclass(frozen=True)
class Anchored:
    anchor: audit.Anchor
    where: str


def anchor_audit_trail(archive: Archive, actor: Actor) -> Anchored:
    """Write the trail's head (entry count, last hash, time) outside the database.

    Order: the entry for this anchoring is committed first, so the anchor covers it; the trail is then
    verified (against the earlier anchors too), since anchoring a tampered trail would bless it; only then
    is the anchor written. A crash after the entry leaves an entry without an anchor, which is harmless.
    """
    decided(archive, actor, Action.AUDIT_ANCHOR, "audit anchor", about=About(detail="audit anchor"))
    report = audit.verify_chain(archive.reading, anchors.read_anchors(archive))
    if not report.ok:
        raise IntegrityError(f"the audit trail is broken, not anchored: {report.problem}")
    anchor = audit.Anchor(datetime.now(UTC), report.entries, report.head, report.head_id)
    return Anchored(anchor, anchors.write_anchor(archive, anchor))
