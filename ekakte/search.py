"""Full-text search over the pages' text: the query language, and its two SQL dialects.

A query is words and "quoted phrases", all of which must match (AND). Nothing in it is SQL or an
index operator: words are reduced to letters and digits and passed as bind parameters.
  PostgreSQL  the generated tsvector pages.tsv (German configuration: stemming, so "Mietvertrag"
              finds "Mietverträge"), ranked with ts_rank_cd, snippets by ts_headline;
  SQLite      the FTS5 table pages_fts (unicode61 with diacritics removed, no stemming): every word
              matches as a prefix, so "Mietvertrag" finds "Mietverträge" and "Mietvertrags" but
              "Verträge" does not find "Vertrag"; ranked with bm25, snippets by snippet().
Access comes first: the query itself only looks at pages of documents the actor may read (cases of
its teams; restricted types only with the health clearance), so nothing it cannot see is counted,
ranked or timed.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from sqlalchemy import Select, Subquery, bindparam, func, literal_column, select, text
from sqlalchemy.orm import Session

from ekakte.access import Action, Scope, gate, refuse, search_scope
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import Case, Document, DocumentState, OcrState, Page
from ekakte.errors import InvalidInput

MAX_LIMIT = 200
MAX_QUERY_CHARS = 500
MAX_TERMS = 16
SNIPPET_START, SNIPPET_END = "[", "]"

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Query:
    """What the caller asked for: terms (each one word) and phrases (several words in order)."""

    terms: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]

    def __bool__(self) -> bool:
        return bool(self.terms or self.phrases)


def parse_query(raw: str) -> Query:
    """Words and "quoted phrases". Anything but letters and digits separates words; an unclosed quote
    quotes to the end. InvalidInput for an empty or oversized query."""
    if len(raw) > MAX_QUERY_CHARS:
        raise InvalidInput(f"search query too long: at most {MAX_QUERY_CHARS} characters")
    terms: list[str] = []
    phrases: list[tuple[str, ...]] = []
    for index, part in enumerate(raw.split('"')):
        # lower(), not casefold(): casefold makes ß "ss", and the indexes keep ß as it is.
        words = [w.lower() for w in _WORD.findall(part)]
        if index % 2 == 1 and len(words) > 1:
            phrases.append(tuple(words))
        else:
            terms.extend(words)
    terms = list(dict.fromkeys(terms))  # a word given twice asks nothing more
    if len(terms) + sum(len(p) for p in phrases) > MAX_TERMS:
        raise InvalidInput(f"search query has too many words: at most {MAX_TERMS}")
    query = Query(tuple(terms), tuple(dict.fromkeys(phrases)))
    if not query:
        raise InvalidInput("empty search query: give at least one word")
    return query


@dataclass(frozen=True)
class SearchHit:
    document_id: uuid.UUID
    case_number: str
    document_type: str
    title: str | None
    received_on: date
    page: int
    snippet: str
    rank: float  # higher is better; comparable within one result list only

    def as_json(self) -> dict[str, Any]:
        return {
            "document_id": str(self.document_id),
            "case_number": self.case_number,
            "document_type": self.document_type,
            "title": self.title,
            "received_on": self.received_on.isoformat(),
            "page": self.page,
            "snippet": self.snippet,
            "rank": round(self.rank, 6),
        }


class _Dialect(Protocol):
    """How one database matches, ranks and cuts snippets."""

    def matches(self, query: Query) -> tuple[Subquery, dict[str, Any]]:
        """Every matching page as (page_id, rank), higher rank better, and its bind parameters."""

    def snippets(self, session: Session, query: Query, page_ids: list[int]) -> dict[int, str]:
        """The snippet of each page, with the matches marked."""


class _Postgres:
    """tsvector / tsquery with the German configuration."""

    @staticmethod
    def _tsquery(query: Query) -> Any:
        parts = [func.plainto_tsquery("german", bindparam(f"t{i}", t)) for i, t in enumerate(query.terms)]
        parts += [
            func.phraseto_tsquery("german", bindparam(f"p{i}", " ".join(p)))
            for i, p in enumerate(query.phrases)
        ]
        combined: Any = parts[0]
        for part in parts[1:]:
            combined = combined.op("&&")(part)
        return combined

    def matches(self, query: Query) -> tuple[Subquery, dict[str, Any]]:
        tsq = self._tsquery(query)
        tsv: Any = literal_column("pages.tsv")
        stmt = select(Page.id.label("page_id"), func.ts_rank_cd(tsv, tsq).label("rank")).where(
            tsv.op("@@")(tsq)
        )
        return stmt.subquery("matches"), {}

    def snippets(self, session: Session, query: Query, page_ids: list[int]) -> dict[int, str]:
        options = (
            f"StartSel={SNIPPET_START}, StopSel={SNIPPET_END}, MaxWords=18, MinWords=6, MaxFragments=2,"
            ' FragmentDelimiter=" … "'
        )
        stmt = select(
            Page.id, func.ts_headline("german", func.coalesce(Page.text, ""), self._tsquery(query), options)
        ).where(Page.id.in_(page_ids))
        return {pid: snippet for pid, snippet in session.execute(stmt)}


class _Sqlite:
    """FTS5: every word a prefix, phrases as phrases; diacritics folded by the tokenizer."""

    @staticmethod
    def expression(query: Query) -> str:
        # Each word is double-quoted (an FTS5 string, so no word can be an operator such as NOT or
        # NEAR) and, outside phrases, a prefix. _WORD has already dropped every quote character.
        parts = [f'"{t}"*' for t in query.terms]
        parts += ['"' + " ".join(p) + '"' for p in query.phrases]
        return " AND ".join(parts)

    def matches(self, query: Query) -> tuple[Subquery, dict[str, Any]]:
        # bm25(): lower is better, so it is negated.
        stmt = (
            select(
                literal_column("pages_fts.rowid").label("page_id"),
                (-func.bm25(literal_column("pages_fts"))).label("rank"),
            )
            .select_from(text("pages_fts"))
            .where(text("pages_fts MATCH :fts"))
        )
        return stmt.subquery("matches"), {"fts": self.expression(query)}

    def snippets(self, session: Session, query: Query, page_ids: list[int]) -> dict[int, str]:
        stmt = text(
            "SELECT rowid, snippet(pages_fts, 0, :start, :end, ' … ', 16) FROM pages_fts"
            " WHERE pages_fts MATCH :fts AND rowid IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        params = {"start": SNIPPET_START, "end": SNIPPET_END, "fts": self.expression(query), "ids": page_ids}
        return {pid: snippet for pid, snippet in session.execute(stmt, params)}


def _dialect(session: Session) -> _Dialect:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return _Postgres()
    if name == "sqlite":
        return _Sqlite()
    raise NotImplementedError(f"unsupported database dialect {name}")


def _best_pages(matches: Subquery, scope: Scope, filters: list[Any], limit: int) -> Select[Any]:
    """The best page of each matching document the scope allows, best documents first."""
    numbered = (
        select(
            Page.id.label("page_id"),
            Page.document_id.label("document_id"),
            matches.c.rank.label("rank"),
            func.row_number()
            .over(partition_by=Page.document_id, order_by=(matches.c.rank.desc(), Page.number))
            .label("nth"),
        )
        .join(matches, matches.c.page_id == Page.id)
        .join(Document, Document.id == Page.document_id)
        .join(Case, Case.id == Document.case_id)
        .where(Page.ocr_state == OcrState.DONE, Document.state == DocumentState.STORED)
        .where(Case.team_id.in_(sorted(scope.team_ids)), *filters)
        .subquery("numbered")
    )
    return (
        select(numbered.c.page_id, numbered.c.rank)
        .where(numbered.c.nth == 1)
        .order_by(numbered.c.rank.desc(), numbered.c.document_id)
        .limit(limit)
    )


def search(
    archive: Archive,
    actor: Actor,
    query: str,
    *,
    case_number: str | None = None,
    document_type: str | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """The documents matching `query` that the actor may read, best first: each with its best page.

    Refused (NotPermitted) for roles without content access; the search is audited either way, with
    the query, since searching social data is itself an access to it.
    """
    settings = archive.settings
    parsed = parse_query(query)
    number = settings.case_number(case_number) if case_number else None
    wanted_type = settings.document_type(document_type) if document_type else None
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"--limit must be between 1 and {MAX_LIMIT}")

    hits: list[SearchHit] = []
    with archive.transaction() as session:
        decision = gate(session, actor, Action.SEARCH, case_number=number, detail=f"search {query[:200]!r}")
        scope = search_scope(decision.subject) if decision.allowed else None
        if scope is not None and scope.team_ids:
            filters: list[Any] = []
            if not scope.restricted_allowed and settings.restricted_types:
                filters.append(Document.document_type.not_in(list(settings.restricted_types)))
            if number:
                filters.append(Case.case_number == number)
            if wanted_type:
                filters.append(Document.document_type == wanted_type)
            hits = _run(session, parsed, scope, filters, limit)
    if not decision.allowed:
        raise refuse("search")
    return hits


def _run(session: Session, query: Query, scope: Scope, filters: list[Any], limit: int) -> list[SearchHit]:
    dialect = _dialect(session)
    matches, params = dialect.matches(query)
    ranked = session.execute(_best_pages(matches, scope, filters, limit), params).all()
    if not ranked:
        return []
    page_ids = [r.page_id for r in ranked]
    snippets = dialect.snippets(session, query, page_ids)
    rows = session.execute(
        select(Page.id, Page.number, Document, Case.case_number)
        .join(Document, Document.id == Page.document_id)
        .join(Case, Case.id == Document.case_id)
        .where(Page.id.in_(page_ids))
    ).all()
    by_page = {r[0]: r for r in rows}
    hits = []
    for r in ranked:
        _pid, number, doc, case_number = by_page[r.page_id]
        hits.append(
            SearchHit(
                document_id=doc.id,
                case_number=case_number,
                document_type=doc.document_type,
                title=doc.title,
                received_on=doc.received_on,
                page=number,
                snippet=" ".join((snippets.get(r.page_id) or "").split()),
                rank=float(r.rank or 0.0),
            )
        )
    return hits
