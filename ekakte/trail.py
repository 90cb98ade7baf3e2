"""What auditors read: the audit trail, filtered, and the check of its hash chain."""

from __future__ import annotations

from datetime import date

from ekakte import audit
from ekakte.access import Action, gate, refuse
from ekakte.actor import Actor
from ekakte.archive import Archive


def _authorize(archive: Archive, actor: Actor, what: str, case_number: str | None = None) -> None:
    with archive.transaction() as session:
        decision = gate(session, actor, Action.AUDIT_READ, case_number=case_number, detail=what)
    if not decision.allowed:
        raise refuse(what)


def audit_entries(
    archive: Archive,
    actor: Actor,
    *,
    case_number: str | None = None,
    user: str | None = None,
    since: date | None = None,
    limit: int = 1000,
) -> list[audit.AuditRecord]:
    """Entries, newest first. Reading the trail is itself audited."""
    number = archive.settings.case_number(case_number) if case_number else None
    _authorize(archive, actor, "audit show", number)
    with archive.reading() as session:
        return audit.query(session, case_number=number, user=user, since=since, limit=limit)


def verify_audit_trail(archive: Archive, actor: Actor) -> audit.ChainReport:
    _authorize(archive, actor, "audit verify")
    return audit.verify_chain(archive.reading)
