"""Full-text search over the pages' text: the query language, and its two SQL dialects.

A query is words and "quoted phrases", all of which must match (AND). Nothing in it is SQL or an
index operator: it reaches the database only as bind parameters, to FTS5 as double-quoted strings
of letters and digits, to PostgreSQL through plainto_tsquery / phraseto_tsquery, which have no
operators.
  PostgreSQL  the generated tsvector pages.tsv (German configuration: stemming, so "Mietvertrag"
              finds "Mietverträge"), ranked with ts_rank_cd, snippets by ts_headline. The query is
              parsed as typed, like the pages, so "22.07.2026" is one token in both; words the German
              configuration drops (stop words such as "und", "der") match nothing on their own.
              Phrases are looked up in an index of each page's neighbouring word pairs (migration
              0005) and checked with phraseto_tsquery on what it finds.
  SQLite      the FTS5 table pages_fts (unicode61 with diacritics removed, no stemming): every word
              matches as a prefix, so "Mietvertrag" finds "Mietverträge" and "Mietvertrags" but
              "Verträge" does not find "Vertrag"; ranked with bm25; snippets cut from the pages' text
              the way FTS5's snippet() does (_fts5_snippet), without evaluating the MATCH again.
Access comes first: the query itself only looks at pages of documents the actor may read (cases of its
teams; restricted documents, by their own flag, only with the health clearance), so nothing it cannot
see is counted or ranked. The text indexes are per team (pages.team_id, a copy of the case's team,
migration 0007, negative for the pages of restricted documents, migration 0011), so the index hands out
only the caller's teams' matches, their restricted pages only to a caller with the health clearance (for
such a caller of every team, the words alone: _index_teams); the join against documents and cases still
decides. Of the pages it may
see, the newest RANK_WINDOW matching ones are ranked: FTS5 walks its doclists newest first; PostgreSQL
reads slices of page ids from the newest down, each sized from the density of in-scope matches so far
(_Postgres.candidates), since neither a backward scan nor the GIN index alone is fast for every query
and its statistics cannot tell which is.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from sqlalchemy import (
    Integer,
    Select,
    String,
    Text,
    Uuid,
    bindparam,
    cast,
    column,
    false,
    func,
    literal_column,
    select,
    table,
    text,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY
from sqlalchemy.orm import Session

from ekakte import audit
from ekakte.access import Action, Scope, gate, refuse, search_scope
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import Case, Document, DocumentState, OcrState, Page, Team
from ekakte.errors import InvalidInput, shown

MAX_LIMIT = 200
MAX_QUERY_CHARS = 500
MAX_TERMS = 16
SNIPPET_START, SNIPPET_END = "[", "]"
# At most this many matching pages, the newest first, are ranked. A word found on most pages of an
# archive would otherwise have every one of its pages ranked on each search (seconds at 200,000
# documents). Below the window, ranking is by relevance alone; above it, recency decides which pages
# are ranked, and SearchResult.window_full says so. See docs/benchmarks.md, "search".
RANK_WINDOW = 1000
# PostgreSQL reads the newest pages in slices of ids (see _Postgres.candidates); the first is this many.
_FIRST_SLICE = 4096
# For a slice read as bitmaps, then back (two statements, one round trip each; SET LOCAL ends with the
# transaction in any case).
_BITMAPS_ONLY = text("SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = off")
_ANY_PLAN = text("SET LOCAL enable_indexscan TO DEFAULT; SET LOCAL enable_seqscan TO DEFAULT")
_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")

# A word: letters and digits, with the combining marks that belong to them ("İ".lower() is "i" and a
# combining dot; FTS5 drops the marks, PostgreSQL's parser reads them), so it is never cut in two.
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_WORD = re.compile(rf"\w[\w{_MARKS}]*", re.UNICODE)
# What no database can be sent as text: NUL (PostgreSQL's text has none) and lone surrogates, which is how
# Python hands over bytes of a command line that are not UTF-8 ("\udcff" for 0xFF); the driver fails on
# them only when the statement is sent.
_UNSENDABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class Query:
    """What the caller asked for, twice over: as words (terms, phrases), which is how FTS5 reads text,
    and as typed (chunks, phrase_texts), which PostgreSQL's parser reads as it read the pages, so that
    "22.07.2026" or "Müller-Lüdenscheid" are one token in the query as in the page."""

    terms: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]
    chunks: tuple[str, ...] = ()
    phrase_texts: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms or self.phrases)


def parse_query(raw: str) -> Query:
    """Words and "quoted phrases". Anything but letters and digits separates words; an unclosed quote
    quotes to the end. InvalidInput for an empty or oversized query."""
    if len(raw) > MAX_QUERY_CHARS:
        raise InvalidInput(f"search query too long: at most {MAX_QUERY_CHARS} characters")
    raw = unicodedata.normalize("NFC", raw)  # "Müller" typed as u + combining diaeresis is "Müller"
    terms: list[str] = []
    chunks: list[str] = []
    phrases: dict[tuple[str, ...], str] = {}
    for index, part in enumerate(raw.split('"')):
        # lower(), not casefold(): casefold makes ß "ss", and the indexes keep ß as it is.
        part = part.lower()
        words = _WORD.findall(part)
        if index % 2 == 1 and len(words) > 1:
            phrases.setdefault(tuple(words), " ".join(part.split()))
        else:
            terms.extend(words)
            chunks.extend(c for c in part.split() if _WORD.search(c))
    terms = list(dict.fromkeys(terms))  # a word given twice asks nothing more
    if len(terms) + sum(len(p) for p in phrases) > MAX_TERMS:
        raise InvalidInput(f"search query has too many words: at most {MAX_TERMS}")
    query = Query(tuple(terms), tuple(phrases), tuple(dict.fromkeys(chunks)), tuple(phrases.values()))
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


@dataclass(frozen=True)
class SearchResult:
    """The hits, best first, and whether more pages matched than were ranked (see RANK_WINDOW): then
    the hits are the best among the newest matching pages, and more words or --case narrow it."""

    hits: list[SearchHit]
    window_full: bool
    # Words and phrases of the query (as typed, lower-cased) that the index leaves out, so they could not
    # be searched for: on PostgreSQL the German stop words ("sehr", "zu einem"). Told only when nothing
    # was found, where a caseworker would otherwise read "no such document" into it.
    ignored: tuple[str, ...] = ()


class _Dialect(Protocol):
    """How one database matches, ranks and cuts snippets."""

    # Below this share of the archive's teams, the caller's teams are asked of the text index (_index_teams);
    # 1.0: unless the caller is of every team, whose search then passes over only unassigned cases' pages.
    # (Without the health clearance, only where words_without_restricted.)
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


def _in_scope(stmt: Select[Any], filters: list[Any]) -> Select[Any]:
    return (
        stmt.join(Document, Document.id == Page.document_id)
        .join(Case, Case.id == Document.case_id)
        .where(Page.ocr_state == OcrState.DONE, Document.state == DocumentState.STORED, *filters)
    )


class _Postgres:
    """tsvector / tsquery with the German configuration."""

    # The (team_id, tsv) index is the cheaper way for any caller not of every team: ten teams, a caller
    # of 1, 2, 3, 5 of them, p95 35-51 ms with the teams against 230, 139, 90, 61 ms without.
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
        # found, which for a query matching 0.3 % of the pages is the whole table (~500 ms at 200,000);
        # the GIN index alone fetches every matching row before the newest are chosen (~400 ms for a
        # word on half the pages). And the planner cannot tell which case it is in: words on the same
        # pages (and phrases) are far more or less frequent together than their statistics say.
        # So the id range is walked from the newest page down, in slices sized from the density of
        # in-scope matches seen so far: the first slice is small enough for either plan; later ones are
        # read as GIN bitmap AND primary-key range (planner hint, see _slice), so the rows fetched are
        # about the matches still needed. Only rows in scope count towards the window.
        # A phrase is found through the index of word pairs from the first slice on: it names the
        # pages holding the phrase's pairs, not every page holding its words.
        conn = session.connection()
        # psycopg prepares a statement run five times on a connection, and PostgreSQL then may plan it
        # once for all parameters: a plan for some slice and some words, not these (~100 ms lost).
        conn.execute(_CUSTOM_PLANS)
        top = conn.execute(select(func.max(Page.id))).scalar()
        if top is None:
            return []
        tsq = self._tsquery(query)
        pairs = self._pairs(session, query)
        found: list[Any] = []
        high, span, first = int(top), _FIRST_SLICE, pairs is None
        while high > 0 and len(found) < window:
            low = max(0, high - span)
            if first:
                # One statement: match, scope and rank, newest first, stopping at `window` pages in
                # scope (a common word: ~2,000 rows read, not 4,096).
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
        stmt = _in_scope(
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
            # index condition of the scan, ekakte_word_pairs() included (~0.25 ms a row).
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
_FTS = table("pages_fts", column("rowid", Integer))
# How pages_fts holds a page's team (migrations 0007, 0011): U+E000, a private-use character, and the
# number; for the pages of restricted documents (a negative copy), U+E001 and the number.
_TEAM_TOKEN = "\ue000"
_RESTRICTED_TEAM_TOKEN = "\ue001"


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


def _team_token(team: int) -> str:
    """The FTS5 token of a team's pages (team > 0) or of its restricted pages (team < 0)."""
    return f"{_RESTRICTED_TEAM_TOKEN}{-team}" if team < 0 else f"{_TEAM_TOKEN}{team}"


