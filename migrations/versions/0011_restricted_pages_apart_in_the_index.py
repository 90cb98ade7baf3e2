"""Search: the pages of restricted documents are apart in the text indexes (a negative team copy).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

The text indexes are per team (0007): pages.team_id, a copy of the team of the page's case, is a key of
the index beside the words. A caller without the health clearance was handed the restricted pages of its
own team by the index too, which the search's scope check (documents.restricted) then passed over; so the
time of a search that finds nothing grew with the number of the team's restricted pages holding a word.
Now the copy tells both what the page's case is and whether its document is restricted:

  pages.team_id =  the case's team      for a page of an unrestricted document,
                  -the case's team      for a page of a restricted one (documents.restricted),
                   NULL                 for a page of a case of no team.

pages.team_id has no foreign key, so the sign costs no new column and no rebuild of the GIN indexes over
(team_id, tsv) and (team_id, ekakte_word_pairs(tsv)): the search asks them for the caller's teams, and
for their negatives only with the health clearance. On SQLite the view pages_fts_content writes a
negative team as a token of another kind, U+E001 and the number ("\\ue0013"): "-" would end the token,
and the bare number left would be matched by a query word "3". As before, the copy only picks what is
read: the search still checks each candidate's document (restricted included) and case in SQL.

The copy is kept in step by triggers, whoever changes what it copies:
  cases_team_to_pages       (0007, its function replaced) writes the case's new team with the sign of
                            each page's document;
  documents_restricted_to_pages  (new) sets the sign of a document's pages when its flag changes
                            (`ekakte type restrict` / `unrestrict`, or an administrator's UPDATE);
and ingest.py writes it with each new page. On PostgreSQL the case trigger first takes a share lock of
the case's documents: a change of a document's flag that has not committed yet is waited for, so the
trigger's UPDATE (a statement of its own, with a snapshot of its own) reads the flag that stands. The
documents trigger sets the sign on the page's copy as it then is (-abs / abs), which a concurrent
reassignment cannot make stale. (Through ekakte both already run under the writers' lock.)

Existing restricted pages get their sign here: one UPDATE of those pages alone. On SQLite the FTS5
index is kept by its triggers, whose delete must name the tokens the row was indexed with; the three
triggers and the view are replaced with the signed token first, and the update of the restricted pages
then goes through them (delete with U+E000, insert with U+E001), so only those pages are re-indexed,
not the whole table. Any page that is not restricted keeps the token it was indexed with, which is what
the new view says for it. (The FTS5 table itself stays; its content is read from the view by name.)
On PostgreSQL the UPDATE writes the restricted pages' new keys into the GIN indexes, which are not
rebuilt; those rows are locked meanwhile. Measured on a copy with 20,000 pages (one per document, 2,000
cases of ten teams, every fifth document restricted: 4,000 pages), 2 cores: SQLite upgrade 0.19 s
(downgrade 0.16 s), PostgreSQL upgrade 1.2 s (downgrade 1.3 s). With 200,000 pages (40,000 restricted)
SQLite took 1.7 s (downgrade 1.9 s), where a 'rebuild' of the FTS5 index alone takes 2.6 s.
"""

from collections.abc import Callable, Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FLIP_RESTRICTED_PAGES = (
    "UPDATE pages SET team_id = -team_id WHERE team_id > 0"
    " AND document_id IN (SELECT id FROM documents WHERE restricted)"
)
_UNFLIP_PAGES = "UPDATE pages SET team_id = -team_id WHERE team_id < 0"

