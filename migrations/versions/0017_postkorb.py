"""The Postkorb: documents that came without a case, until the triage role assigns them; and which
documents a case's team has opened (the rest are new to it).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

- postkorb: one row per document that arrived without a case (pages before a stack's first cover sheet,
  after a separator sheet): when, why, and once assigned, by whom, to which case and how. The document
  itself waits in the case numbered "Postkorb" (created on first use, never given a team; no input can
  name it, since case numbers are stored in upper case). No foreign key to documents: the row is the
  record of how the document got its case. sorted_at and finding: when the sort (which reads a case
  number in the first pages' text) looked at it, and what it found when it did not assign it.
- document_opened: that someone of a team opened (read the content of) a document of its case, first
  when and who. A document of a case without such a row for the case's team is new to the team. No
  foreign key: a row of a deleted document is never asked for.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "postkorb",
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("arrived_at", _TIME, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("decided_at", _TIME, nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("case_number", sa.String(length=64), nullable=True),
        sa.Column("how", sa.String(length=500), nullable=True),
        sa.Column("sorted_at", _TIME, nullable=True),
        sa.Column("finding", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("document_id", name="pk_postkorb"),
    )
    op.create_index("ix_postkorb_state_arrived", "postkorb", ["state", "arrived_at", "document_id"])
    op.create_table(
        "document_opened",
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("opened_at", _TIME, nullable=False),
        sa.Column("opened_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("document_id", "team_id", name="pk_document_opened"),
    )


def downgrade() -> None:
    op.drop_table("document_opened")
    op.drop_index("ix_postkorb_state_arrived", table_name="postkorb")
    op.drop_table("postkorb")
