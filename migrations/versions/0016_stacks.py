"""Stacks of mail split at cover and separator sheets, and what each part became.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

- stacks: one row per scanned stack (PDF or multi-page TIFF) by its SHA-256: its file name, pages, the
  batch, station and operator that first imported it, and when every document in it was stored.
- stack_parts: the stack's page ranges (first_page..last_page) and what each is: a document (its id,
  SHA-256 and size, and the case, type and title from the cover sheet it followed), a cover or separator
  sheet (with what its code said), or a sheet's blank back. Sheets are recorded, not stored. No foreign
  key to documents: the row shows which pages of which scan became which document after it is gone.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "stacks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=1000), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("station", sa.String(length=100), nullable=False),
        sa.Column("operator", sa.String(length=100), nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["import_batches.id"], name="fk_stacks_batch_id_import_batches"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_stacks"),
        sa.UniqueConstraint("sha256", name="uq_stacks_sha256"),
    )
    op.create_index("ix_stacks_batch_id", "stacks", ["batch_id"])
    op.create_table(
        "stack_parts",
        sa.Column("stack_id", sa.Uuid(), nullable=False),
        sa.Column("first_page", sa.Integer(), nullable=False),
        sa.Column("last_page", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("case_number", sa.String(length=64), nullable=True),
        sa.Column("document_type", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("document_id", sa.Uuid(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["stack_id"], ["stacks.id"], name="fk_stack_parts_stack_id_stacks"),
        sa.PrimaryKeyConstraint("stack_id", "first_page", name="pk_stack_parts"),
    )
    op.create_index("ix_stack_parts_document_id", "stack_parts", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_stack_parts_document_id", table_name="stack_parts")
    op.drop_table("stack_parts")
    op.drop_index("ix_stacks_batch_id", table_name="stacks")
    op.drop_table("stacks")
