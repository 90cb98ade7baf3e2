"""What auditors read: the audit trail, filtered, the check of its hash chain, and its anchors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from ekakte import anchors, audit
from ekakte.access import Action, gate, refuse
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.errors import IntegrityError, InvalidInput


def _authorize(
    archive: Archive,
    actor: Actor,
    what: str,
    case_number: str | None = None,
    action: Action = Action.AUDIT_READ,
) -> None:
    with archive.transaction() as session:
        decision = gate(session, actor, action, case_number=case_number, detail=what)
    if not decision.allowed:
        raise refuse(what)


# The most entries one call returns: a page is held in memory whole, by the library and by whoever
# renders it.
MAX_PAGE = 10_000


def audit_entries(
    archive: Archive,
    actor: Actor,
    *,
    case_number: str | None = None,
    user: str | None = None,
    since: date | None = None,
    after: int | None = None,
    limit: int = 1000,
) -> list[audit.AuditRecord]:
    """One page of entries, newest first: up to `limit` of them, and with `after` (the id of the last
    entry of the page before) the ones older than that. A page shorter than `limit` is the last. Each
    page read is itself audited."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"a page of the audit trail holds 1 to {MAX_PAGE} entries, not {limit}")
    if after is not None and after < 1:
        raise InvalidInput(f"there is no audit entry {after} to continue after")
    number = archive.settings.case_number(case_number) if case_number else None
    _authorize(archive, actor, "audit show" if after is None else f"audit show before entry {after}", number)
    with archive.reading() as session:
        return audit.query(session, case_number=number, user=user, since=since, after=after, limit=limit)


def verify_audit_trail(archive: Archive, actor: Actor) -> audit.ChainReport:
    """The chain checked entry by entry, and against every anchor written so far."""
    _authorize(archive, actor, "audit verify")
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
    _authorize(archive, actor, "audit anchor", action=Action.AUDIT_ANCHOR)
    report = audit.verify_chain(archive.reading, anchors.read_anchors(archive))
    if not report.ok:
        raise IntegrityError(f"the audit trail is broken, not anchored: {report.problem}")
    anchor = audit.Anchor(datetime.now(UTC), report.entries, report.head, report.head_id)
    return Anchored(anchor, anchors.write_anchor(archive, anchor))
