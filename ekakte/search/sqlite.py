"""The SQLite dialect of the search: the FTS5 table pages_fts, every word a prefix, ranked with bm25.

pages_fts uses unicode61 with diacritics removed and no stemming: every word matches as a prefix, so
"Mietvertrag" finds "Mietverträge" and "Mietvertrags" but "Verträge" does not find "Vertrag". Snippets
are cut from the pages' text the way FTS5's snippet() does (snippets.fts5_snippet), without evaluating
the MATCH again. FTS5 walks its doclists newest first and stops at the window.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, String, column, func, literal_column, select, table, text, type_coerce
from sqlalchemy.orm import Session

from ekakte.db.models import Page
from ekakte.search.dialect import in_scope
from ekakte.search.query import Query
from ekakte.search.snippets import fts5_snippet

_FTS = table("pages_fts", column("rowid", Integer))
# How pages_fts holds a page's team (migrations 0007, 0011): U+E000, a private-use character, and the
# number; for the pages of restricted documents (a negative copy), U+E001 and the number.
_TEAM_TOKEN = "\ue000"
_RESTRICTED_TEAM_TOKEN = "\ue001"


def _team_token(team: int) -> str:
    """The FTS5 token of a team's pages (team > 0) or of its restricted pages (team < 0)."""
    return f"{_RESTRICTED_TEAM_TOKEN}{-team}" if team < 0 else f"{_TEAM_TOKEN}{team}"


class SqliteDialect:
    """FTS5: every word a prefix, phrases as phrases; diacritics folded by the tokenizer."""

    # Asked for the caller's teams unless it is of every team, as on PostgreSQL, although for a caller of
    # many teams the words alone were a few ms faster: with the words alone, the time of a search grew
    # with the other teams' matching pages, which tells a caseworker whether a name occurs in another
    # team's files (docs/benchmarks.md, "Search per team" and "Oracles"; `make bench`, group oracles).
    teams_share = 1.0
    words_without_restricted = True

    @staticmethod
    def expression(query: Query, teams: list[int] | None, restricted: bool = True) -> str:
        # Each word is double-quoted (an FTS5 string, so no word can be an operator such as NOT or
        # NEAR) and, outside phrases, a prefix. query.WORD has already dropped every quote character.
        # A team is the token U+E000 and its number (migration 0007), its restricted pages U+E001 and
        # the number (0011, a negative team), which no word can match, so neither needs a column filter.
        parts = [f'"{t}"*' for t in query.terms]
        parts += ['"' + " ".join(p) + '"' for p in query.phrases]
        if teams is not None:
            parts.insert(0, "(" + " OR ".join(f'"{_team_token(int(team))}"' for team in teams) + ")")
        elif not restricted:  # the words alone, but no restricted page: their tokens' doclists are short
            return "(" + " AND ".join(parts) + f') NOT "{_RESTRICTED_TEAM_TOKEN}"*'
        return " AND ".join(parts)

    def candidates(
        self,
        session: Session,
        query: Query,
        teams: list[int] | None,
        filters: list[Any],
        window: int,
        *,
        restricted: bool = True,
    ) -> list[Any]:
        # FTS5 walks its doclists newest rowid first, skipping along the teams' doclists to the pages of
        # the caller's teams (migration 0007), and stops at the window; bm25() (lower is better, so
        # negated; the team column weighs nothing) is computed for those rows only. The scope filters
        # are primary-key lookups.
        fts_rowid = _FTS.c.rowid
        stmt = in_scope(
            select(
                Page.id,
                type_coerce(Page.document_id, String),
                Page.number,
                -func.bm25(literal_column("pages_fts"), 1.0, 0.0),
            )
            .select_from(_FTS)
            .join(Page, Page.id == fts_rowid),
            filters,
        )
        stmt = stmt.where(text("pages_fts MATCH :fts")).order_by(fts_rowid.desc()).limit(window)
        fts = self.expression(query, teams, restricted)
        return list(session.connection().execute(stmt, {"fts": fts}).all())

    def snippet_source(self, query: Query) -> Any:
        return func.coalesce(Page.text, "")

    def snippet(self, source: str, query: Query) -> str:
        # Cut here from the page's text, the way FTS5 reads it (fts5_snippet): FTS5's snippet() must
        # evaluate the MATCH again over the ids, which for words on many pages costs as much as the
        # search did (docs/benchmarks.md, "SQLite snippets").
        return fts5_snippet(source, query)

    def ignored(self, session: Session, query: Query) -> tuple[str, ...]:
        return ()  # FTS5 indexes every word: there are no stop words
