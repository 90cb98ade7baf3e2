"""Search: each page carries its case's team, and the text indexes are per team.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

A caseworker searches only the cases of their own teams. Neither text index knew which page is whose: a
common word's matches were read and ranked across the whole archive, and then most of them passed over
as another team's (in a job centre of 10 teams, 9 of 10 matches). Now pages.team_id is a copy of the
team of the page's case, and the indexes hand out only the pages of the caller's teams:
  PostgreSQL  one GIN index over (team_id, tsv) and one over (team_id, ekakte_word_pairs(tsv)), replacing
              the two over the text alone (btree_gin gives GIN the integer's equality; it is a trusted
              extension, so the database owner may create it without being superuser);
  SQLite      pages_fts gets the team as a second indexed column, read from the view pages_fts_content
              as a token no query word can match (U+E000 and the number: "\ue0007").
The search still checks each page's document and case against the caller's scope: the copy decides
which pages are read first, never what may be seen. The copy is kept in step in the same transaction:
ingest.py writes it with each new page (having read the case's team under a share lock, which a
concurrent reassignment waits for), and a trigger on cases rewrites the pages of a case whose team
changes, whoever changes it (`ekakte case assign`, or an administrator's UPDATE).

This migration writes every page row and rebuilds the indexes: PostgreSQL drops the text indexes first,
so that the update does not also insert every page into them, and rewrites the table in primary-key
order afterwards (CLUSTER, as 0006 did). The pages table is neither readable nor writable meanwhile. On
200,000 pages (2 cores): PostgreSQL 100 s (downgrade 51 s), SQLite 6 s (downgrade 8 s).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A case's new team, onto the pages of its documents (a new document's pages get theirs from ingest.py).
_CASE_TEAM_TO_PAGES = (
    "UPDATE pages SET team_id = NEW.team_id"
    " WHERE document_id IN (SELECT id FROM documents WHERE case_id = NEW.id)"
)
_TEAMS_OF_PAGES = (
    "(SELECT cases.team_id FROM documents JOIN cases ON cases.id = documents.case_id"
    " WHERE documents.id = pages.document_id)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def _upgrade_postgresql() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.execute("DROP INDEX ix_pages_tsv")
    op.execute("DROP INDEX ix_pages_word_pairs")
    op.execute("ALTER TABLE pages ADD COLUMN team_id integer")
    op.execute(
        "UPDATE pages SET team_id = cases.team_id FROM documents JOIN cases ON cases.id = documents.case_id"
        " WHERE documents.id = pages.document_id AND cases.team_id IS NOT NULL"
    )
    op.execute("CLUSTER pages USING pk_pages")
    op.execute("CREATE INDEX ix_pages_team_tsv ON pages USING gin (team_id, tsv)")
    op.execute("CREATE INDEX ix_pages_team_word_pairs ON pages USING gin (team_id, ekakte_word_pairs(tsv))")
    op.execute("ANALYZE pages")
    op.execute(
        "CREATE FUNCTION ekakte_case_team_to_pages() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN {_CASE_TEAM_TO_PAGES}; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER cases_team_to_pages AFTER UPDATE OF team_id ON cases FOR EACH ROW"
        " WHEN (OLD.team_id IS DISTINCT FROM NEW.team_id) EXECUTE FUNCTION ekakte_case_team_to_pages()"
    )


def _upgrade_sqlite() -> None:
    _drop_fts()
    op.execute("ALTER TABLE pages ADD COLUMN team_id INTEGER")
    op.execute(f"UPDATE pages SET team_id = {_TEAMS_OF_PAGES}")
    # FTS5 reads the team as a token of its own kind: U+E000 (private use, a token character to unicode61
    # and never part of a query word, which starts with a letter or digit and has no such character)
    # and the team's number. So no word of a query can match a team, and the query needs no column
    # filters, which cost FTS5 a look at every match's positions (~15 % of a search).
    op.execute(
        f"CREATE VIEW pages_fts_content AS SELECT id, text, {_team_token('pages.')} AS team FROM pages"
    )
    _create_fts("pages_fts_content", {"text": "{}text", "team": _team_token("{}")}, "text, team_id")
    op.execute(
        "CREATE TRIGGER cases_team_to_pages AFTER UPDATE OF team_id ON cases"
        f" WHEN NEW.team_id IS NOT OLD.team_id BEGIN {_CASE_TEAM_TO_PAGES}; END"
    )


def _team_token(prefix: str) -> str:
    return f"char(57344) || {prefix}team_id"


def _drop_fts() -> None:
    for trigger in ("pages_fts_insert", "pages_fts_delete", "pages_fts_update"):
        op.execute(f"DROP TRIGGER {trigger}")
    op.execute("DROP TABLE pages_fts")


def _create_fts(content: str, columns: dict[str, str], read: str) -> None:
    """The external-content FTS5 table over `content` (pages, or a view of it), filled, and the triggers
    on pages that keep it: `columns` maps each FTS5 column to its value, "{}" standing for "new." or
    "old."; `read` names the columns of pages the values are made of."""
    listed = ", ".join(columns)
    new = ", ".join(value.format("new.") for value in columns.values())
    old = ", ".join(value.format("old.") for value in columns.values())
    op.execute(
        f"CREATE VIRTUAL TABLE pages_fts USING fts5({listed},"
        f" content='{content}', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute("INSERT INTO pages_fts(pages_fts) VALUES ('rebuild')")
    op.execute(
        "CREATE TRIGGER pages_fts_insert AFTER INSERT ON pages BEGIN"
        f" INSERT INTO pages_fts(rowid, {listed}) VALUES (new.id, {new}); END"
    )
    op.execute(
        "CREATE TRIGGER pages_fts_delete AFTER DELETE ON pages BEGIN"
        f" INSERT INTO pages_fts(pages_fts, rowid, {listed}) VALUES ('delete', old.id, {old}); END"
    )
    op.execute(
        f"CREATE TRIGGER pages_fts_update AFTER UPDATE OF {read} ON pages BEGIN"
        f" INSERT INTO pages_fts(pages_fts, rowid, {listed}) VALUES ('delete', old.id, {old});"
        f" INSERT INTO pages_fts(rowid, {listed}) VALUES (new.id, {new}); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER cases_team_to_pages ON cases")
        op.execute("DROP FUNCTION ekakte_case_team_to_pages()")
        op.execute("DROP INDEX ix_pages_team_word_pairs")
        op.execute("DROP INDEX ix_pages_team_tsv")
        op.execute("ALTER TABLE pages DROP COLUMN team_id")
        op.execute("CREATE INDEX ix_pages_tsv ON pages USING gin (tsv)")
        op.execute("CREATE INDEX ix_pages_word_pairs ON pages USING gin (ekakte_word_pairs(tsv))")
        # btree_gin stays: other objects of the database may have come to use it.
        return
    op.execute("DROP TRIGGER cases_team_to_pages")
    _drop_fts()
    op.execute("DROP VIEW pages_fts_content")
    op.execute("ALTER TABLE pages DROP COLUMN team_id")
    _create_fts("pages", {"text": "{}text"}, "text")
