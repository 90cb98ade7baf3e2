"""An open archive: settings, database engine and object store, and its units of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ekakte.config import Settings
from ekakte.db.schema import check_schema
from ekakte.db.session import READ_ONLY, database_errors, make_engine, session_factory
from ekakte.storage import ObjectStore, open_store


@dataclass
class Archive:
    settings: Settings
    engine: Engine
    store: ObjectStore
    _sessions: sessionmaker[Session] = field(init=False, repr=False)
    _readers: sessionmaker[Session] = field(init=False, repr=False)
    # The process's appender of audit entries for this archive (ekakte.access makes it on first use).
    audit_appender: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._sessions = session_factory(self.engine)
        self._readers = session_factory(self.engine, read_only=True)

    @classmethod
    def open(cls, settings: Settings) -> Archive:
        """Connect and check that the schema is the one this code needs (SchemaError otherwise)."""
        engine = make_engine(settings.database_url)
        try:
            with (
                database_errors(settings.database_url),
                engine.execution_options(**{READ_ONLY: True}).connect() as conn,
            ):
                check_schema(conn)
            return cls(settings, engine, open_store(settings))
        except BaseException:
            engine.dispose()
            raise

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One short unit of work: committed when the block ends, rolled back if it raises."""
        with database_errors(self.settings.database_url), self._sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A unit of work that only reads; on SQLite it does not wait for (or block) writers."""
        with database_errors(self.settings.database_url), self._readers.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
