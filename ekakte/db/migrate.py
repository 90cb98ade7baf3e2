"""Apply the Alembic migrations shipped as ekakte.migrations (Alembic is imported only here)."""

from __future__ import annotations

from importlib.resources import files

from sqlalchemy import Engine, text

from ekakte.db.schema import current_revision
from ekakte.db.session import database_errors


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Bring the schema to head; returns (revision before, revision after)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(files("ekakte.migrations")))
    with database_errors(str(engine.url)), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two hosts running `db upgrade` at once must not both apply the same revision.
            conn.execute(text("SELECT pg_advisory_xact_lock(7284061)"))
        before = current_revision(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        after = current_revision(conn)
    return before, after
