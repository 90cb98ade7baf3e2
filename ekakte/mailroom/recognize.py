"""Case numbers in a page's recognised text: candidates for the configured pattern (pure functions).

Precision comes first: a letter filed in the wrong household's case is a data breach. So a candidate is
made of whole words only (never a piece of a longer number), OCR's usual confusions are undone only
where exactly one reading fits the pattern (O and 0, I, l and 1), spaces inside a number are allowed, and
no character is ever guessed. A reading that is not certain (two readings fit, a number runs on into a
neighbouring group of digits) is reported as doubtful, which keeps the document for a person.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

# What OCR reads one of these as, and back. Lower-case l is a 1 (a number has no l); upper-case I and O
# may be letters of the pattern or digits: the pattern decides, and only when one reading fits.
_CONFUSIONS = {"O": "O0", "0": "0O", "o": "0O", "I": "I1", "1": "1I", "l": "1", "|": "1"}
_LOOK_LIKE_DIGITS = "OoIl|"
_SEGMENT = re.compile(r"[A-Za-z0-9|]+(?:[ \t]+[A-Za-z0-9|]+)*")
MAX_WORDS = 5  # a number spread over more words than this is not one the sort reads
MAX_CONFUSED = 8  # readings tried per candidate: at most 2**8


@dataclass(frozen=True)
class Candidate:
    """A case number read on a page: its stored form, the text it was read from, and how."""

    case_number: str
    text: str
    how: str


@dataclass(frozen=True)
class Reading:
    """What a page's text holds: the case numbers read with certainty, and the doubtful ones."""

    candidates: tuple[Candidate, ...]
    doubtful: tuple[str, ...]


def read_case_numbers(text: str, pattern: str) -> Reading:
    """The case numbers in `text` that fit `pattern` (matched whole, upper case, as the archive stores
    them). Each run of words (letters and digits, separated by spaces) is tried as a whole and in every
    sub-run of up to MAX_WORDS words; a sub-run next to a word of digits is doubtful (the number may go
    on)."""
    compiled = re.compile(pattern, re.ASCII)
    found: dict[str, Candidate] = {}
    doubtful: list[str] = []
    for line in text.splitlines():
        for segment in _SEGMENT.finditer(line):
            words = segment.group().split()
            for start, end in _runs(len(words)):
                joined = "".join(words[start:end])
                readings = _readings(joined, compiled)
                shown_text = " ".join(words[start:end])
                if readings is None:  # too many look-alike characters to try every reading: not certain
                    if _may_be_one(joined, compiled):
                        doubtful.append(shown_text)
                    continue
                if not readings:
                    continue
                before = words[start - 1] if start > 0 else _across(line, segment.start(), -1)
                after = words[end] if end < len(words) else _across(line, segment.end(), +1)
                if len(readings) > 1 or _digits(before) or _digits(after):
                    doubtful.append(shown_text)
                    continue
                value = readings.pop()
                how = "read as written" if value == joined.upper() else "O/0, I/1/l read as the pattern needs"
                if end - start > 1:
                    how += ", spaces inside the number left out"
                found.setdefault(value, Candidate(value, shown_text, how))
    return Reading(tuple(found.values()), tuple(doubtful))


def _runs(n: int) -> list[tuple[int, int]]:
    return [(s, e) for s in range(n) for e in range(s + 1, min(n, s + MAX_WORDS) + 1)]


def _digits(word: str) -> bool:
    return bool(word) and all(c.isdigit() or c in "Ool|I" for c in word) and any(c.isdigit() for c in word)


def _readings(word: str, pattern: re.Pattern[str]) -> set[str] | None:
    r"""Every reading of `word` (its confusable characters each one way or the other) that fits. A digit
    is tried as a letter only when the pattern may hold an O or an I at all (`_letters_o_i`): in
    `\d{5}BG\d{7}` a 0 is a 0, and a number of ten zeros is one reading, not 2**10. None: more
    look-alike characters than MAX_CONFUSED, so not every reading is tried."""
    if len(word) > 40:
        return set()
    digits_too = _letters_o_i(pattern.pattern)
    positions = [i for i, c in enumerate(word) if c in _LOOK_LIKE_DIGITS or (digits_too and c in "01")]
    if len(positions) > MAX_CONFUSED:
        return None
    fits: set[str] = set()
    for choice in itertools.product(*(_CONFUSIONS[word[i]] for i in positions)):
        chars = list(word)
        for i, c in zip(positions, choice, strict=True):
            chars[i] = c
        value = "".join(chars).upper()
        if value.isascii() and pattern.fullmatch(value):
            fits.add(value)
    return fits


def _letters_o_i(pattern: str) -> bool:
    """Whether a case number of `pattern` may hold the letter O or I (so that a 0 or 1 read by OCR might
    be one): the pattern names them, has a character class, a wildcard or an escape that takes letters
    (\\w, \\D, \\S, .), or ignores case. On the safe side: more readings tried means more doubt."""
    return bool(re.search(r"[OIoi\[.]|\\[wDSW]|\(\?[a-z]*i", pattern))


def _across(line: str, edge: int, step: int) -> str:
    """The word on the other side of one punctuation character at `edge` of a run of words
    ("12345BG0001234-5": the number may go on); empty if there is none."""
    mark = edge if step > 0 else edge - 1
    if not 0 <= mark < len(line) or line[mark].isspace():
        return ""
    beyond = mark + step
    word = ""
    while 0 <= beyond < len(line) and line[beyond].isalnum():
        word = word + line[beyond] if step > 0 else line[beyond] + word
        beyond += step
    return word


def _may_be_one(word: str, pattern: re.Pattern[str]) -> bool:
    """Whether `word`, with its look-alike letters read as digits, fits: worth calling doubtful."""
    digits = word.translate(str.maketrans("OoIl|", "00111")).upper()
    return bool(pattern.fullmatch(digits))
