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
