"""Screenshots of the web app for docs/ui.md: `python scripts/ui_screenshots.py` (after `make test`'s
set-up: Chromium, axe-core, tesseract). A fresh embedded archive with the demo's sample scans, the service
in this process, Debian's Chromium driven by Playwright; each page as a PNG in docs/ui/, and docs/ui.md
written anew around them, so that a reader sees the app without running it."""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from ekakte import api  # noqa: E402
from ekakte.service.app import create_app  # noqa: E402
from ekakte.service.settings import ServiceSettings  # noqa: E402
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.services import free_port, load_script  # noqa: E402

CASE = "12345BG0001234"
USER = "l.schmidt"
CHECKER = "m.weber"
PASSWORD = "Beispiel-Kennwort 2026"
OUT = ROOT / "docs" / "ui"

SHOTS = [
    (
        "anmelden",
        "Anmelden",
        "The sign-in page: single sign-on at the identity provider when one is"
        " configured, the local password form (the embedded archive, a break-glass admin).",
    ),
    (
        "start",
        "Akte öffnen",
        "The start page: the case number, checked against the configured pattern"
        " as one types and again on the server. The benefits software links straight to `/akte/{number}`.",
    ),
    (
        "akte",
        "Akte",
        "A case: its documents newest first with received date, type, title, pages and OCR"
        " state; filters by type and received dates; paging for large files.",
    ),
    (
        "dokument",
        "Dokument",
        "A document: the page as an image the server renders (every stored format,"
        " TIFF included), previous/next (also ← →), zoom, the OCR text beside it with the search's words"
        " marked, the verified original to download.",
    ),
    (
        "suche",
        "Suche",
        "Search within a case or across one's teams: snippets, paging; the query travels in"
        " a POST body, never in a URL.",
    ),
    (
        "eingang",
        "Neue Post",
        "For caseworkers and team leads: the cases of their teams with documents no one of the team has"
        " opened yet, newest first; the case page marks those documents as new.",
    ),
    (
        "postkorb",
        "Postkorb",
        "For the triage role (Posteingangsstelle): what the mail room scanned without a case, oldest first,"
        ' a hundred at a time ("Weitere Schriftstücke" for the next), with why it is here and what the'
        " sort found (in German; what the mail room recorded in other words is shown as recorded); each"
        " document opens like any other, is assigned to its case with its type here, or goes back to the"
        ' scanning station with a reason ("An die Scanstelle zurückgeben", which deletes the scan).',
    ),
    (
        "scanpruefung",
        "Scanprüfung",
        "For the scanning station's second person (TR-RESISCAN, docs/scanning.md): a batch's protocol,"
        " each sampled document's pages beside its transfer note (resolution and colour mode of every page,"
        " anomalies, how it got its case), and the form that records the check and seals the batch. The"
        " list before it says which batches' paper may be destroyed.",
    ),
    ("protokoll", "Protokoll", "For auditors: who read a file, and a user's accesses since a day."),
    (
        "aufbewahrung",
        "Aufbewahrung",
        "For records managers: what tonight's sweep would delete and why, and"
        " the legal holds, with adding and releasing.",
    ),
    (
        "nicht-gefunden",
        "Nicht gefunden",
        "A case one may not see and a case that does not exist show this same page.",
    ),
    (
        "schmal",
        "320 Pixel breit",
        "The case page at 320 CSS pixels (a phone, or 400 % zoom): the table becomes one block per document.",
    ),
]


