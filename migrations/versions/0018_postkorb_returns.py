"""Documents the triage role sends back from the Postkorb to the scanning station.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06

- postkorb_returns: one row per document sent back (not this job centre's mail, a page to scan again, a
  letter for another authority): when, by whom, why, and what the station needs to find the paper (its
  station, operator, batch, file name, day of receipt, pages, SHA-256); deleted_at once the document's
  row, pages and object are gone (with a line in the deletion protocol); taken_back_at/taken_back_by once
  the station took the paper back. No foreign key: the row outlives the document.
- pages.codes: what ekakte's 2D reference codes on a document's first pages say (the case numbers the
  job centre's own letters carry), found by the OCR worker, read by the Postkorb's sort; NULL where no
  one looked (later pages, pages read before this revision).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "postkorb_returns",
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("returned_at", _TIME, nullable=False),
        sa.Column("returned_by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("station", sa.String(length=100), nullable=False),
        sa.Column("operator", sa.String(length=100), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("original_filename", sa.String(length=1000), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("deleted_at", _TIME, nullable=True),
        sa.Column("taken_back_at", _TIME, nullable=True),
        sa.Column("taken_back_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("document_id", name="pk_postkorb_returns"),
    )
    op.create_index("ix_postkorb_returns_station", "postkorb_returns", ["station", "returned_at"])
    op.add_column("pages", sa.Column("codes", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    # Both dialects drop a column in place (SQLite since 3.35); a batch would copy the pages table and
    # lose its full-text triggers.
    op.execute("ALTER TABLE pages DROP COLUMN codes")
    op.drop_index("ix_postkorb_returns_station", table_name="postkorb_returns")
    op.drop_table("postkorb_returns")
