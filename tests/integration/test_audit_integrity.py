"""The audit trail holds against whoever has database access: no TRUNCATE, a role that can only append,
anchors outside the database, and search input that cannot lose its own entry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import Settings
from ekakte.db.models import AuditEntry
from ekakte.principals import add_user
from ekakte.trail import verify_audit_trail
from tests.conftest import ADMIN

MakeScan = Callable[..., Path]
AUDITOR = Actor("auditor")


def _execute(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _entries(archive: Archive) -> int:
    with archive.reading() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


@pytest.fixture
def auditor(archive: Archive) -> Actor:
    add_user(archive, ADMIN, AUDITOR.name, ["auditor"])
    return AUDITOR


def test_the_database_refuses_to_empty_the_audit_trail(settings: Settings, archive: Archive) -> None:
    """TRUNCATE on PostgreSQL (it fires no row triggers); SQLite's DELETE without WHERE, its truncate."""
    from sqlalchemy.exc import DatabaseError

    before = _entries(archive)
    assert before > 0
    empty = "TRUNCATE audit_log" if settings.database_url.startswith("postgresql") else "DELETE FROM audit_log"
    with pytest.raises(DatabaseError, match="append-only"):
        _execute(settings.database_url, empty)
    assert _entries(archive) == before
