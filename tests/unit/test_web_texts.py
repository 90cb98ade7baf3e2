"""Every word the web app shows comes from its catalogue: each key a template or the routes use is there,
and the catalogue holds no key nobody uses."""

from __future__ import annotations

import re
from pathlib import Path

from ekakte.service.web.texts import DE, TEXTS

WEB = Path(__file__).resolve().parents[2] / "ekakte" / "service" / "web"
# t("key"), t('key'), text("key"): literal keys; "ocr." + state and "error." ~ kind are built from parts.
_USED = re.compile(r"""\b(?:t|text)\(\s*["']([a-z0-9_.]+)["']""")
_BUILT = {"ocr.": ("done", "pending", "failed", "partly"), "error.": ("400", "403", "404", "500", "503")}


_LITERAL = re.compile(r"""["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']""")  # a key named where t() is called later


def used_keys(*, literals: bool = False) -> set[str]:
    sources = [*(WEB / "templates").glob("*.html"), WEB / "pages.py"]
    pattern = _LITERAL if literals else _USED
    keys = {key for path in sources for key in pattern.findall(path.read_text()) if not key.endswith(".")}
    keys |= {f"ocr.{s}" for s in _BUILT["ocr."]}
    # A page's colour mode and a check's result, as the scanning pages build them from recorded values.
    keys |= {f"note.mode.{m}" for m in ("bitonal", "grayscale", "colour", "unknown")}
    keys |= {f"note.check.{r}" for r in ("passed", "failed", "not_checked")}

    keys |= {
        f"error.{s}.{part}"
        for s in _BUILT["error."]
        for part in ("title", "text")
        if s != "400" or part == "title"
    }
    return keys


def test_every_key_used_is_in_the_catalogue() -> None:
    assert sorted(used_keys() - set(DE)) == []


def test_the_catalogue_holds_no_unused_key() -> None:
    assert sorted(set(DE) - used_keys() - used_keys(literals=True)) == []


def test_every_language_has_every_key() -> None:
    for language, words in TEXTS.items():
        assert set(words) == set(DE), language


def test_the_postkorbs_recorded_reasons_and_findings_are_shown_in_german() -> None:
    """What the mail room records in English (ekakte.mailroom.stacks, .postkorb) reads in German on the
    Postkorb page; the values it names (pages, case numbers, what was read) stay as recorded."""
    from ekakte.service.web.texts import message

    recorded = [
        ("no cover sheet before it in the stack", "kein Deckblatt davor im Stapel"),
        ("after the separator sheet on page 4", "nach dem Trennblatt auf Seite 4"),
        (
            "the cover sheet on page 7: unknown document type 'X'",
            "das Deckblatt auf Seite 7 ist nicht verwendbar (unknown document type 'X')",
        ),
        (
            "page 3 carries a QR code that could not be read: it may be a cover sheet",
            "auf Seite 3 ist ein QR-Code, der nicht gelesen werden konnte: vielleicht ein Deckblatt",
        ),
        ("its first pages are not read yet", "die ersten Seiten sind noch nicht gelesen"),
        ("no case number on its first 2 pages", "kein Aktenzeichen auf den ersten 2 Seiten"),
        ("several case numbers: A, B", "mehrere Aktenzeichen: A, B"),
        ("a doubtful case number on page 1: 'A 5'", "ein unsicher gelesenes Aktenzeichen auf Seite 1: 'A 5'"),
        (
            "case A (read on page 2) is not in the archive",
            "die Akte A (gelesen auf Seite 2) gibt es im Archiv nicht",
        ),
        (
            "case A (named by its reference code) is not in the archive",
            "die Akte A (aus dem Bezugscode) gibt es im Archiv nicht",
        ),
        ("reference codes naming several cases: A, B", "Bezugscodes nennen mehrere Akten: A, B"),
        ("the reference code names case A, the text B", "der Bezugscode nennt die Akte A, der Text B"),
        (
            "a damaged reference code on page 1: a reference code that does not check out: x",
            "ein beschädigter Bezugscode auf Seite 1",
        ),
        (
            "a reference code on page 2 names no case number: 'x'",
            "ein Bezugscode auf Seite 2 nennt kein gültiges Aktenzeichen: 'x'",
        ),
        (
            "a QR code on page 1 could not be read beside the reference code",
            "neben dem Bezugscode ist auf Seite 1 ein QR-Code, der nicht gelesen werden konnte",
        ),
        ("not filed: case A holds this scan already", "nicht abgelegt: die Akte A enthält diesen Scan schon"),
    ]
    assert [(english, message(english)) for english, _ in recorded] == recorded
    assert message("post.pdf, pages 5-6") == "post.pdf, Seiten 5–6"
    assert message("scan, page 2.pdf, page 1") == "scan, page 2.pdf, Seite 1"
    assert message("something new {0}") == "something new {0}"  # shown as recorded
