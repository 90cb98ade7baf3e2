"""A real browser for the tests: Debian's Chromium driven by Playwright, and axe-core's accessibility checks.

Chromium is launched by its path (Playwright's own browser download is not reachable here); scripts/ensure-
browser.sh installs it and axe-core (tests/browser/package-lock.json). A test module asks for the fixtures
with ``pytest_plugins = ["tests.browser_support"]``: registered as one plugin, the session's browser is
launched once however many modules use it (a fixture imported into several modules is one per module).

axe-core is evaluated in the page rather than added as a ``<script>`` element: a Content-Security-Policy
without 'unsafe-inline' (as ekakte's pages send) blocks that element (Playwright then raises), while a
script evaluated through the DevTools protocol is not governed by CSP. The page under test keeps
its CSP (no ``bypass_csp``), so a page that breaks its own policy still shows it in the tests.

PYTEST_DONT_REWRITE: test modules import the helpers before pytest loads this as their plugin; it has no
assert for pytest to rewrite, and this mark spares a warning that it could not.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.services import unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
AXE_SCRIPT = Path(__file__).resolve().parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"

# Without the background-networking flags Chromium keeps calling Google's hosts, which this machine's closed
# network refuses; the profile is a new empty one per launch (Playwright makes it).
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
TIMEOUT_MS = 15_000  # for each wait of a test on loopback; Playwright's own default is 30 s
WCAG_21_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")


def missing_requirements() -> str | None:
    """What the browser tests lack, in one line saying how to get it; None when all is there."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM}: run scripts/ensure-browser.sh as root"
    if importlib.util.find_spec("playwright") is None:
        return "playwright (PyPI) is not installed: pip install -e '.[dev]'"
    if not AXE_SCRIPT.is_file():
        return f"axe-core is not installed ({AXE_SCRIPT} is missing): run scripts/ensure-browser.sh"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Chromium for the whole session; each test gets a context of its own from `page`."""
    missing = missing_requirements()
    if missing:
        unavailable(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a new browser context (its own cookies and storage), 1280x800, German."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="de-DE")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@functools.cache
def _axe_source() -> str:
    return AXE_SCRIPT.read_text(encoding="utf-8")


_RUN_AXE = """async (tags) => {
    const options = {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]};
    const results = await axe.run(document, options);
    return results.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((node) => node.target),
    }));
}"""


def axe_violations(page: Page, *, tags: Sequence[str] = WCAG_21_AA) -> list[dict[str, Any]]:
    """axe-core's violations of the rules with these tags on the page as it is now.

    Each is ``{"id", "impact", "help", "targets"}``, ``targets`` holding one entry per offending element:
    axe's selector path to it, a list with one CSS selector per frame, outermost first (``[["img"]]``).
    """
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    violations: list[dict[str, Any]] = page.evaluate(_RUN_AXE, list(tags))
    return violations


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """One line per violation, for an assertion's message."""
    return "\n".join(f"{v['id']} ({v['impact']}): {v['help']} at {v['targets']}" for v in violations)


_LCP = """(timeout) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no largest-contentful-paint entry")), timeout);
    const observer = new PerformanceObserver((list) => {
        const entries = list.getEntries();
        clearTimeout(timer);
        observer.disconnect();
        resolve(entries[entries.length - 1].startTime);
    });
    observer.observe({type: "largest-contentful-paint", buffered: true});
})"""


def largest_contentful_paint(page: Page, *, timeout_ms: int = 5_000) -> float:
    """The page's Largest Contentful Paint so far, in ms since navigation began (the Performance API's
    latest entry: later, larger paints replace earlier ones until the first input)."""
    return float(page.evaluate(_LCP, timeout_ms))
