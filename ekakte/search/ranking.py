"""The window of a search ranked: which dialect reads the candidates, what the text index is asked for, the
best page of each document, the best documents first, one page of them after a cursor."""

from __future__ import annotations

import bisect
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from ekakte.access import Scope
from ekakte.db.models import Case, Document, Page, Team
from ekakte.search.dialect import Dialect
from ekakte.search.paging import Position, write_cursor
from ekakte.search.postgres import PostgresDialect
from ekakte.search.query import Query
from ekakte.search.results import SearchHit, SearchResult
from ekakte.search.sqlite import SqliteDialect

# At most this many matching pages, the newest first, are ranked: a word found on most pages of an
# archive would otherwise have every one of its pages ranked on each search, and a search would take
# as long as the archive is large (docs/benchmarks.md, "Search: the ranking window"). Below the
# window, ranking is by relevance alone; above it, recency decides which pages are ranked, and
# SearchResult.window_full says so.
RANK_WINDOW = 1000


def dialect_for(session: Session) -> Dialect:
    """The search dialect of the session's database."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return PostgresDialect()
    if name == "sqlite":
        return SqliteDialect()
    raise NotImplementedError(f"unsupported database dialect {name}")


def index_teams(session: Session, dialect: Dialect, scope: Scope) -> tuple[list[int] | None, bool]:
    """What to ask the text index for (pages.team_id), and whether restricted pages may come with it: the
    caller's teams, and their negatives, the teams' restricted pages (migration 0011), only with the
    health clearance, so that the index never hands a caller without it a restricted page, and the time
    of a search does not grow with them. None, the words alone, for a caller of so many of the archive's
    teams (dialect.teams_share, of all teams, as a stand-in for their share of the pages) that asking for
    each of them costs more than passing over the few matches in other teams' cases (docs/benchmarks.md
    has the measurements); without the clearance only where the dialect can leave restricted pages out
    of the words alone (words_without_restricted)."""
    teams = sorted(scope.team_ids)
    archive_teams = session.execute(select(func.count()).select_from(Team)).scalar_one()
    every = len(teams) >= dialect.teams_share * archive_teams
    if scope.restricted_allowed:
        return (None, True) if every else (teams + [-team for team in teams], True)
    if every and dialect.words_without_restricted:
        return None, False
    return teams, False


def rank(
    session: Session,
    query: Query,
    scope: Scope,
    filters: list[Any],
    limit: int,
    *,
    after: Position | None = None,
    check: bytes,
) -> SearchResult:
    """Rank the window of candidates: the best page of each document, the best documents first; `limit`
    of them, those after `after` if given, and the cursor (made for `check`) of the ones after those."""
    dialect = dialect_for(session)
    teams, restricted = index_teams(session, dialect, scope)
    candidates = dialect.candidates(session, query, teams, filters, RANK_WINDOW + 1, restricted=restricted)
    window_full = len(candidates) > RANK_WINDOW
    best: dict[str, tuple[float, int, int]] = {}  # document id (text) -> (rank, -page number, page id)
    for page_id, document_id, number, page_rank in candidates[:RANK_WINDOW]:
        entry = (float(page_rank or 0.0), -number, page_id)
        if document_id not in best or entry > best[document_id]:
            best[document_id] = entry
    if not best:
        return SearchResult([], window_full, dialect.ignored(session, query))
    # Ties by document id: its text (hex digits, on PostgreSQL with dashes in fixed places) sorts as its
    # bytes do, and as its hex digits alone, which is how a cursor's id is compared with it.
    ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))
    if after is not None:
        start = bisect.bisect_right(
            ranked,
            (-after.rank, after.document_id.hex),
            key=lambda item: (-item[1][0], item[0].replace("-", "")),
        )
        ranked = ranked[start:]
    more = len(ranked) > limit
    hits = _hits(session, dialect, query, [entry for _doc, entry in ranked[:limit]])
    last = hits[-1] if more and hits else None
    cursor = write_cursor(check, Position(last.rank, last.document_id)) if last else None
    return SearchResult(hits, window_full, next=cursor)


def _hits(
    session: Session, dialect: Dialect, query: Query, ranked: list[tuple[float, int, int]]
) -> list[SearchHit]:
    """The hits of these best pages, (rank, -number, page id) each, in their order, with snippets."""
    if not ranked:
        return []
    page_ids = [page_id for _rank, _n, page_id in ranked]
    # The hits' pages with their documents, and what their snippets are cut from, in one statement.
    rows = session.connection().execute(
        select(
            Page.id,
            Page.number,
            Document.id,
            Document.document_type,
            Document.title,
            Document.received_on,
            Case.case_number,
            dialect.snippet_source(query),
        )
        .join(Document, Document.id == Page.document_id)
        .join(Case, Case.id == Document.case_id)
        .where(Page.id.in_(bindparam("ids", page_ids, expanding=True)))
    )
    by_page = {r[0]: r for r in rows}
    hits = []
    for page_rank, _n, page_id in ranked:
        _pid, number, document_id, document_type, title, received_on, case_number, source = by_page[page_id]
        hits.append(
            SearchHit(
                document_id=document_id,
                case_number=case_number,
                document_type=document_type,
                title=title,
                received_on=received_on,
                page=number,
                snippet=" ".join(dialect.snippet(source, query).split()),
                rank=page_rank,
            )
        )
    return hits
