"""Snippets cut from a page's text the way FTS5's snippet() cuts them, and how a match is marked."""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata

from ekakte.search.query import Query

SNIPPET_START, SNIPPET_END = "[", "]"
SNIPPET_TOKENS = 16  # words in a snippet cut from a page's text
# FTS5's unicode61 tokenizer: letters and digits make tokens, everything else separates them; with
# remove_diacritics it compares them lower-cased and without their accents.
_TOKEN = re.compile(r"[^\W_]+")
_TOKENS_AND_GAPS = re.compile(r"([^\W_]+)")  # split(): gap, token, gap, token, ..., gap
_SENTENCE_END = re.compile(r"[.!?:]")


def _fold(word: str) -> str:
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# A page's words are mostly the archive's everyday vocabulary: fold each once, not on every snippet.
_fold_word = functools.lru_cache(maxsize=1 << 16)(_fold)


def fts5_snippet(text: str, query: Query) -> str:
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
