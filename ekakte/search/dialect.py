"""What a database's search dialect provides (the Dialect protocol), and the scope every candidate passes."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Select
from sqlalchemy.orm import Session

from ekakte.db.models import Case, Document, DocumentState, OcrState, Page
from ekakte.search.query import Query


class Dialect(Protocol):
    """How one database matches, ranks and cuts snippets."""

    # Below this share of the archive's teams, the caller's teams are asked of the text index
    # (ranking.index_teams); 1.0: unless the caller is of every team, whose search then passes over only
    # unassigned cases' pages. (Without the health clearance, only where words_without_restricted.)
    teams_share: float
    # Whether the index can be asked for the words alone but no restricted page (SQLite: NOT the U+E001
    # tokens), so that a caller of every team without the health clearance need not ask for each team.
    words_without_restricted: bool

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
        """(page_id, document id as text, number, rank) of the newest `window` matching pages of
        `teams` (as the index knows them: pages.team_id, a team's id for its unrestricted pages, the
        negative for its restricted ones; None: of any team, and restricted ones unless `restricted` is
        False) that pass `filters`, newest first; rank higher is better."""

    def snippet_source(self, query: Query) -> Any:
        """The column, read with the hits' pages, from which snippet() cuts a page's snippet."""

    def snippet(self, source: str, query: Query) -> str:
        """A page's snippet, with the matches marked."""

    def ignored(self, session: Session, query: Query) -> tuple[str, ...]:
        """The words and phrases of the query, as typed, of which the index keeps nothing."""


def in_scope(stmt: Select[Any], filters: list[Any]) -> Select[Any]:
    """Pages whose text has been read, of stored documents, joined to their cases, that pass `filters`
    (the caller's scope and the search's own filters)."""
    return (
        stmt.join(Document, Document.id == Page.document_id)
        .join(Case, Case.id == Document.case_id)
        .where(Page.ocr_state == OcrState.DONE, Document.state == DocumentState.STORED, *filters)
    )
