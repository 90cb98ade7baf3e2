"""Engines for the two dialects and the unit of work every library function writes through."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ekakte.errors import ConfigError, DatabaseError, SchemaError

# Execution option marking a unit of work that only reads.
READ_ONLY = "ekakte_read_only"


def sqlite_path(url: str) -> Path | None:
    """The database file of a sqlite URL (None for in-memory databases and other dialects)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def make_engine(url: str, *, create: bool = False) -> Engine:
    """An engine for `url`. For SQLite, `create=False` refuses to conjure an empty database file."""
    path = sqlite_path(url)
    if path is not None:
        if not _database_file_exists(path) and not create:
            raise SchemaError(f"there is no archive database at {path}", code="no-database")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})
        _tune_sqlite(engine)
        return engine
    # As many connections kept as a server process runs requests at once (ekakte.service: THREADS): a pool
    # smaller than that opens and closes connections all the time under load.
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, connect_args={"connect_timeout": 10}
    )


def _database_file_exists(path: Path) -> bool:
    """Whether the SQLite file is there; ConfigError when this OS account may not use it (the embedded
    archive belongs to one account: "no archive here, run init" would be the wrong advice)."""
    try:
        path.stat()
        usable = os.access(path, os.R_OK | os.W_OK)
    except FileNotFoundError:
        return False
    except PermissionError:
        usable = False
    if not usable:
        raise ConfigError(
            f"cannot open the archive database {path}: permission denied. The embedded archive belongs to"
            " the one OS account that runs it; use it as that account (or through the archive's service)"
        )
    return True


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see the "begin" hook below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: an import acknowledged to the scanning station must survive a power cut.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers BEGIN IMMEDIATE: they take the write lock up front, so two importers queue on
        # busy_timeout instead of failing with "database is locked" when a read turns into a write.
        # Readers (READ_ONLY) begin deferred and, in WAL mode, never wait for a writer.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return sessionmaker(bind, expire_on_commit=False)


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn driver failures into one-line DatabaseErrors that name the (password-masked) database."""
    try:
        yield
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        # The driver's first line; never SQLAlchemy's own text, which quotes the statement's parameters.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DatabaseError(f"database {shown} failed: {reason}") from exc
