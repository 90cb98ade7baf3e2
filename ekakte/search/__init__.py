"""Full-text search over the pages' text: the use case `search`, in pages of results.

A query is words and "quoted phrases", all of which must match (AND); nothing in it is SQL or an index
operator (query.py). Two dialects read the text indexes: PostgreSQL's tsvector (postgres.py) and
SQLite's FTS5 (sqlite.py); snippets for SQLite are cut in Python (snippets.py).
Access comes first: the query itself only looks at pages of documents the actor may read (cases of its
teams; restricted documents, by their own flag, only with the health clearance), so nothing it cannot
see is counted or ranked. The text indexes are per team (pages.team_id, a copy of the case's team,
migration 0007, negative for the pages of restricted documents, migration 0011), so the index hands out
only the caller's teams' matches, their restricted pages only to a caller with the health clearance
(ranking.index_teams); the join against documents and cases still decides. Of the pages it may see,
the newest RANK_WINDOW matching ones are ranked (ranking.py), and the results come a page at a time,
each page a search of its own, after the cursor the last one gave (paging.py).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import false

from ekakte import audit
from ekakte.access import About, Action, decided, search_scope
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import Case, Document
from ekakte.errors import InvalidInput, shown
from ekakte.search.paging import read_cursor, search_check
from ekakte.search.query import MAX_QUERY_CHARS, MAX_TERMS, UNSENDABLE, Query, parse_query
from ekakte.search.ranking import RANK_WINDOW, rank
from ekakte.search.results import SearchHit, SearchResult
from ekakte.search.snippets import SNIPPET_END, SNIPPET_START

__all__ = [
    "MAX_LIMIT",
    "MAX_QUERY_CHARS",
    "MAX_TERMS",
    "RANK_WINDOW",
    "SNIPPET_END",
    "SNIPPET_START",
    "Query",
    "SearchHit",
    "SearchResult",
    "parse_query",
    "search",
]

MAX_LIMIT = 200


def search(
    archive: Archive,
    actor: Actor,
    query: str,
    *,
    case_number: str | None = None,
    document_type: str | None = None,
    limit: int = 20,
    after: str | None = None,
) -> SearchResult:
    """The documents matching `query` that the actor may read, best first: each with its best page.
    At most `limit` of them; `after`, the cursor a result gave (SearchResult.next), asks for the next
    ones, in the same order, of the same query and filters.

    Refused (NotPermitted) for roles without content access; the search is audited either way, with
    the query, since searching social data is itself an access to it. So is each further page.
    """
    settings = archive.settings
    number = settings.case_number(case_number) if case_number else None
    _refuse_unsendable(archive, actor, query, number)
    parsed = parse_query(query)
    wanted_type = settings.document_type(document_type) if document_type else None
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            f"the number of results asked for must be between 1 and {MAX_LIMIT}", field="limit"
        )
    check = search_check(actor, parsed, number, wanted_type)
    position = read_cursor(after, check) if after is not None else None

    # The decision's entry is committed before the search runs, in a transaction of its own: whatever
    # the search statement then does (fail, time out, be cancelled), the entry stays. (It also keeps the
    # audit chain's lock, held to commit, from being held for the whole search.)
    detail = f"search {query[:200]!r}" + (", next results" if position is not None else "")
    decision = decided(
        archive, actor, Action.SEARCH, "search", about=About(case_number=number, detail=detail)
    )
    scope = search_scope(decision.subject)
    if not scope.team_ids:
        return SearchResult([], window_full=False)
    filters: list[Any] = [Case.team_id.in_(sorted(scope.team_ids))]
    if not scope.restricted_allowed:
        filters.append(Document.restricted == false())
    if number:
        filters.append(Case.case_number == number)
    if wanted_type:
        filters.append(Document.document_type == wanted_type)
    with archive.reading() as session:
        return rank(session, parsed, scope, filters, limit, after=position, check=check)


def _refuse_unsendable(archive: Archive, actor: Actor, query: str, number: str | None) -> None:
    """InvalidInput for query text no database can be sent, after committing an entry that says so: the
    attempt is an access like any search, and its text is kept escaped (errors.shown), as typed."""
    found = UNSENDABLE.search(query)
    if found is None:
        return
    what = "a NUL character" if found.group() == "\x00" else "bytes that are not UTF-8"
    problem = f"the search query contains {what}"
    with archive.transaction() as session:
        audit.append(
            session,
            actor,
            str(Action.SEARCH),
            "denied",
            case_number=number,
            reason=f"search '{_escaped(query[:200])}': {problem}",
        )
    raise InvalidInput(f"{problem}: {_escaped(query[:60])}")


def _escaped(text: str) -> str:
    """errors.shown, which reads a lone surrogate as the byte it stands for (U+DC80-U+DCFF: 0x80-0xFF);
    those that stand for none (a library caller may pass them) are written as \\uNNNN first."""
    return shown(re.sub("[\ud800-\udc7f\udd00-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text))
