"""Property-based tests (hypothesis) of the input parsers: sidecars, case numbers, dates, search queries.

Every test is derandomized and runs without the example database, so a CI run is reproducible.
(Hypothesis still caches source constants in .hypothesis/, which carries its own "*" .gitignore.)
The bugs these tests found (a huge integer in a sidecar, non-ASCII digits in case numbers, words
cut in two at combining marks) have tests of their own below.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
import unicodedata
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ekakte.config import DEFAULT_CASE_NUMBER_PATTERN, Settings, load_settings
from ekakte.errors import InvalidInput
from ekakte.hotfolder import MAX_SIDECAR_BYTES, SIDECAR_FIELDS, read_sidecar
from ekakte.ingest import parse_date
from ekakte.search import MAX_QUERY_CHARS, MAX_TERMS, SNIPPET_START, Query, parse_query
from ekakte.search.snippets import fts5_snippet
from ekakte.search.sqlite import SqliteDialect

PROPERTY = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow],
)


def one_line(message: str) -> bool:
    return "\n" not in message and len(message.splitlines()) == 1


# --------------------------------------------------------------------------------------------------
# Sidecars
# --------------------------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=12,
)
sidecar_keys = st.one_of(st.sampled_from(SIDECAR_FIELDS), st.text(max_size=12))
TRAVERSAL = [
    "../../etc/passwd",
    "/etc/passwd",
    "..\\..\\Windows\\system32\\config\\SAM",
    "file:///etc/shadow",
    "~/.ssh/id_rsa",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "scan.json/../../../../tmp/evil",
    "../\x00/etc/passwd",
    "$(touch /tmp/pwned)",
    "\\\\server\\share\\file",
]


def _dump(value: Any, ascii_only: bool, indent: int | None) -> str:
    return json.dumps(value, ensure_ascii=ascii_only, indent=indent)


def _mutated(text: str, data: st.DataObject) -> str:
    """The JSON text, possibly truncated or with a stray character inserted (almost-JSON)."""
    how = data.draw(st.sampled_from(["keep", "truncate", "insert"]))
    if how == "keep" or not text:
        return text
    at = data.draw(st.integers(0, len(text)))
    if how == "truncate":
        return text[:at]
    stray: str = data.draw(st.sampled_from([*'{}[]",:\\\x00\ufeff ', "NaN", "1e999"]))
    return text[:at] + stray + text[at:]


@st.composite
def sidecar_contents(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["binary", "json", "object", "valid"]))
    if kind == "binary":
        return draw(st.binary(max_size=200))
    if kind == "json":
        value: Any = draw(json_values)
    elif kind == "object":
        value = draw(st.dictionaries(sidecar_keys, json_values, max_size=6))
    else:
        value = draw(
            st.dictionaries(
                st.sampled_from(SIDECAR_FIELDS), st.one_of(st.text(), st.sampled_from(TRAVERSAL)), max_size=5
            )
        )
    text = _dump(value, draw(st.booleans()), draw(st.sampled_from([None, 0, 2])))
    text = _mutated(text, draw(st.data()))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    return text.encode(encoding, errors="replace")


def expected_sidecar(content: bytes) -> dict[str, str] | None:
    """The oracle: the fields read_sidecar must return, or None when it must refuse the content."""
    if len(content) > MAX_SIDECAR_BYTES:
        return None
    try:
        data = json.loads(content.decode("utf-8"))
    except Exception:  # any failure to decode or parse is a refusal, whatever its class
        return None
    if not isinstance(data, dict) or set(data) - set(SIDECAR_FIELDS):
        return None
    if not all(isinstance(v, str) for v in data.values()):
        return None
    return data


@pytest.fixture(scope="module")
def sidecar_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sidecars")


def write_sidecar(directory: Path, content: bytes) -> Path:
    path = directory / "scan.json"
    path.write_bytes(content)
    return path


# File-system events seen while read_sidecar runs (None while nobody listens). An audit hook cannot be
# removed again, so it is installed once and does nothing outside _recording().
_FILE_EVENTS = {
    "open",
    "os.remove",
    "os.rename",
    "os.mkdir",
    "os.rmdir",
    "os.symlink",
    "os.link",
    "os.truncate",
    "os.chmod",
    "os.chown",
    "os.listdir",
    "os.scandir",
    "shutil.copyfile",
    "shutil.move",
    "shutil.rmtree",
}
_recorded: list[tuple[str, tuple[Any, ...]]] | None = None
_hook_installed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _recorded is not None and event in _FILE_EVENTS:
        _recorded.append((event, args))


class _Recording:
    def __enter__(self) -> list[tuple[str, tuple[Any, ...]]]:
        global _recorded, _hook_installed
        if not _hook_installed:
            sys.addaudithook(_audit)
            _hook_installed = True
        _recorded = []
        return _recorded

    def __exit__(self, *exc: object) -> None:
        global _recorded
        _recorded = None


@PROPERTY
@given(content=sidecar_contents())
@example(content=b"")
@example(content=b"\xef\xbb\xbf{}")
@example(content=b'{"case": "x", "case": 1}')
@example(content=b'{"case": NaN}')
@example(content=b"[" * 60_000)  # deeper than the recursion limit, under the size limit
@example(content=b'{"title": "\\ud800"}')
def test_any_sidecar_content_gives_the_allowed_string_fields_or_invalid_input(
    sidecar_dir: Path, content: bytes
) -> None:
    path = write_sidecar(sidecar_dir, content)
    expected = expected_sidecar(content)
    try:
        got = read_sidecar(path)
    except InvalidInput as exc:
        assert one_line(str(exc)), str(exc)
        assert expected is None, f"refused a valid sidecar: {exc}"
        return
    assert set(got) <= set(SIDECAR_FIELDS)
    assert all(isinstance(v, str) for v in got.values())
    assert got == expected


@PROPERTY
@given(fields=st.dictionaries(st.sampled_from(SIDECAR_FIELDS), st.text()), ascii_only=st.booleans())
def test_a_valid_sidecar_round_trips(sidecar_dir: Path, fields: dict[str, str], ascii_only: bool) -> None:
    content = _dump(fields, ascii_only, None).encode()
    if len(content) > MAX_SIDECAR_BYTES:
        return
    assert read_sidecar(write_sidecar(sidecar_dir, content)) == fields


@PROPERTY
@given(slack=st.integers(-3, 3))
def test_the_size_limit_is_exact(sidecar_dir: Path, slack: int) -> None:
    skeleton = b'{"title": ""}'
    content = skeleton[:-2] + b"x" * (MAX_SIDECAR_BYTES - len(skeleton) + slack) + skeleton[-2:]
    path = write_sidecar(sidecar_dir, content)
    if len(content) <= MAX_SIDECAR_BYTES:
        assert read_sidecar(path) == {"title": "x" * (len(content) - len(skeleton))}
    else:
        with pytest.raises(InvalidInput, match="larger than"):
            read_sidecar(path)


@PROPERTY
@given(
    fields=st.dictionaries(
        st.sampled_from(SIDECAR_FIELDS),
        st.one_of(
            st.sampled_from(TRAVERSAL),
            st.builds(lambda a, b: a + b, st.sampled_from(TRAVERSAL), st.text(max_size=10)),
        ),
        min_size=1,
    )
)
def test_path_like_values_are_data_and_touch_no_file(sidecar_dir: Path, fields: dict[str, str]) -> None:
    path = write_sidecar(sidecar_dir, _dump(fields, False, None).encode())
    before = sorted(p.name for p in sidecar_dir.iterdir())
    with _Recording() as events:
        got = read_sidecar(path)
    assert got == fields  # returned verbatim, as text: nothing resolved, expanded or opened
    assert events, "the audit hook saw nothing: the check would be vacuous"
    # Only reads, and only of the sidecar's folder, the sidecar by its name in that folder (opened
    # relative to the folder's descriptor) and the sidecar's own descriptor made a file object.
    allowed = {os.fspath(path.parent), path.name}
    for event, args in events:
        assert event == "open", (event, args)
        opened, mode, flags = args
        assert isinstance(opened, int) or os.fspath(opened) in allowed, f"read_sidecar opened {opened!r}"
        assert mode in (None, "r", "rb") and not flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT), (mode, flags)
    assert sorted(p.name for p in sidecar_dir.iterdir()) == before


@pytest.mark.parametrize(
    "content",
    [b'{"case": ' + b"1" * 5000 + b"}", b"1" * 5000, b'{"title": "x", "x": [' + b"9" * 4301 + b"]}"],
)
def test_a_sidecar_with_a_huge_integer_is_invalid_input(sidecar_dir: Path, content: bytes) -> None:
    with pytest.raises(InvalidInput):
        read_sidecar(write_sidecar(sidecar_dir, content))


# --------------------------------------------------------------------------------------------------
# Case numbers and dates
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ekakte_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings({"EKAKTE_HOME": str(tmp_path_factory.mktemp("home"))})


padding = st.text(alphabet=" \t\n\r\x0b\x0c\u00a0\u2003\u3000", max_size=3)
case_like = st.one_of(
    st.text(),
    st.from_regex(DEFAULT_CASE_NUMBER_PATTERN, fullmatch=True),
    st.from_regex(r"\s*\d{4,6}[bBgG]{1,3}\d{6,8}\s*", fullmatch=True),
    st.builds(lambda a, n, b: a + n + b, padding, st.from_regex(r"\d{5}bg\d{7}", fullmatch=True), padding),
    st.builds(
        lambda a, n, b: a + n + b,
        st.text(max_size=3),
        st.from_regex(r"[0-9]{5}[bB][gG][0-9]{7}", fullmatch=True),
        st.text(max_size=3),
    ),
)


@PROPERTY
@given(value=case_like)
@example(value="12345BG0001234\n")
@example(value="12345ßG0001234")
@example(value="12345BG00012345")
@example(value="x12345BG0001234")
def test_a_case_number_is_normalised_to_the_pattern_or_refused(ekakte_settings: Settings, value: str) -> None:
    try:
        got = ekakte_settings.case_number(value)
    except InvalidInput as exc:
        assert one_line(str(exc)), str(exc)
        # Whatever is an ASCII case number once trimmed and upper-cased must be accepted. (Refusing
        # non-ASCII digits is allowed here: test_a_case_number_with_non_ascii_digits_is_refused wants it.)
        assert not re.fullmatch(DEFAULT_CASE_NUMBER_PATTERN, value.strip().upper(), re.ASCII)
        return
    assert re.fullmatch(DEFAULT_CASE_NUMBER_PATTERN, got)
    assert got == value.strip().upper()
    assert ekakte_settings.case_number(got) == got  # idempotent


@PROPERTY
@given(
    number=st.from_regex(re.compile(r"\d{5}BG\d{7}", re.ASCII), fullmatch=True),
    lower=st.booleans(),
    before=padding,
    after=padding,
)
def test_every_ascii_case_number_of_the_pattern_is_accepted(
    ekakte_settings: Settings, number: str, lower: bool, before: str, after: str
) -> None:
    typed = before + (number.lower() if lower else number) + after
    assert ekakte_settings.case_number(typed) == number


@pytest.mark.parametrize(
    "value",
    [
        "١٢٣٤٥BG٠٠٠١٢٣٤",  # Arabic-Indic digits
        "１２３４５BG０００１２３４",  # fullwidth digits
        "१२३४५BG०००१२३४",  # Devanagari digits
    ],
)
def test_a_case_number_with_non_ascii_digits_is_refused(ekakte_settings: Settings, value: str) -> None:
    with pytest.raises(InvalidInput):
        ekakte_settings.case_number(value)


# Most of st.dates() (years 1 to 9999) lies outside [1900, today]; the second strategy keeps the edges busy.
any_dates = st.one_of(st.dates(), st.dates(date(1895, 1, 1), date.today() + timedelta(days=400)))


@st.composite
def date_texts(draw: st.DrawFn) -> str:
    d = draw(any_dates)
    form = draw(st.sampled_from(["iso", "german", "garbled"]))
    if form == "iso":
        text = f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
    elif form == "german":
        text = f"{d.day:02d}.{d.month:02d}.{d.year:04d}"
    else:
        text = draw(st.from_regex(r"[0-9٠-٩]{1,4}[-./ ][0-9]{1,2}[-./ ][0-9]{1,4}", fullmatch=True))
    return draw(padding) + text + draw(padding)


@PROPERTY
@given(text=st.one_of(st.text(), date_texts()))
@example(text="0001-01-01")
@example(text="9999-12-31")
@example(text="29.02.2000")
@example(text="2026-02-30")
def test_a_date_is_in_range_or_refused(text: str) -> None:
    try:
        got = parse_date(text)
    except InvalidInput as exc:
        assert one_line(str(exc)), str(exc)
        return
    assert date(1900, 1, 1) <= got <= date.today()


@PROPERTY
@given(d=any_dates, german=st.booleans(), before=padding, after=padding)
@example(d=date(1899, 12, 31), german=True, before="", after="")
@example(d=date(1900, 1, 1), german=False, before="", after="")
@example(d=date.today(), german=True, before=" ", after="\n")
@example(d=date.today() + timedelta(days=1), german=False, before="", after="")
def test_a_well_formed_date_is_read_exactly(d: date, german: bool, before: str, after: str) -> None:
    text = f"{d.day:02d}.{d.month:02d}.{d.year:04d}" if german else f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
    if date(1900, 1, 1) <= d <= date.today():
        assert parse_date(before + text + after) == d
    else:
        with pytest.raises(InvalidInput):
            parse_date(before + text + after)


# --------------------------------------------------------------------------------------------------
# Search queries
# --------------------------------------------------------------------------------------------------

# A word is \w followed by \w or combining marks (see ekakte.search.query.WORD).
MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
WORD = re.compile(rf"\w[\w{MARKS}]*")
FTS_WORD = rf"\w[\w{MARKS}]*"
FTS_PART = rf'(?:"{FTS_WORD}"\*|"{FTS_WORD}(?: {FTS_WORD})+")'
FTS_TEAMS = r'\("\ue000\d+"(?: OR "\ue000\d+")*\)'
FTS_EXPRESSION = re.compile(rf"{FTS_TEAMS} AND {FTS_PART}(?: AND {FTS_PART})*")
HOSTILE = [
    '"',
    '""',
    "'",
    "NEAR",
    "NEAR(a b, 3)",
    "AND",
    "OR",
    "NOT",
    "*",
    "^",
    ":",
    "text:",
    "{text}",
    "-",
    "+",
    "(",
    ")",
    ";",
    "--",
    "'; DROP TABLE pages; --",
    "' OR 1=1 --",
    "\x00",
    "\n",
    "\t",
    "\u2028",
    "\x1c",
    "ß",
    "İ",
    "Σ",
    "_",
    "Müller-Lüdenscheid",
    "22.07.2026",
    "Mietvertrag",
    "x" * 40,
]
short_words = st.from_regex(r"[a-zA-Z0-9ä_]{1,3}", fullmatch=True)
query_texts = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=6)), max_size=25).map(" ".join),
    st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=6)), max_size=25).map("".join),
    st.text(min_size=MAX_QUERY_CHARS - 5, max_size=MAX_QUERY_CHARS + 5),
    st.lists(short_words, min_size=MAX_TERMS - 2, max_size=MAX_TERMS + 4).map(" ".join),
    # phrases, some closed and some not, between words
    st.lists(
        st.one_of(short_words, st.lists(short_words, max_size=8).map(lambda ws: '"' + " ".join(ws) + '"')),
        max_size=8,
    ).map(lambda parts: " ".join(parts).rstrip('"')),
)


def words_of(raw: str) -> set[str]:
    """The words of a query as parse_query must see them: NFC, lower case, split at quotes."""
    raw = unicodedata.normalize("NFC", raw)
    return {w for part in raw.split('"') for w in WORD.findall(part.lower())}


@PROPERTY
@given(raw=query_texts)
@example(raw='NEAR("a" "b") AND text:x* ^y OR NOT z')
@example(raw='"unclosed phrase')
@example(raw='" "')
@example(raw="a " * MAX_TERMS + "b")
@example(raw='"' + " ".join(f"w{i}" for i in range(MAX_TERMS + 1)) + '"')
@example(raw='a "a b" "a b" "b a"')
@example(raw='x "  Mietvertrag\tvom  22.07.2026 " y')
@example(raw="Mu\u0308ller \u0301 İstanbul")
def test_a_query_is_refused_or_only_words(raw: str) -> None:
    try:
        query = parse_query(raw)
    except InvalidInput as exc:
        assert one_line(str(exc)), str(exc)
        # refused only for the reason it gives: too long, too many words, or no word at all
        message = str(exc)
        if "too long" in message:
            assert len(raw) > MAX_QUERY_CHARS
        elif "too many words" in message:
            assert (
                len(raw) <= MAX_QUERY_CHARS
                and len(WORD.findall(unicodedata.normalize("NFC", raw).lower())) > MAX_TERMS
            )
        else:
            assert "empty" in message and len(raw) <= MAX_QUERY_CHARS and not words_of(raw), message
        return
    assert len(raw) <= MAX_QUERY_CHARS
    phrase_words = [w for phrase in query.phrases for w in phrase]
    assert all(WORD.fullmatch(w) for w in [*query.terms, *phrase_words])
    assert all(len(p) > 1 for p in query.phrases)
    assert len(set(query.terms)) == len(query.terms)
    assert len(query.terms) + len(phrase_words) <= MAX_TERMS
    # nothing invented, nothing dropped
    assert set(query.terms) | set(phrase_words) == words_of(raw)

    expression = SqliteDialect.expression(query, TEAMS)
    assert FTS_EXPRESSION.fullmatch(expression), expression
    assert expression.count(" AND ") == len(query.terms) + len(query.phrases)
    assert SqliteDialect.expression(query, None) == expression.split(" AND ", 1)[1]

    # PostgreSQL gets the same query as typed: one chunk list for the words, one text per phrase
    assert bool(query.chunks) == bool(query.terms)
    assert len(query.phrase_texts) == len(query.phrases)
    assert len(set(query.chunks)) == len(query.chunks)
    for chunk in [*query.chunks, *query.phrase_texts]:
        assert chunk and '"' not in chunk
        assert chunk == " ".join(chunk.split())  # whitespace as typed, but trimmed and single
    for chunk in query.chunks:
        assert not any(c.isspace() for c in chunk), repr(chunk)
        assert WORD.search(chunk)


ROWS = [
    "Mietvertrag für die Wohnung von Familie Müller-Lüdenscheid vom 22.07.2026",
    "Bescheid über Leistungen nach dem SGB II; Widerspruch NEAR AND OR NOT möglich",
    "Straße STRASSE straße — Kontoauszug_2025 Ärger ÆØÅ Ağababa ΣΟΦΙΑ",
    "' OR 1=1 -- ; DROP TABLE pages; text:x* ^y {text} NEAR(a b, 3)",
]


# The teams the rows of fts_table belong to, in turn; a search is by all of them unless it says otherwise.
TEAMS = [7, 1]


def fts_table(rows: list[str]) -> sqlite3.Connection:
    """An in-memory FTS5 table like pages_fts (same columns, team tokens and tokenizer), rowids 1, 2, …
    in the order given, of the TEAMS in turn."""
    con = sqlite3.connect(":memory:")
    con.execute('CREATE VIRTUAL TABLE t USING fts5(text, team, tokenize="unicode61 remove_diacritics 2")')
    con.executemany(
        "INSERT INTO t (rowid, text, team) VALUES (?, ?, char(57344) || ?)",
        [(n, row, TEAMS[(n - 1) % len(TEAMS)]) for n, row in enumerate(rows, start=1)],
    )
    return con


@pytest.fixture(scope="module")
def fts() -> Iterator[sqlite3.Connection]:
    con = fts_table(ROWS)
    yield con
    con.close()


def match(con: sqlite3.Connection, query: Query, teams: list[int] | None = TEAMS) -> set[int]:
    try:
        return {
            rowid
            for (rowid,) in con.execute(
                "SELECT rowid FROM t WHERE t MATCH ?", (SqliteDialect.expression(query, teams),)
            )
        }
    except sqlite3.OperationalError as exc:
        pytest.fail(f"FTS5 read the query {query!r} as syntax: {exc}")


@PROPERTY
@given(raw=query_texts)
@example(raw='NEAR(a b, 3) AND text:x* ^y OR NOT "z')
@example(raw="_ __ a_b")
@example(raw="\u0301 a\u0301")
def test_fts5_never_reads_an_accepted_query_as_syntax(fts: sqlite3.Connection, raw: str) -> None:
    try:
        query = parse_query(raw)
    except InvalidInput:
        return
    assert match(fts, query) <= set(range(1, len(ROWS) + 1))


@PROPERTY
@given(
    row=st.integers(1, len(ROWS)),
    data=st.data(),
    noise=st.lists(st.sampled_from(["*", "^", ":", "(", ")", "-", "+", "{", "}", "'"]), max_size=3),
)
def test_fts5_finds_a_row_by_any_of_its_words(
    fts: sqlite3.Connection, row: int, data: st.DataObject, noise: list[str]
) -> None:
    word = data.draw(st.sampled_from(WORD.findall(ROWS[row - 1])))
    if word.isascii():
        word = data.draw(st.sampled_from([word, word.upper(), word.lower(), word.swapcase()]))
    query = parse_query(" ".join(noise) + word + "".join(reversed(noise)))
    assert row in match(fts, query)


@PROPERTY
@given(row=st.integers(1, len(ROWS)), data=st.data())
def test_fts5_finds_only_the_pages_of_the_teams_asked_for(
    fts: sqlite3.Connection, row: int, data: st.DataObject
) -> None:
    word = data.draw(st.sampled_from(WORD.findall(ROWS[row - 1])))
    team = TEAMS[(row - 1) % len(TEAMS)]
    others = [t for t in TEAMS if t != team]
    found = match(fts, parse_query(word), [team])
    assert row in found
    assert all(TEAMS[(r - 1) % len(TEAMS)] == team for r in found)
    assert row not in match(fts, parse_query(word), others)


def test_a_team_number_is_not_a_word_of_the_page() -> None:
    """A team's token holds its number: a search for "7" (or "1", a prefix of "12") must find the pages
    that say 7, not every page of team 7 or 12."""
    con = fts_table(["Zimmer 7", "Zimmer acht"])
    try:
        assert match(con, parse_query("7")) == {1}
        assert match(con, parse_query("1")) == set()
        assert match(con, parse_query("Zimmer 7"), [1]) == set()  # row 1 is of team 7
        assert match(con, parse_query("7"), None) == {1}  # words alone, for a caller of most teams
        assert match(con, parse_query("\ue0007"), None) == {1}  # typed as the token: still the word 7
        assert match(con, parse_query("\ue0007 acht"), None) == set()
    finally:
        con.close()


@pytest.mark.parametrize(
    ("raw", "page"),
    [
        ("İstanbul", "Geburtsort İstanbul"),
        (unicodedata.normalize("NFD", "Müller"), "Familie Müller"),
        (unicodedata.normalize("NFD", "Ağababa"), "Frau Ağababa"),
    ],
)
def test_a_word_typed_as_on_the_page_finds_the_page(raw: str, page: str) -> None:
    con = fts_table([page])
    try:
        assert match(con, parse_query(raw)) == {1}
    finally:
        con.close()


@PROPERTY
@given(row=st.integers(1, len(ROWS)), data=st.data())
def test_the_snippet_marks_what_fts5_matched(fts: sqlite3.Connection, row: int, data: st.DataObject) -> None:
    """The SQLite dialect cuts snippets itself (fts5_snippet): whenever FTS5 finds a row for a word or
    a phrase of it, the snippet of that row marks something."""
    words = WORD.findall(ROWS[row - 1])
    at = data.draw(st.integers(0, len(words) - 1))
    length = data.draw(st.integers(1, 3))
    raw = " ".join(words[at : at + length])
    query = parse_query(f'"{raw}"' if data.draw(st.booleans()) else raw)
    assert row in match(fts, query)
    assert SNIPPET_START in fts5_snippet(ROWS[row - 1], query)


def test_the_snippet_is_the_best_stretch_with_its_matches_marked() -> None:
    text = (
        "Sehr geehrte Frau Müller, anbei die Mietverträge. Der Kontoauszug zeigt die Gutschrift Jobcenter"
        " vom 03.11.2026. Mit freundlichen Grüßen, Ihr Jobcenter Köln, Team Leistung, Zimmer zwölf."
    )
    snippet = fts5_snippet(text, parse_query('muller Mietvertrag "gutschrift jobcenter"'))
    assert snippet == (
        "Sehr geehrte Frau [Müller], anbei die [Mietverträge]. Der Kontoauszug zeigt die"
        " [Gutschrift Jobcenter] vom 03.11 …"
    )
    assert fts5_snippet(text, parse_query("Zimmer")) == (
        "… Gutschrift Jobcenter vom 03.11.2026. Mit freundlichen Grüßen, Ihr Jobcenter Köln, Team"
        " Leistung, [Zimmer] zwölf."
    )
    assert fts5_snippet("kurz und gut", parse_query("gut")) == "kurz und [gut]"
    assert fts5_snippet("", parse_query("gut")) == ""
