"""The privileges of the archive's own PostgreSQL role: what `ekakte db grant ROLE` gives it.

The schema belongs to an owner role that runs `ekakte db upgrade`; ekakte itself runs under a role that
owns nothing, so that it can neither drop the audit trail's triggers nor change its entries: a role may
always ALTER (and so disable the triggers of) what it owns, while privileges it lacks are refused by the
database. The owner grants, and running the command again after each upgrade brings the privileges in
line with the schema (everything of the role's is revoked first, then granted again):
  audit_log, deletion_protocol  SELECT, INSERT: the trail and the Löschprotokoll are only ever added to
  alembic_version               SELECT: the schema check of every command
  every other table             SELECT, INSERT, UPDATE, DELETE (imports, OCR, retention, users all
                                change rows; the sweep deletes documents and pages)
  the schema, its sequences     USAGE (serial ids)
No TRUNCATE, REFERENCES or TRIGGER anywhere, and no CREATE: the role cannot add objects to own.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from ekakte import audit
from ekakte.actor import Actor
from ekakte.config import Settings
from ekakte.db.schema import check_schema
from ekakte.db.session import database_errors, make_engine
from ekakte.errors import InvalidInput

APPEND_ONLY = ("audit_log", "deletion_protocol")
READ_ONLY = ("alembic_version",)
_ALL = "SELECT, INSERT, UPDATE, DELETE"


@dataclass(frozen=True)
class Grants:
    role: str
    tables: dict[str, str]  # table -> privileges granted


def _refuse_unfit(conn: Connection, role: str) -> None:
    """A role that is superuser, owns anything here or may act as audit_log's owner would pass every
    guard: granting to it would only pretend."""
    row = conn.execute(
        text(
            "SELECT r.rolsuper, r.rolname = current_user,"
            " pg_has_role(r.oid, (SELECT relowner FROM pg_class WHERE oid = 'audit_log'::regclass), 'USAGE'),"
            " (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid"
            "  AND c.relnamespace = current_schema()::regnamespace)"
            " FROM pg_roles r WHERE r.rolname = :role"
        ),
        {"role": role},
    ).one_or_none()
    if row is None:
        raise InvalidInput(f"there is no database role {role!r}: create it first (CREATE ROLE … LOGIN)")
    superuser, is_me, as_owner, owned = row
    if is_me:
        raise InvalidInput(f"{role!r} is the role running this command: the archive runs under another one")
    if superuser:
        raise InvalidInput(
            f"{role!r} is a superuser: the archive must run under a role with no rights of its own"
        )
    if as_owner or owned:
        raise InvalidInput(
            f"{role!r} owns objects of the schema or is a member of its owner: it could drop the audit"
            " trail's triggers; run the archive under a role that owns nothing"
        )


def grant_archive_role(conn: Connection, role: str) -> Grants:
    """Revoke whatever `role` holds on the schema's tables and sequences, then grant the minimum.
    Run by the schema's owner, in one transaction (`conn`)."""
    if conn.dialect.name != "postgresql":
        raise InvalidInput("database roles are PostgreSQL's: the embedded archive (SQLite) has none")
    _refuse_unfit(conn, role)
    quote = conn.dialect.identifier_preparer.quote
    who = quote(role)
    schema = quote(str(conn.execute(text("SELECT current_schema()")).scalar_one()))
    tables = conn.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
    ).scalars()
    conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {who}"))
    conn.execute(text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {who}"))
    conn.execute(text(f"REVOKE CREATE ON SCHEMA {schema} FROM {who}"))
    granted: dict[str, str] = {}
    for table in tables:
        privileges = "SELECT, INSERT" if table in APPEND_ONLY else "SELECT" if table in READ_ONLY else _ALL
        conn.execute(text(f"GRANT {privileges} ON TABLE {schema}.{quote(table)} TO {who}"))
        granted[table] = privileges
    conn.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {who}"))
    conn.execute(text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {who}"))
    return Grants(role, granted)


def grant(settings: Settings, actor: Actor, role: str) -> Grants:
    """`ekakte db grant ROLE`: as the schema's owner (the configured database URL's role), give `role`
    the archive's privileges; audited (`db.grant`) in the same transaction."""
    engine = make_engine(settings.database_url)
    try:
        with database_errors(settings.database_url), engine.begin() as conn:
            check_schema(conn)
            grants = grant_archive_role(conn, role)
            with Session(conn) as session:
                audit.append(
                    session,
                    actor,
                    "db.grant",
                    "allowed",
                    reason=f"grant {role}: " + "; ".join(f"{t} {p}" for t, p in grants.tables.items()),
                )
                session.flush()
    finally:
        engine.dispose()
    return grants