def main() -> None:
    scans = load_script("sample_scans")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "archive"
        settings = api.load_settings({"EKAKTE_HOME": str(home)})
        admin = api.Actor("admin")
        api.initialize(settings, admin, first_admin=admin.name)
        with api.Archive.open(settings) as archive:
            api.add_team(archive, admin, "Leistung-1")
            api.add_user(archive, admin, USER, ["caseworker", "scan_operator", "auditor", "records_manager",
                         "triage"], ["Leistung-1"], health_clearance=True)  # fmt: skip
            api.set_password(archive, admin, USER, PASSWORD)
            api.add_user(archive, admin, CHECKER, ["scan_operator"])  # checks what USER scanned
            api.set_password(archive, admin, CHECKER, PASSWORD)
            api.assign_case(archive, admin, CASE, "Leistung-1")
            you = api.Actor(USER)
            inbox = Path(tmp) / "inbox"
            scans.write_demo_batch(inbox, CASE)  # with sidecars; one file is no scan and is refused
            api.import_directory(archive, you, inbox, allow_root=True)
            stack = Path(tmp) / "post-2026-12-06.pdf"  # two letters the mail room scanned without a case
            letters = [scans.scan_page(scans.german_lines(seed, 20), dpi=150, seed=seed) for seed in (5, 6)]
            scans.write_scan_pdf(stack, [letters[0], scans.sheet_page(dpi=150, seed=1), letters[1]], dpi=150)
            api.import_stack(archive, you, stack)
            api.run_ocr(archive, you)
            api.add_hold(archive, you, case_number=CASE, reason="SG Köln S 12 AS 345/25")
            shoot(archive, settings)
    write_markdown()


def shoot(archive: object, settings: object) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    app = create_app(
        settings, ServiceSettings(accessibility_contact="barrierefrei@jobcenter.example"), archive=archive
    )  # type: ignore[arg-type]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        page = browser.new_context(viewport={"width": 1280, "height": 860}, locale="de-DE").new_page()
        page.goto(f"{url}/anmelden")
        snap(page, "anmelden")
        sign_in(page, url, USER)
        snap(page, "start")
        page.goto(f"{url}/akte/{CASE}")
        snap(page, "akte")
        page.goto(f"{url}/suche")
        page.get_by_label("Suchbegriffe").fill("Mietvertrag")
        page.get_by_role("button", name="Suchen").click()
        page.wait_for_load_state()
        snap(page, "suche")
        page.locator("ol.hits a").first.click()
        page.wait_for_load_state()
        snap(page, "dokument")
        page.goto(f"{url}/eingang")
        snap(page, "eingang")
        page.goto(f"{url}/postkorb")
        snap(page, "postkorb")
        page.goto(f"{url}/protokoll?akte={CASE}")
        snap(page, "protokoll")
        page.goto(f"{url}/aufbewahrung")
        snap(page, "aufbewahrung")
        page.goto(f"{url}/akte/54321BG7654321")
        snap(page, "nicht-gefunden")
        sign_in(page, url, CHECKER)  # the batch is USER's: another scan operator checks it
        page.goto(f"{url}/scanpruefung")
        page.locator("tbody a").first.click()
        page.wait_for_load_state()
        page.get_by_role("button", name="Prüfung übernehmen").click()
        page.wait_for_load_state()
        snap(page, "scanpruefung")

        sign_in(page, url, USER)
        page.set_viewport_size({"width": 320, "height": 860})
        page.goto(f"{url}/akte/{CASE}")
        snap(page, "schmal")
        browser.close()
    server.should_exit = True


def sign_in(page: Any, url: str, user: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{url}/anmelden")
    page.get_by_label("Benutzername").fill(user)
    page.get_by_label("Kennwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_load_state()


def snap(page: object, name: str) -> None:
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=False)  # type: ignore[attr-defined]
    print(f"docs/ui/{name}.png")


def write_markdown() -> None:
    lines = [
        "# The web app",
        "",
        "The caseworkers' web app of `ekakte serve` (docs/api.md has the service, docs/security.md the rules"
        " it keeps). Server-rendered German pages that work without JavaScript; everything they load comes"
        " from ekakte itself. Made by `python scripts/ui_screenshots.py` from a fresh demo archive: run it"
        " again after changing a page.",
        "",
    ]
    for name, title, words in SHOTS:
        lines += [f"## {title}", "", words, "", f"![{title}](ui/{name}.png)", ""]
    (ROOT / "docs" / "ui.md").write_text("\n".join(lines))
    print("docs/ui.md")


if __name__ == "__main__":
    main()
