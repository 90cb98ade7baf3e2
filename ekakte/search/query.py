"""The search query language: words and "quoted phrases", all of which must match, and its limits."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ekakte.errors import InvalidInput

MAX_QUERY_CHARS = 500
MAX_TERMS = 16

# A word: letters and digits, with the combining marks that belong to them ("İ".lower() is "i" and a
# combining dot; FTS5 drops the marks, PostgreSQL's parser reads them), so it is never cut in two.
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
WORD = re.compile(rf"\w[\w{_MARKS}]*", re.UNICODE)
# What no database can be sent as text: NUL (PostgreSQL's text has none) and lone surrogates, which is how
# Python hands over bytes of a command line that are not UTF-8 ("\udcff" for 0xFF); the driver fails on
# them only when the statement is sent.
UNSENDABLE = re.compile("[\x00\ud800-\udfff]")


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
        words = WORD.findall(part)
        if index % 2 == 1 and len(words) > 1:
            phrases.setdefault(tuple(words), " ".join(part.split()))
        else:
            terms.extend(words)
            chunks.extend(c for c in part.split() if WORD.search(c))
    terms = list(dict.fromkeys(terms))  # a word given twice asks nothing more
    if len(terms) + sum(len(p) for p in phrases) > MAX_TERMS:
        raise InvalidInput(f"search query has too many words: at most {MAX_TERMS}")
    query = Query(tuple(terms), tuple(phrases), tuple(dict.fromkeys(chunks)), tuple(phrases.values()))
    if not query:
        raise InvalidInput("empty search query: give at least one word")
    return query
