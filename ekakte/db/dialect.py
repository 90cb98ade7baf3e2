"""The one place where SQLite and PostgreSQL statements differ."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_or_ignore(session: Session, model: Any, conflict_columns: list[str]) -> Insert:
    """INSERT … ON CONFLICT (columns) DO NOTHING, in the session's dialect.

    Both dialects spell it the same in SQL but SQLAlchemy builds it from dialect-specific constructs;
    callers add `.values(...)` and, if they need to know whether a row was inserted, `.returning(...)`.
    """
    name = session.get_bind().dialect.name
    if name not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"unsupported database dialect {name}")
    module: Any = postgresql if name == "postgresql" else sqlite
    # The mapped Table, not the class: a Core insert skips the ORM's bulk-persistence machinery.
    stmt: Insert = module.insert(getattr(model, "__table__", model)).on_conflict_do_nothing(
        index_elements=conflict_columns
    )
    return stmt


_ADVISORY_XACT_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def serialize_writers(session: Session, key: int) -> None:
    """Make writers that call this with the same key take turns until their transactions end.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: nothing to do, its write transactions
    (BEGIN IMMEDIATE, see db/session.py) already run one at a time.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_ADVISORY_XACT_LOCK, {"key": key})
