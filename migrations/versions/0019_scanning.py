"""Replacement scanning (TR-RESISCAN): the scan protocol, the second person's check, the sealed manifests,
the searchable PDF renditions, and what the OCR worker learns of each page.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06

- scan_files: one line of a batch's scan protocol per file the batch met: its name, SHA-256, size and
  pages, and what became of it (stored, already stored, refused with the reason, split as a stack).
- scan_records: per stored document, what its transfer note (Transfervermerk) says: who scanned it, when,
  at which station and settings, each page's resolution and colour mode as read from the images, the
  anomalies found, the blank pages removed. No foreign key: the record outlives the document.
- scan_checks: the second person's check of a batch: who took it on and when, the sample drawn then, and
  once recorded, passed or failed, when, and the note. Only the taker sees the sample's pages, and only
  until the check is recorded.
- scan_seals: the batch's manifest (canonical JSON of its protocol, transfer notes and hashes), signed with
  the archive's Ed25519 key and chained to the previous seal by the manifest's SHA-256.
- renditions: the searchable PDF stored beside a scanned document (its key, SHA-256, size, conformance).
- ix_audit_log_scan_checks: the audit entries of checks (each names its seal), for verify; partial, so
  it holds only them however long the trail grows.
- pages.blank: whether the OCR worker found the page blank (NULL: not looked at).
- pages.layer: tesseract's text-only PDF page, kept until the document's last page is read and the
  rendition is made from all of them; then cleared.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scan_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=1000), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("page_count", sa.Integer(), nullable=True),
        sa.Column("document_id", sa.Uuid(), nullable=True),
        sa.Column("stack_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["import_batches.id"], name="fk_scan_files_batch_id_import_batches"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_scan_files"),
    )
    op.create_index("ix_scan_files_batch_id", "scan_files", ["batch_id", "id"])
    op.create_table(
        "scan_records",
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("stack_id", sa.Uuid(), nullable=True),
        sa.Column("first_page", sa.Integer(), nullable=True),
        sa.Column("scanned_at", _TIME, nullable=False),
        sa.Column("scanned_by", sa.String(length=100), nullable=False),
        sa.Column("station", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=1000), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=True),
        sa.Column("pages", sa.Text(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("anomalies", sa.Text(), nullable=False),
        sa.Column("removed", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("document_id", name="pk_scan_records"),
    )
    op.create_index("ix_scan_records_batch_id", "scan_records", ["batch_id", "scanned_at"])
    op.create_table(
        "scan_checks",
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("checked_by", sa.String(length=100), nullable=False),
        sa.Column("checked_at", _TIME, nullable=True),
        sa.Column("result", sa.String(length=20), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("sample", sa.Text(), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["import_batches.id"], name="fk_scan_checks_batch_id_import_batches"
        ),
        sa.PrimaryKeyConstraint("batch_id", name="pk_scan_checks"),
    )
    op.create_table(
        "scan_seals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("sealed_at", _TIME, nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("previous", sa.String(length=64), nullable=True),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scan_seals"),
        sa.UniqueConstraint("batch_id", name="uq_scan_seals_batch_id"),
        sa.UniqueConstraint("previous", name="uq_scan_seals_previous"),
    )
    op.create_table(
        "renditions",
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("made_at", _TIME, nullable=False),
        sa.Column("engine", sa.String(length=60), nullable=True),
        sa.Column("conformance", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name="fk_renditions_document_id_documents", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("document_id", "kind", name="pk_renditions"),
        sa.UniqueConstraint("storage_key", name="uq_renditions_storage_key"),
    )
    _checks = sa.text("action = 'scan.check'")
    op.create_index(
        "ix_audit_log_scan_checks", "audit_log", ["id"], postgresql_where=_checks, sqlite_where=_checks
    )
    op.add_column("pages", sa.Column("blank", sa.Boolean(), nullable=True))
    op.add_column("pages", sa.Column("layer", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # Both dialects drop a column in place (SQLite since 3.35); a batch would copy the pages table and
    # lose its full-text triggers.
    op.execute("ALTER TABLE pages DROP COLUMN layer")
    op.execute("ALTER TABLE pages DROP COLUMN blank")
    op.drop_index("ix_audit_log_scan_checks", table_name="audit_log")
    op.drop_table("renditions")

    op.drop_table("scan_seals")
    op.drop_table("scan_checks")
    op.drop_index("ix_scan_records_batch_id", table_name="scan_records")
    op.drop_table("scan_records")
    op.drop_index("ix_scan_files_batch_id", table_name="scan_files")
    op.drop_table("scan_files")
