"""Reading case numbers in OCR text: OCR's usual confusions undone, nothing guessed, doubt kept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ekakte.config import DEFAULT_CASE_NUMBER_PATTERN as PATTERN
from ekakte.mailroom.recognize import read_case_numbers

CASE = "12345BG0001234"


@pytest.mark.parametrize(
    ("text", "found", "doubtful"),
    [
        ("Aktenzeichen: 12345BG0001234 vom 03.11.2026", [CASE], []),
        ("BG-Nummer 12345 BG 0001234", [CASE], []),
        ("Az. l2345BGOOO1234", [CASE], []),  # l and O read as the digits the pattern needs there
        ("Az. I2345BG0001234", [CASE], []),
        ("12345bg0001234", [CASE], []),  # stored in upper case
        ("BG 70000BG0000000", ["70000BG0000000"], []),  # ten zeros: one reading, not 2**10
        ("Az. 1234SBG0001234", [], []),  # S is not read as 5: that would be a guess
        ("Az. 12345BG000123", [], []),  # a digit short: never filled in
        ("Az. 123456BG0001234", [], []),  # part of a longer number: not a candidate
        ("12345BG0001234 5", [], ["12345BG0001234"]),  # the number may go on
        ("9 12345BG0001234", [], ["12345BG0001234"]),
        ("Az. 12345BG0001234-5", [], ["12345BG0001234"]),  # across a hyphen too
        ("Az. 12345BG0001234/2026", [], ["12345BG0001234"]),
        ("Az.: 12345BG0001234.", [CASE], []),  # the end of a sentence is not a continuation
        # too many look-alike letters to try every reading: doubtful, never ignored beside a clean one
        ("7OOOOBGOOOOOOO und 12345BG0001234", [CASE], ["7OOOOBGOOOOOOO"]),
        ("12345BG0001234 und 54321BG7654321", [CASE, "54321BG7654321"], []),
        ("IBAN DE89 3704 0044 0532 0130 00, Tel. 0221 12345", [], []),
    ],
)
def test_case_numbers_are_read_as_written_or_as_the_pattern_needs(
    text: str, found: list[str], doubtful: list[str]
) -> None:
    reading = read_case_numbers(text, PATTERN)
    assert [c.case_number for c in reading.candidates] == found
    assert list(reading.doubtful) == doubtful


def test_how_a_number_was_read_is_said() -> None:
    (candidate,) = read_case_numbers("BG 12345 BGOOO1234", PATTERN).candidates
    assert candidate.text == "12345 BGOOO1234"
    assert candidate.how == "O/0, I/1/l read as the pattern needs, spaces inside the number left out"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789 BGOIl.,:-\n", max_size=60))
def test_whatever_is_read_fits_the_pattern_and_came_from_whole_words(text: str) -> None:
    import re

    for candidate in read_case_numbers(text, PATTERN).candidates:
        assert re.fullmatch(PATTERN, candidate.case_number, re.ASCII)
        assert all(word in text for word in candidate.text.split())
        assert len(candidate.text.replace(" ", "")) == len(candidate.case_number)
