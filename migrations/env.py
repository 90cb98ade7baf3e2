"""Alembic environment: runs on a connection ekakte hands over, or on EKAKTE_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from ekakte.config import load_settings
from ekakte.db.models import Base
from ekakte.db.schema import include_in_autogenerate
from ekakte.db.session import make_engine

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_in_autogenerate,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or load_settings().database_url
    engine = make_engine(url, create=True)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("ekakte migrations run online only: use `ekakte db upgrade`")
run_migrations_online()
