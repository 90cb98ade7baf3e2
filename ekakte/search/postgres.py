"""The PostgreSQL dialect of the search: tsvector / tsquery with the German configuration, the newest
matching pages read in slices of ids, snippets by ts_headline.

The query is parsed as typed, like the pages, so "22.07.2026" is one token in both; words the German
configuration drops (stop words such as "und", "der") match nothing on their own. Phrases are looked up
in an index of each page's neighbouring word pairs (migration 0005) and checked with phraseto_tsquery on
what it finds. The pages are read from the newest down in slices of ids, each sized from the density of
in-scope matches so far (PostgresDialect.candidates), since neither a backward scan nor the GIN index
alone is fast for every query and its statistics cannot tell which is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, Uuid, bindparam, cast, func, literal_column, select, text, true
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY
from sqlalchemy.orm import Session

from ekakte.db.models import Case, Document, DocumentState, OcrState, Page
from ekakte.search.dialect import in_scope
from ekakte.search.query import Query
from ekakte.search.snippets import SNIPPET_END, SNIPPET_START

# The newest pages are read in slices of ids (see PostgresDialect.candidates); the first is this many.
FIRST_SLICE = 4096
# For a slice read as bitmaps, then back (two statements, one round trip each; SET LOCAL ends with the
# transaction in any case).
_BITMAPS_ONLY = text("SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = off")
_ANY_PLAN = text("SET LOCAL enable_indexscan TO DEFAULT; SET LOCAL enable_seqscan TO DEFAULT")
_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")


class PostgresDialect:
    """tsvector / tsquery with the German configuration."""

    # The (team_id, tsv) index is the cheaper way for any caller not of every team, whatever share of the
    # teams it is of: asked for the words alone, the GIN index hands out every team's matches, and each
    # must be checked against the caller's scope (docs/benchmarks.md, "Search per team").
    teams_share = 1.0
    words_without_restricted = False

    @staticmethod
    def _tsquery(query: Query) -> Any:
        # The text as typed goes to plainto_tsquery / phraseto_tsquery: the same parser that made the
        # tsvector splits it, so tokens such as dates and numbers with dots match. Neither function
        # has operators: any text is a valid, literal argument.
        parts = [func.plainto_tsquery("german", bindparam(f"t{i}", c)) for i, c in enumerate(query.chunks)]
        parts += [
            func.phraseto_tsquery("german", bindparam(f"p{i}", p)) for i, p in enumerate(query.phrase_texts)
        ]
        combined: Any = parts[0]
        for part in parts[1:]:
            combined = combined.op("&&")(part)
        return combined

    @staticmethod
    def _pairs(session: Session, query: Query) -> str | None:
        """The AND of the phrases' pairs of neighbouring words as tsquery text (migration 0005), or None
        when no phrase has two indexed words (a phrase of one word and stop words is a word)."""
        if not query.phrase_texts:
            return None
        found = session.execute(
            select(
                *(
                    cast(func.ekakte_pairs_query(func.to_tsvector("german", bindparam(f"p{i}", p))), Text)
                    for i, p in enumerate(query.phrase_texts)
                )
            )
        ).one()
        pairs = [f"({p})" for p in found if p]
        return " & ".join(pairs) or None

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
        assert teams is not None or restricted, "words_without_restricted is False: ask for the teams"
        # Neither of the planner's two ways is safe on its own: a backward scan of the primary key
        # with the @@ filter reads (and decompresses) every page's tsvector until `window` matches are
        # found, which for a query matching few of the pages is the whole table; the GIN index alone
        # fetches every matching row before the newest are chosen, which for a common word is much of the
        # table (docs/benchmarks.md, "Search: the ranking window"). And the planner cannot tell which
        # case it is in: words on the same pages (and phrases) are far more or less frequent together
        # than their statistics say.
        # So the id range is walked from the newest page down, in slices sized from the density of
        # in-scope matches seen so far: the first slice is small enough for either plan; later ones are
        # read as GIN bitmap AND primary-key range (planner hint, see _slice), so the rows fetched are
        # about the matches still needed. Only rows in scope count towards the window.
        # A phrase is found through the index of word pairs from the first slice on: it names the
        # pages holding the phrase's pairs, not every page holding its words.
        conn = session.connection()
        # psycopg prepares a statement run five times on a connection, and PostgreSQL then may plan it
        # once for all parameters: a plan for some slice and some words, not these.
        conn.execute(_CUSTOM_PLANS)
        top = conn.execute(select(func.max(Page.id))).scalar()
        if top is None:
            return []
        tsq = self._tsquery(query)
        pairs = self._pairs(session, query)
        found: list[Any] = []
        high, span, first = int(top), FIRST_SLICE, pairs is None
        while high > 0 and len(found) < window:
            low = max(0, high - span)
            if first:
                # One statement: match, scope and rank, newest first, stopping at `window` pages in
                # scope (for a common word, before the end of the slice).
                found = self._first_slice(session, tsq, teams, filters, low, high, window)
                # All of (low, high] was read, unless the limit cut the slice short.
                bottom = found[-1][0] - 1 if len(found) == window else low
            else:
                rows = self._slice(session, tsq, pairs, teams, low, high)
                bottom = low
                # Newest first, no more documents at a time than the window still needs.
                while rows and len(found) < window:
                    chunk, rows = rows[: window - len(found)], rows[window - len(found) :]
                    allowed = self._allowed(session, filters, {r[1] for r in chunk})
                    found += [r for r in chunk if r[1] in allowed]
            if len(found) < window and bottom > 0:
                # Density of in-scope matches so far; the next slice should hold the rest, with room.
                density = max(len(found), 1) / (int(top) - bottom)
                span = max(span * 2, int((window - len(found)) * 1.5 / density))
            high, first = bottom, False
        found.sort(key=lambda r: r[0], reverse=True)
        return found[:window]

    @staticmethod
    def _first_slice(
        session: Session,
        tsq: Any,
        teams: list[int] | None,
        filters: list[Any],
        low: int,
        high: int,
        window: int,
    ) -> list[Any]:
        """The newest `window` matching pages in scope in (low, high], ranked: a range small enough for
        the planner's own choice (a backward scan of the primary key, scope by primary-key lookups)."""
        tsv: Any = literal_column("pages.tsv")
        stmt = in_scope(
            select(Page.id, _DOCUMENT_TEXT, Page.number, func.ts_rank_cd(tsv, tsq)), filters
        ).where(tsv.op("@@")(tsq), _of_teams(teams), Page.id <= high, Page.id > low)
        return list(session.connection().execute(stmt.order_by(Page.id.desc()).limit(window)).all())

    @staticmethod
    def _slice(
        session: Session, tsq: Any, pairs: str | None, teams: list[int] | None, low: int, high: int
    ) -> list[Any]:
        """(id, document_id, number, rank) of every matching page of `teams` in (low, high], newest
        first, read as bitmaps; whether they are in scope is asked afterwards (_allowed)."""
        tsv: Any = literal_column("pages.tsv")
        if pairs is None:
            match = tsv.op("@@")(tsq)
        else:
            # The pairs index finds the candidates; the phrase itself is checked on them only.
            # ts_match_vq is @@ under another name, which the planner does not take to the tsv
            # index: a bitmap from there would need its rows rechecked, and a recheck evaluates every
            # index condition of the scan, ekakte_word_pairs() included, on every row.
            in_pairs = func.ekakte_word_pairs(tsv).op("@@")(cast(bindparam("pairs", pairs), _TSQUERY))
            match = in_pairs & func.ts_match_vq(tsv, tsq)
        stmt = select(Page.id, _DOCUMENT_TEXT, Page.number, func.ts_rank_cd(tsv, tsq)).where(
            match, _of_teams(teams), Page.id <= high, Page.ocr_state == OcrState.DONE
        )
        if low > 0:
            stmt = stmt.where(Page.id > low)
        # Past the first slice the matches are known to be sparse, and the planner's estimate for
        # several words or a phrase is not to be trusted: take the id range and the GIN index as
        # bitmaps and intersect them, rather than read every tsvector in the range (an index scan)
        # or fetch every match of the whole table (the GIN index alone, when the range is all).
        # (If the statement fails, the transaction is aborted and the settings go with it.)
        conn = session.connection()
        conn.execute(_BITMAPS_ONLY)
        rows = sorted(conn.execute(stmt).all(), key=lambda r: r[0], reverse=True)
        conn.execute(_ANY_PLAN)
        return rows

    @staticmethod
    def _allowed(session: Session, filters: list[Any], document_ids: set[str]) -> set[str]:
        """Which of these documents the search may look at (stored, and in the caller's scope)."""
        wanted = cast(bindparam("docs", "{" + ",".join(document_ids) + "}", type_=Text), _UUIDS)
        stmt = (
            select(cast(Document.id, Text))
            .join(Case, Case.id == Document.case_id)
            .where(Document.id == func.any(wanted), Document.state == DocumentState.STORED, *filters)
        )
        return set(session.connection().execute(stmt).scalars().all())

    def snippet_source(self, query: Query) -> Any:
        return func.ts_headline("german", func.coalesce(Page.text, ""), self._tsquery(query), _HEADLINE)

    def snippet(self, source: str, query: Query) -> str:
        return source

    def ignored(self, session: Session, query: Query) -> tuple[str, ...]:
        # numnode() of what the German configuration makes of a word or phrase: 0 when every word of
        # it is a stop word, which the tsvectors do not hold either.
        typed = [*query.chunks, *query.phrase_texts]
        counts = session.connection().execute(
            select(
                *(
                    func.numnode(func.plainto_tsquery("german", bindparam(f"w{i}", part)))
                    for i, part in enumerate(typed)
                )
            )
        )
        return tuple(part for part, nodes in zip(typed, counts.one(), strict=True) if not nodes)


_HEADLINE = (
    f"StartSel={SNIPPET_START}, StopSel={SNIPPET_END}, MaxWords=18, MinWords=6, MaxFragments=2,"
    ' FragmentDelimiter=" … "'
)


def _of_teams(teams: list[int] | None) -> Any:
    """Pages of these teams, as the text indexes know them (migrations 0007, 0011: negative for restricted
    pages): with the words, the team is a key of the same GIN index, so a slice reads only the caller's
    teams' matches, and restricted ones only when asked for. None: any page."""
    if teams is None:
        return true()
    return Page.team_id.in_(bindparam("teams", teams, expanding=True))


_TSQUERY = TSQUERY()
_UUIDS = ARRAY(Uuid())
# A document's id as the database keeps it, for the candidates: ~1,000 a search to compare and count.
_DOCUMENT_TEXT = cast(Page.document_id, Text)
