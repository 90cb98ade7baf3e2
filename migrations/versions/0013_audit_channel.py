"""Audit entries record how the request came in: channel, client address, request id.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

Three nullable columns on audit_log. The entries written before keep NULL in them: their hashes were made
without these fields, and `audit verify` checks them so (ekakte/audit.py, _fields); every entry written
since has a channel and a hash that covers all three. Nothing is rewritten: the table's UPDATE and DELETE
triggers (0002, 0008) stay as they are and are not fired, and adding a nullable column without a default
only changes the catalogue on both databases (instant, whatever the trail's length). Plain ALTER TABLE on
SQLite too, not batch mode: a batch would copy the table and drop its triggers with the old one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("channel", 10), ("client_address", 64), ("request_id", 64))


def upgrade() -> None:
    for name, length in _COLUMNS:
        op.add_column("audit_log", sa.Column(name, sa.String(length=length), nullable=True))


def downgrade() -> None:
    # The entries written since lose their request's fields, and with them what their hashes cover:
    # `audit verify` then names the first of them as changed. SQLite drops a column in place (3.35 and
    # later) as long as no index or trigger names it.
    for name, _length in reversed(_COLUMNS):
        op.drop_column("audit_log", name)
