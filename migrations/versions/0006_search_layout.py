"""PostgreSQL search: page rows that keep their tsvector in the row, and the scope read from indexes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

A search ranks up to 1,000 matching pages and checks for each whether its document is in the caller's
scope. Both were dearer than they need be:
- A page's row (text and tsvector, ~2.3 KB on average for a letter) is often over PostgreSQL's 2 KB limit
  for a row, and the toaster then moved the tsvector, not the text, out of the row: such a page cost a
  lookup in the TOAST table each time it was matched or ranked. Now the text (read only for the 20
  snippets and `doc show --text`) goes out of the row first, uncompressed (STORAGE EXTERNAL), and the
  tsvector stays in it (STORAGE MAIN: compressed, or moved out, only if the row is still too large
  without the text). On 200,000 pages: the newest 4,096 pages checked for a common word 18-22 -> 7.5 ms,
  a slice of 1,000 matches ranked 14 -> 11 ms. The table with its TOAST grew 5 % (443 -> 463 MB: the
  text moved out is no longer compressed).
- The scope check (document stored, of a visible type, in a case of the caller's teams) now reads two
  covering indexes instead of the tables: 1,000 documents 10.6 -> 7.8 ms.
The new storage applies to rows written from now on; CLUSTER rewrites the existing ones (in primary-key
order, which the search's newest-first reading of the id range likes). `ekakte db upgrade` from 0005 took
114 s for 200,000 pages on 2 cores (about 0.6 ms a page, mostly rebuilding the two GIN indexes), with the
pages table neither readable nor writable meanwhile. SQLite keeps its FTS5 index apart from the rows
and looks documents up by primary key: nothing to do.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE pages ALTER COLUMN text SET STORAGE EXTERNAL, ALTER COLUMN tsv SET STORAGE MAIN")
    op.execute("CLUSTER pages USING pk_pages")
    op.execute(
        "CREATE INDEX ix_documents_search_scope ON documents (id) INCLUDE (case_id, state, document_type)"
    )
    op.execute("CREATE INDEX ix_cases_search_scope ON cases (id) INCLUDE (team_id, case_number)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_cases_search_scope")
    op.execute("DROP INDEX ix_documents_search_scope")
    op.execute("ALTER TABLE pages SET WITHOUT CLUSTER")
    op.execute(
        "ALTER TABLE pages ALTER COLUMN text SET STORAGE EXTENDED, ALTER COLUMN tsv SET STORAGE EXTENDED"
    )