class _Sqlite:
    """FTS5: every word a prefix, phrases as phrases; diacritics folded by the tokenizer."""

    # Asked for the caller's teams unless it is of every team, as on PostgreSQL, although for a caller of
    # many teams the words alone were a few ms faster (ten teams, a caller of 1, 2, 3, 5 of them, p95 38,
    # 40, 39, 40 ms with the teams against 60, 43, 38, 37 without): with the words alone, the time of a
    # search grew with the other teams' matching pages (3.14 against 2.07 ms for a word on none), which
    # tells a caseworker whether a name occurs in another team's files. `make bench`, group oracles.
    teams_share = 1.0
    words_without_restricted = True

    @staticmethod
    def expression(query: Query, teams: list[int] | None, restricted: bool = True) -> str:
        # Each word is double-quoted (an FTS5 string, so no word can be an operator such as NOT or
        # NEAR) and, outside phrases, a prefix. _WORD has already dropped every quote character.
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
        stmt = _in_scope(
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
        # Cut here from the page's text, the way FTS5 reads it (_fts5_snippet): FTS5's snippet() must
        # evaluate the MATCH again over the ids, which for words on many pages costs as much as the
        # search did (a rowid range spanning the window: 10-45 ms; a lookup per id: ~400 ms).
        return _fts5_snippet(source, query)

    def ignored(self, session: Session, query: Query) -> tuple[str, ...]:
        return ()  # FTS5 indexes every word: there are no stop words


# FTS5's unicode61 tokenizer: letters and digits make tokens, everything else separates them; with
# remove_diacritics it compares them lower-cased and without their accents.
_TOKEN = re.compile(r"[^\W_]+")
_TOKENS_AND_GAPS = re.compile(r"([^\W_]+)")  # split(): gap, token, gap, token, ..., gap
_SENTENCE_END = re.compile(r"[.!?:]")
SNIPPET_TOKENS = 16


def _fold(word: str) -> str:
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# A page's words are mostly the archive's everyday vocabulary: fold each once, not on every snippet.
_fold_word = functools.lru_cache(maxsize=1 << 16)(_fold)


def _fts5_snippet(text: str, query: Query) -> str:
    """The stretch of SNIPPET_TOKENS words of `text` with the most of the query's words and phrases in
    it, the matches marked, "…" where it is cut: close to what FTS5's snippet() gives, for the SQLite
    dialect, where a word matches as a prefix and a phrase word by word."""
    pieces = _TOKENS_AND_GAPS.split(text)
    gaps, tokens = pieces[0::2], pieces[1::2]  # gaps[i] stands before tokens[i]; one gap more at the end
    if not tokens:
        return ""
    words = [_fold_word(t) for t in tokens]
    where: dict[str, list[int]] = {}  # word -> its token indexes
    for i, word in enumerate(words):
        where.setdefault(word, []).append(i)
    # Each part of the query as FTS5 reads it: its tokens (a word such as "kontoauszug_2025" is two),
    # the last one a prefix for a word, whole for a phrase.
    parts = [(_TOKEN.findall(_fold(t)), True) for t in query.terms]
    parts += [(_TOKEN.findall(_fold(" ".join(p))), False) for p in query.phrases]
    # token index -> (which of the query's parts it matches, the match it is part of)
    hit: dict[int, tuple[int, int]] = {}
    for part, (part_tokens, prefix) in enumerate(parts):
        if not part_tokens:
            continue
        *whole, last = part_tokens
        if prefix:
            ends = sorted(i for word, at in where.items() if word.startswith(last) for i in at)
        else:
            ends = where.get(last, [])
        for end in ends:
            begin = end - len(whole)
            if begin >= 0 and words[begin:end] == whole:
                for k in range(begin, end + 1):
                    hit.setdefault(k, (part, begin))
    n = min(SNIPPET_TOKENS, len(tokens))
    # The most parts of the query, then the most matches; among equals, like FTS5, a stretch that
    # begins a sentence, then the one with its matches nearest the middle. Slid one word at a time.
    positions = sorted(hit)
    in_window: dict[int, int] = {}  # part -> matches of it in the window
    for i in positions[: bisect.bisect_left(positions, n)]:
        in_window[hit[i][0]] = in_window.get(hit[i][0], 0) + 1
    parts_in, hits_in = len(in_window), sum(in_window.values())
    best, best_score = 0, (-1, -1, -1, -float(n))
    centre = (n - 1) / 2
    for start in range(len(tokens) - n + 1):
        if start:
            gone, came = start - 1, start + n - 1
            if gone in hit:
                part = hit[gone][0]
                hits_in -= 1
                in_window[part] -= 1
                if not in_window[part]:
                    del in_window[part]
                    parts_in -= 1
            if came in hit:
                part = hit[came][0]
                hits_in += 1
                parts_in += part not in in_window
                in_window[part] = in_window.get(part, 0) + 1
        if parts_in < best_score[0] or (parts_in == best_score[0] and hits_in < best_score[1]):
            continue
        begins = start == 0 or _SENTENCE_END.search(gaps[start]) is not None
        if hits_in:
            first = bisect.bisect_left(positions, start)
            last = bisect.bisect_left(positions, start + n) - 1
            middle = (positions[first] + positions[last]) / 2 - start
        else:
            middle = centre
        score = (parts_in, hits_in, int(begins), -abs(middle - centre))
        if score > best_score:
            best, best_score = start, score
    out = []
    for i in range(best, best + n):
        if i > best:
            out.append(gaps[i])
        match = hit.get(i)
        if match and (i == best or hit.get(i - 1) != match):
            out.append(SNIPPET_START)  # a phrase is marked as one: "[Gutschrift Jobcenter]"
        out.append(tokens[i])
        if match and (i == best + n - 1 or hit.get(i + 1) != match):
            out.append(SNIPPET_END)
    lead = "… " if best > 0 else ""
    rest = " …" if best + n < len(tokens) else gaps[-1]  # the last word's full stop, if it ends the text
    return (lead + "".join(out) + rest).strip()


def _dialect(session: Session) -> _Dialect:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return _Postgres()
    if name == "sqlite":
        return _Sqlite()
    raise NotImplementedError(f"unsupported database dialect {name}")


def search(
    archive: Archive,
    actor: Actor,
    query: str,
    *,
    case_number: str | None = None,
    document_type: str | None = None,
    limit: int = 20,
) -> SearchResult:
    """The documents matching `query` that the actor may read, best first: each with its best page.

    Refused (NotPermitted) for roles without content access; the search is audited either way, with
    the query, since searching social data is itself an access to it.
    """
    settings = archive.settings
    number = settings.case_number(case_number) if case_number else None
    _refuse_unsendable(archive, actor, query, number)
    parsed = parse_query(query)
    wanted_type = settings.document_type(document_type) if document_type else None
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"the limit of a search is 1 to {MAX_LIMIT} hits", field="limit")

    # The decision's entry is committed before the search runs, in a transaction of its own: whatever
    # the search statement then does (fail, time out, be cancelled), the entry stays. (It also keeps the
    # audit chain's lock, held to commit, from being held for the whole search.)
    with archive.transaction() as session:
        decision = gate(session, actor, Action.SEARCH, case_number=number, detail=f"search {query[:200]!r}")
    if not decision.allowed:
        raise refuse("search")
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
        return _run(session, parsed, scope, filters, limit)


