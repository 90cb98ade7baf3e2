"""Where SQLite and PostgreSQL differ in what every module does: inserting unless present, writers
taking turns, a job that runs alone.

The other differences each live in one place of their own: the engines (SQLite's pragmas and BEGIN
IMMEDIATE) in db/session.py; column types and partial indexes in db/models.py; roles and grants
(PostgreSQL only) in db/grants.py; the upgrade's lock in db/migrate.py; the two text indexes and their
queries in search/ (one module per dialect); triggers and indexes in migrations/ (per dialect, as each
migration needs); the URLs in config.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Insert, text
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


@contextmanager
def exclusive_job(engine: Engine, key: int, lock_file: Path | None) -> Iterator[bool]:
    """Yields True if this process now runs the job alone, False if another one holds it already.

    PostgreSQL: a session-level advisory lock on a connection of its own, so that it holds across the
    job's many transactions and goes away with the process if it dies. SQLite: an exclusive flock on a
    file beside the database (also released by the kernel when the process dies).
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    conn.commit()
        return
    import fcntl

    assert lock_file is not None, "SQLite jobs lock a file beside the database"
    with lock_file.open("a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
