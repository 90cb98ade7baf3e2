"""The browser tests' tools (tests/browser_support.py) on two small pages of their own, served on loopback
under a strict Content-Security-Policy: axe-core's findings, the keyboard, LCP, screenshots, isolation."""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests import browser_support
from tests.browser_support import axe_violations, describe_violations, largest_contentful_paint

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


CSP = "default-src 'self'"

ACCESSIBLE = """<!doctype html>
<html lang="de">
<head><meta charset="utf-8"><title>Akte suchen – eAkte</title></head>
<body>
<main>
<h1>Akte suchen</h1>
<form action="/zugaenglich" method="get">
<label for="aktenzeichen">Aktenzeichen</label>
<input id="aktenzeichen" name="aktenzeichen" type="text">
<button type="submit">Suchen</button>
</form>
</main>
</body>
</html>
"""

# Two known faults, and only these: an image without alt text and a field without a label.
FAULTY = """<!doctype html>
<html lang="de">
<head><meta charset="utf-8"><title>Akte hochladen – eAkte</title></head>
<body>
<main>
<h1>Akte hochladen</h1>
<img src="/logo.svg" width="40" height="40">
<form action="/fehlerhaft" method="get">
<input name="aktenzeichen" type="text">
<button type="submit">Hochladen</button>
</form>
</main>
</body>
</html>
"""

LOGO = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><rect width="40" height="40"/></svg>'

FILES = {
    "/zugaenglich": ("text/html; charset=utf-8", ACCESSIBLE.encode()),
    "/fehlerhaft": ("text/html; charset=utf-8", FAULTY.encode()),
    "/logo.svg": ("image/svg+xml", LOGO.encode()),
}


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        found = FILES.get(self.path.split("?", 1)[0])
        content_type, body = found if found else ("text/plain; charset=utf-8", b"not found")
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The pages above on a free loopback port; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_axe_finds_nothing_on_an_accessible_page(page: Page, site: str) -> None:
    page.goto(f"{site}/zugaenglich")
    violations = axe_violations(page)
    assert violations == [], describe_violations(violations)


def test_axe_finds_the_image_without_alt_and_the_field_without_label(page: Page, site: str) -> None:
    page.goto(f"{site}/fehlerhaft")
    violations = axe_violations(page)
    assert sorted(v["id"] for v in violations) == ["image-alt", "label"], describe_violations(violations)
    by_id = {v["id"]: v for v in violations}
    assert by_id["image-alt"]["targets"] == [["img"]]
    assert by_id["label"]["targets"] == [["input"]]
    assert all(v["impact"] and v["help"] for v in violations)


def test_axe_runs_under_the_pages_csp_which_still_blocks_inline_scripts(page: Page, site: str) -> None:
    page.goto(f"{site}/fehlerhaft")
    with pytest.raises(Exception, match="Content Security Policy"):
        page.add_script_tag(content="window.inlineRan = true")
    assert page.evaluate("window.inlineRan") is None
    assert axe_violations(page)  # evaluated, not added as a <script>: CSP does not govern it
    assert axe_violations(page, tags=["wcag2aaa"]) == []  # axe is injected once; the tags choose rules


def test_tab_moves_focus_to_the_field_and_typing_fills_it(page: Page, site: str) -> None:
    page.goto(f"{site}/zugaenglich")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "aktenzeichen"
    page.keyboard.type("123A456789")
    assert page.input_value("#aktenzeichen") == "123A456789"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Suchen"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site}/zugaenglich?aktenzeichen=123A456789")


def test_largest_contentful_paint_is_a_positive_time(page: Page, site: str) -> None:
    page.goto(f"{site}/zugaenglich")
    lcp = largest_contentful_paint(page)
    assert 0 < lcp < 15_000


def test_screenshot_is_a_png_of_the_viewport(page: Page, site: str, tmp_path: Path) -> None:
    page.goto(f"{site}/zugaenglich")
    target = tmp_path / "zugaenglich.png"
    page.screenshot(path=target)
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1280, 800)  # IHDR: width, height


def test_each_page_is_german_with_cookies_of_its_own(page: Page, browser: Browser, site: str) -> None:
    page.goto(f"{site}/zugaenglich")
    assert page.evaluate("navigator.language") == "de-DE"
    assert page.context.cookies() == []
    page.context.add_cookies([{"name": "sitzung", "value": "1", "url": site}])
    other = browser.new_context()
    try:
        assert other.cookies() == []
    finally:
        other.close()


def test_a_missing_browser_is_named_with_the_script_that_installs_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(browser_support, "CHROMIUM", str(tmp_path / "chromium"))
    missing = browser_support.missing_requirements()
    assert missing and "ensure-browser.sh" in missing and str(tmp_path) in missing
