"""OCR and full-text search: pages get a surrogate key, OCR results, a work lease and a text index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

pages(document_id, number) stays unique, but the primary key becomes an integer `id`: SQLite's FTS5
index refers to rows by an integer that must survive VACUUM, which only an INTEGER PRIMARY KEY does.
The text index itself is dialect-specific and lives outside the SQLAlchemy models:
  PostgreSQL  pages.tsv, a generated tsvector (German configuration) with a GIN index;
  SQLite      pages_fts, an external-content FTS5 table kept in step with pages by triggers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAGE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_OCR_COLUMNS = (
    ("confidence", sa.Float()),
    ("engine", sa.String(length=60)),
    ("language", sa.String(length=40)),
    ("rotation", sa.Integer()),
    ("reason", sa.String(length=500)),
    ("lease_owner", sa.String(length=120)),
    ("lease_expires", sa.DateTime(timezone=True)),
    ("ocr_at", sa.DateTime(timezone=True)),
)

_PENDING = sa.text("ocr_state = 'pending'")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()
    op.create_index("ix_pages_pending", "pages", ["id"], postgresql_where=_PENDING, sqlite_where=_PENDING)


def _upgrade_postgresql() -> None:
    op.drop_constraint("pk_pages", "pages", type_="primary")
    op.execute("ALTER TABLE pages ADD COLUMN id BIGSERIAL")
    op.create_primary_key("pk_pages", "pages", ["id"])
    op.create_unique_constraint("uq_pages_document_id_number", "pages", ["document_id", "number"])
    for name, type_ in _OCR_COLUMNS:
        op.add_column("pages", sa.Column(name, type_, nullable=True))
    op.add_column("pages", sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "ALTER TABLE pages ADD COLUMN tsv tsvector"
        " GENERATED ALWAYS AS (to_tsvector('german', coalesce(text, ''))) STORED"
    )
    op.execute("CREATE INDEX ix_pages_tsv ON pages USING gin (tsv)")


def _upgrade_sqlite() -> None:
    # SQLite cannot change a primary key in place: build the new table, copy, swap.
    op.create_table(
        "pages_new",
        sa.Column("id", PAGE_ID, primary_key=True, autoincrement=True),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("ocr_state", sa.String(length=20), nullable=False),
        *(sa.Column(name, type_, nullable=True) for name, type_ in _OCR_COLUMNS),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name="fk_pages_document_id_documents", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("document_id", "number", name="uq_pages_document_id_number"),
    )
    op.execute(
        "INSERT INTO pages_new (document_id, number, text, ocr_state)"
        " SELECT document_id, number, text, ocr_state FROM pages ORDER BY document_id, number"
    )
    op.drop_table("pages")
    op.rename_table("pages_new", "pages")
    op.execute(
        "CREATE VIRTUAL TABLE pages_fts USING fts5("
        "text, content='pages', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute("INSERT INTO pages_fts(pages_fts) VALUES ('rebuild')")
    op.execute(
        "CREATE TRIGGER pages_fts_insert AFTER INSERT ON pages BEGIN"
        " INSERT INTO pages_fts(rowid, text) VALUES (new.id, new.text); END"
    )
    op.execute(
        "CREATE TRIGGER pages_fts_delete AFTER DELETE ON pages BEGIN"
        " INSERT INTO pages_fts(pages_fts, rowid, text) VALUES ('delete', old.id, old.text); END"
    )
    op.execute(
        "CREATE TRIGGER pages_fts_update AFTER UPDATE OF text ON pages BEGIN"
        " INSERT INTO pages_fts(pages_fts, rowid, text) VALUES ('delete', old.id, old.text);"
        " INSERT INTO pages_fts(rowid, text) VALUES (new.id, new.text); END"
    )


def downgrade() -> None:
    op.drop_index("ix_pages_pending", table_name="pages")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_pages_tsv")
        op.drop_column("pages", "tsv")
        op.drop_column("pages", "attempts")
        for name, _type in reversed(_OCR_COLUMNS):
            op.drop_column("pages", name)
        op.drop_constraint("uq_pages_document_id_number", "pages", type_="unique")
        op.drop_constraint("pk_pages", "pages", type_="primary")
        op.drop_column("pages", "id")
        op.create_primary_key("pk_pages", "pages", ["document_id", "number"])
        return
    for trigger in ("pages_fts_insert", "pages_fts_delete", "pages_fts_update"):
        op.execute(f"DROP TRIGGER {trigger}")
    op.execute("DROP TABLE pages_fts")
    op.create_table(
        "pages_old",
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("ocr_state", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name="fk_pages_document_id_documents", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("document_id", "number", name="pk_pages"),
    )
    op.execute(
        "INSERT INTO pages_old (document_id, number, text, ocr_state)"
        " SELECT document_id, number, text, ocr_state FROM pages"
    )
    op.drop_table("pages")
    op.rename_table("pages_old", "pages")
