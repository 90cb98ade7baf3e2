"""The audit trail refuses TRUNCATE on PostgreSQL, as it refuses UPDATE and DELETE.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

Migration 0002 made audit_log append-only with row triggers (BEFORE UPDATE OR DELETE … FOR EACH ROW).
TRUNCATE fires no row triggers: `TRUNCATE audit_log` emptied the trail, and `ekakte audit verify` then
found an intact chain of the entries written since. A statement-level BEFORE TRUNCATE trigger raises the
same error. It is an ordinary trigger, not ENABLE ALWAYS: the table's owner (who may drop it anyway) and
superusers (session_replication_role = replica, as the tests' reset does) can still pass it; the archive's
own role is neither (docs/configuration.md, "Database roles"), and what those who are can do is found by
the anchors of `ekakte audit anchor`.
SQLite has no TRUNCATE: its "DELETE FROM audit_log" without WHERE (the truncate optimisation) is off for a
table with a DELETE trigger, so 0002's row trigger already refuses it. Nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # 0002's function raises whatever fired it; a statement trigger may call it just as well.
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log"
            " FOR EACH STATEMENT EXECUTE FUNCTION ekakte_audit_log_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
