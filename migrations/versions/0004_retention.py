"""Retention: versioned rule sets, each document's due date, legal holds, the deletion protocol.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "retention_rule_sets",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_retention_rule_sets"),
    )
    # Plain ADD COLUMN, no batch rebuild: rebuilding documents on SQLite would drop the table, and with
    # foreign keys on, that cascades to every page.
    op.add_column("documents", sa.Column("document_date", sa.Date(), nullable=True))
    op.add_column("documents", sa.Column("due_on", sa.Date(), nullable=True))
    op.add_column("documents", sa.Column("retention_rule", sa.String(length=100), nullable=True))
    op.add_column("documents", sa.Column("retention_version", sa.Integer(), nullable=True))
    # What the object store was last told (S3 Object Lock): retained through this day, under legal hold.
    op.add_column("documents", sa.Column("locked_until", sa.Date(), nullable=True))
    op.add_column(
        "documents", sa.Column("object_hold", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    # (due_on, id): the plan's and the sweep's order, so both read the index in order instead of sorting.
    op.create_index("ix_documents_due_on", "documents", ["due_on", "id"])
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("document_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_legal_holds_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_legal_holds"),
        sa.CheckConstraint("(case_id IS NULL) <> (document_id IS NULL)", name="ck_legal_holds_one_target"),
    )
    op.create_index("ix_legal_holds_case_id", "legal_holds", ["case_id"])
    op.create_index("ix_legal_holds_document_id", "legal_holds", ["document_id"])
    op.create_table(
        "deletion_protocol",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("document_type", sa.String(length=64), nullable=False),
        sa.Column("case_hash", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_by", sa.String(length=100), nullable=False),
        sa.Column("sweep_id", sa.String(length=36), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("objects", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deletion_protocol"),
        sa.UniqueConstraint("document_id", name="uq_deletion_protocol_document_id"),
    )
    op.create_index("ix_deletion_protocol_deleted_at", "deletion_protocol", ["deleted_at"])


def downgrade() -> None:
    op.drop_index("ix_deletion_protocol_deleted_at", table_name="deletion_protocol")
    op.drop_table("deletion_protocol")
    op.drop_index("ix_legal_holds_document_id", table_name="legal_holds")
    op.drop_index("ix_legal_holds_case_id", table_name="legal_holds")
    op.drop_table("legal_holds")
    op.drop_index("ix_documents_due_on", table_name="documents")
    for column in (
        "object_hold",
        "locked_until",
        "retention_version",
        "retention_rule",
        "due_on",
        "document_date",
    ):
        op.drop_column("documents", column)
    op.drop_table("retention_rule_sets")
