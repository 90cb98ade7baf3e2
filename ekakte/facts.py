"""What the archive remembers about itself (table archive_facts): facts are written once, never changed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ekakte.db.dialect import insert_or_ignore
from ekakte.db.models import ArchiveFact

BOOTSTRAP = "bootstrap"  # the first admin's name, written by the one `init` that made it
PROTOCOL_KEY = "protocol_key"  # the fingerprint of the deletion protocol's key


def fact(session: Session, name: str) -> str | None:
    value: str | None = session.scalar(select(ArchiveFact.value).where(ArchiveFact.name == name))
    return value


def remember(session: Session, name: str, value: str) -> str:
    """Record `value` unless the fact is known already; the value that stands afterwards (a concurrent
    first writer's wins, so two hosts never each believe their own)."""
    session.execute(
        insert_or_ignore(session, ArchiveFact, ["name"]).values(
            name=name, value=value, recorded_at=datetime.now(UTC)
        )
    )
    stored = fact(session, name)
    assert stored is not None
    return stored
