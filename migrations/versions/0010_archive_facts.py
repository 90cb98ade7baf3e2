"""Archive facts: what the archive remembers about itself (who was made its first admin, which protocol key
it uses), so that a second `init` or a host with another key is refused instead of believed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    facts = op.create_table(
        "archive_facts",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_archive_facts"),
    )
    # An archive that already has principals was bootstrapped before this revision: `init` must not
    # make anyone admin in it again, whatever roles are left.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM principals")).scalar():
        op.bulk_insert(
            facts,
            [{"name": "bootstrap", "value": "before revision 0010", "recorded_at": datetime.now(UTC)}],
        )


def downgrade() -> None:
    op.drop_table("archive_facts")
