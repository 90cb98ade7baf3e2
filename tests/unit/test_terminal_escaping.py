"""shown(), the one escaping function for terminal output, and emit_json, the exact output that is inert on a
terminal too: properties over arbitrary text (surrogates included), and the characters the attack used."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ekakte.cli.base import emit_json
from ekakte.errors import shown

PROPERTY = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# Every code point, lone surrogates and the surrogate escapes of non-UTF-8 file name bytes included.
anything = st.text(st.characters(blacklist_categories=()), max_size=60)
# What terminals act on or what reorders a line (the Unicode categories of controls, format characters,
# line and paragraph separators, surrogates).
ACTIVE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def inert(text: str) -> bool:
    return all(unicodedata.category(c) not in ACTIVE for c in text)


@PROPERTY
@given(anything)
@example("\x1b[2J\x1b]0;x\x07\u202e\x9b\n12 2026-01-01 fake row")
@example("\udcff\udcfe\ud800\udfff")
def test_shown_is_one_inert_line_and_idempotent(raw: str) -> None:
    out = shown(raw)
    assert inert(out) and len(out.splitlines()) <= 1
    assert shown(out) == out


@PROPERTY
@given(
    st.text(
        st.characters(whitelist_categories=("Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Nd", "P", "S", "Zs")),
        max_size=60,
    )
)
@example("Müller, Straße 5, ÄÖÜ äöü ß – Gutachten „Dr. Öztürk“ 日本 🙂")
@example("Dr.\u00a0Müller")  # a no-break space is text, not a control
def test_shown_leaves_letters_digits_punctuation_and_spaces_as_they_are(raw: str) -> None:
    assert shown(raw) == raw


@pytest.mark.parametrize(
    ("raw", "visible"),
    [
        ("\x1b[2J", r"\x1b[2J"),
        ("\x1b]0;x\x07", r"\x1b]0;x\x07"),
        ("a\tb\r\nc", r"a\tb\r\nc"),
        ("\x00\x7f", r"\x00\x7f"),
        ("\x85\x9b", r"\x85\x9b"),  # C1: NEL, CSI
        ("\u202a\u202b\u202c\u202d\u202e", r"\u202a\u202b\u202c\u202d\u202e"),  # embeddings, overrides
        ("\u2066\u2067\u2068\u2069", r"\u2066\u2067\u2068\u2069"),  # isolates
        ("\u200e\u200f\u061c", r"\u200e\u200f\u061c"),  # marks
        ("\u200b\ufeff\u00ad", r"\u200b\ufeff\xad"),  # zero-width space, BOM, soft hyphen
        ("\u2028\u2029", r"\u2028\u2029"),  # line and paragraph separator
        ("\U000e0041", r"\U000e0041"),  # a tag character
        ("\ud800", r"\ud800"),  # a lone surrogate
        ("scan-\udcff\udcfe.pdf", r"scan-\xff\xfe.pdf"),  # os.fsdecode of b"scan-\xff\xfe.pdf"
        (b"scan-\xff\xfe.pdf", r"scan-\xff\xfe.pdf"),
    ],
)
def test_shown_writes_each_active_character_as_visible_escape_text(raw: str | bytes, visible: str) -> None:
    assert shown(raw) == visible


@PROPERTY
@given(data=st.dictionaries(st.sampled_from(["title", "file", "reason"]), anything, max_size=3))
@example(data={"title": "\x1b]0;x\x07\u202e\x9b\x7f\u2028\U000e0041\ud800 Müller"})
def test_json_output_is_exact_and_inert(data: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    emit_json(data)
    out = capsys.readouterr().out
    assert json.loads(out) == data
    assert inert(out.replace("\n", ""))
