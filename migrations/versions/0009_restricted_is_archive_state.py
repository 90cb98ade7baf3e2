"""Whether a document is restricted is archive state: documents.restricted and the restricted_types table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10

Until now each caller's configuration (`restricted_types`, from the environment or a config file of the
caller's choosing) decided at read time which types were health data, and the read paths compared type
names in different ways (case-folded in Python, exactly in SQL). Now each document carries the flag,
set at import from the table restricted_types (names case-folded) and changed only by `ekakte type
restrict` / `unrestrict`, which re-mark the stored documents in the same transaction.

The table starts with the default policy, Gutachten; existing documents are marked from it the same way
the use case marks them (ekakte.policy): the stored spellings of the types are read, folded with
str.casefold in Python (one folding for every path; SQL's lower() differs between the dialects and from
casefold), and the matching spellings are marked exactly. A deployment that had configured other
restricted types runs `ekakte type restrict NAME` for each right after this upgrade (docs/configuration.md).

PostgreSQL: the search's covering index of documents (0006) gets the flag, so the scope check still reads
documents from the index alone.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_RESTRICTED = "Gutachten"


def _fold(name: str) -> str:
    # ekakte.policy.fold, written out: a migration must not change when the code does.
    return name.strip().casefold()


def upgrade() -> None:
    # Plain ADD COLUMN, no batch rebuild (as in 0004): rebuilding documents on SQLite would cascade to pages.
    op.add_column(
        "documents", sa.Column("restricted", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    types = op.create_table(
        "restricted_types",
        sa.Column("document_type", sa.String(length=64), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("document_type", name="pk_restricted_types"),
    )
    folded = _fold(DEFAULT_RESTRICTED)
    op.bulk_insert(
        types, [{"document_type": folded, "added_at": datetime.now(UTC), "added_by": "migration 0009"}]
    )
    conn = op.get_bind()
    stored = conn.execute(sa.text("SELECT DISTINCT document_type FROM documents")).scalars().all()
    spellings = [t for t in stored if _fold(t) == folded]
    if spellings:
        conn.execute(
            sa.text("UPDATE documents SET restricted = :yes WHERE document_type IN :types").bindparams(
                sa.bindparam("types", expanding=True), sa.bindparam("yes", type_=sa.Boolean())
            ),
            {"types": spellings, "yes": True},
        )
    if conn.dialect.name == "postgresql":
        op.execute("DROP INDEX ix_documents_search_scope")
        op.execute(
            "CREATE INDEX ix_documents_search_scope ON documents (id)"
            " INCLUDE (case_id, state, document_type, restricted)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_documents_search_scope")
        op.execute(
            "CREATE INDEX ix_documents_search_scope ON documents (id) INCLUDE (case_id, state, document_type)"
        )
    op.drop_table("restricted_types")
    # SQLite drops a column in place since 3.35 (no rebuild, so nothing cascades to pages).
    op.drop_column("documents", "restricted")