def _refuse_unsendable(archive: Archive, actor: Actor, query: str, number: str | None) -> None:
    """InvalidInput for query text no database can be sent, after committing an entry that says so: the
    attempt is an access like any search, and its text is kept escaped (errors.shown), as typed."""
    found = _UNSENDABLE.search(query)
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


def _index_teams(session: Session, dialect: _Dialect, scope: Scope) -> tuple[list[int] | None, bool]:
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


def _run(session: Session, query: Query, scope: Scope, filters: list[Any], limit: int) -> SearchResult:
    """Rank the window of candidates: the best page of each document, the best documents first."""
    dialect = _dialect(session)
    teams, restricted = _index_teams(session, dialect, scope)
    candidates = dialect.candidates(session, query, teams, filters, RANK_WINDOW + 1, restricted=restricted)
    window_full = len(candidates) > RANK_WINDOW
    best: dict[str, tuple[float, int, int]] = {}  # document id (text) -> (rank, -page number, page id)
    for page_id, document_id, number, rank in candidates[:RANK_WINDOW]:
        entry = (float(rank or 0.0), -number, page_id)
        if document_id not in best or entry > best[document_id]:
            best[document_id] = entry
    # Ties by document id: its text (hex digits, on PostgreSQL with dashes in fixed places) sorts as its
    # bytes do.
    ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))[:limit]
    if not ranked:
        return SearchResult([], window_full, dialect.ignored(session, query))
    page_ids = [page_id for _doc, (_rank, _n, page_id) in ranked]
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
    for _doc, (rank, _n, page_id) in ranked:
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
                rank=rank,
            )
        )
    return SearchResult(hits, window_full)