# 0007's function: a case's new team, onto the pages of its documents, unsigned.
_CASE_TEAM_TO_PAGES_0007 = (
    "UPDATE pages SET team_id = NEW.team_id"
    " WHERE document_id IN (SELECT id FROM documents WHERE case_id = NEW.id)"
)
# This one's: with the sign of each page's document (NULL stays NULL: -NULL is NULL).
_CASE_TEAM_TO_PAGES_PG = (
    "PERFORM 1 FROM documents WHERE case_id = NEW.id FOR SHARE;"
    " UPDATE pages SET team_id = CASE WHEN documents.restricted THEN -NEW.team_id ELSE NEW.team_id END"
    " FROM documents WHERE documents.id = pages.document_id AND documents.case_id = NEW.id"
)
_CASE_TEAM_TO_PAGES_SQLITE = (
    "UPDATE pages SET team_id = (SELECT CASE WHEN documents.restricted THEN -NEW.team_id"
    " ELSE NEW.team_id END FROM documents WHERE documents.id = pages.document_id)"
    " WHERE document_id IN (SELECT id FROM documents WHERE case_id = NEW.id)"
)
# A document's flag, onto the sign of its pages' copy.
_RESTRICTED_TO_PAGES = (
    "UPDATE pages SET team_id = CASE WHEN NEW.restricted THEN -abs(team_id) ELSE abs(team_id) END"
    " WHERE document_id = NEW.id AND team_id IS NOT NULL"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FLIP_RESTRICTED_PAGES)
        _replace_case_trigger_function(_CASE_TEAM_TO_PAGES_PG)
        op.execute(
            "CREATE FUNCTION ekakte_document_restricted_to_pages() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN {_RESTRICTED_TO_PAGES}; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER documents_restricted_to_pages AFTER UPDATE OF restricted ON documents"
            " FOR EACH ROW WHEN (OLD.restricted IS DISTINCT FROM NEW.restricted)"
            " EXECUTE FUNCTION ekakte_document_restricted_to_pages()"
        )
        return
    # The FTS5 triggers and the view with the signed token first, so that the update below re-indexes
    # the restricted pages through them (see the docstring).
    _replace_fts_triggers(_signed_team_token)
    _replace_view(_signed_team_token)
    op.execute(_FLIP_RESTRICTED_PAGES)
    _replace_sqlite_case_trigger(_CASE_TEAM_TO_PAGES_SQLITE)
    op.execute(
        "CREATE TRIGGER documents_restricted_to_pages AFTER UPDATE OF restricted ON documents"
        f" WHEN NEW.restricted IS NOT OLD.restricted BEGIN {_RESTRICTED_TO_PAGES}; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER documents_restricted_to_pages ON documents")
        op.execute("DROP FUNCTION ekakte_document_restricted_to_pages()")
        _replace_case_trigger_function(_CASE_TEAM_TO_PAGES_0007)
        op.execute(_UNFLIP_PAGES)
        return
    op.execute("DROP TRIGGER documents_restricted_to_pages")
    _replace_sqlite_case_trigger(_CASE_TEAM_TO_PAGES_0007)
    # Back to positive copies while the triggers still know the signed token they were indexed with.
    op.execute(_UNFLIP_PAGES)
    _replace_view(_team_token)
    _replace_fts_triggers(_team_token)


def _replace_case_trigger_function(body: str) -> None:
    op.execute(
        "CREATE OR REPLACE FUNCTION ekakte_case_team_to_pages() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN {body}; RETURN NULL; END $$"
    )


def _replace_sqlite_case_trigger(body: str) -> None:
    op.execute("DROP TRIGGER cases_team_to_pages")
    op.execute(
        "CREATE TRIGGER cases_team_to_pages AFTER UPDATE OF team_id ON cases"
        f" WHEN NEW.team_id IS NOT OLD.team_id BEGIN {body}; END"
    )


# The helpers below are 0007's, written out (a migration must not import another, nor change with it).


def _team_token(prefix: str) -> str:
    """0007's token: U+E000 and the team's number."""
    return f"char(57344) || {prefix}team_id"


def _signed_team_token(prefix: str) -> str:
    """U+E000 and the number for a team's unrestricted pages, U+E001 and the number for its restricted
    ones (a negative copy); NULL, no token, for a page of no team."""
    return (
        f"CASE WHEN {prefix}team_id < 0 THEN char(57345) || (-{prefix}team_id)"
        f" ELSE char(57344) || {prefix}team_id END"
    )


def _replace_view(token: Callable[[str], str]) -> None:
    op.execute("DROP VIEW pages_fts_content")
    op.execute(f"CREATE VIEW pages_fts_content AS SELECT id, text, {token('pages.')} AS team FROM pages")


def _replace_fts_triggers(token: Callable[[str], str]) -> None:
    """0007's triggers on pages that keep the external-content FTS5 table, with `token` for the team."""
    listed = "text, team"
    new, old = (f"{row}text, {token(row)}" for row in ("new.", "old."))
    for trigger in ("pages_fts_insert", "pages_fts_delete", "pages_fts_update"):
        op.execute(f"DROP TRIGGER {trigger}")
    op.execute(
        "CREATE TRIGGER pages_fts_insert AFTER INSERT ON pages BEGIN"
        f" INSERT INTO pages_fts(rowid, {listed}) VALUES (new.id, {new}); END"
    )
    op.execute(
        "CREATE TRIGGER pages_fts_delete AFTER DELETE ON pages BEGIN"
        f" INSERT INTO pages_fts(pages_fts, rowid, {listed}) VALUES ('delete', old.id, {old}); END"
    )
    op.execute(
        "CREATE TRIGGER pages_fts_update AFTER UPDATE OF text, team_id ON pages BEGIN"
        f" INSERT INTO pages_fts(pages_fts, rowid, {listed}) VALUES ('delete', old.id, {old});"
        f" INSERT INTO pages_fts(rowid, {listed}) VALUES (new.id, {new}); END"
    )
