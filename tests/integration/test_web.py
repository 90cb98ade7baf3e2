"""The caseworkers' web app in a real browser (Debian's Chromium driven by Playwright), against the
service on PostgreSQL + S3 with the real OpenID provider: signing in, a case, a document and its pages,
the download's bytes, search and a hit, refused and nonexistent alike, the health clearance, session
expiry, sign-out and the back button, CSRF; axe-core finds no WCAG 2.1 AA violation on any page."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from ekakte import api
from ekakte.archive import Archive
from ekakte.config import Settings
from ekakte.db.models import WebSession
from ekakte.service.app import create_app
from ekakte.service.settings import OidcSettings, ServiceSettings
from tests.browser_support import axe_violations, describe_violations
from tests.conftest import ADMIN, CASE, OPERATOR, OTHER_TEAM, TEAM, scans
from tests.integration.test_service import serving
from tests.oidc_provider import WEB_CLIENT_ID, WEB_CLIENT_SECRET, OidcProvider

PASSWORD = "Korrekt Pferd Batterie Heftklammer"
READER = "caseworker"  # TEAM, health clearance
PLAIN = "cw-plain"  # TEAM, no health clearance
STRANGER = "cw-other"  # OTHER_TEAM


@pytest.fixture(params=[pytest.param("server", marks=pytest.mark.server)])
def stack_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    from tests.conftest import make_stack

    return make_stack(request, tmp_path)


class App:
    def __init__(self, url: str, archive: Archive, documents: dict[str, Any], scan: bytes) -> None:
        self.url, self.archive, self.documents, self.scan = url, archive, documents, scan


@pytest.fixture
def app(settings: Settings, archive: Archive, oidc_provider: OidcProvider, tmp_path: Path) -> Iterator[App]:
    for name, teams, health in ((PLAIN, [TEAM], False), (STRANGER, [OTHER_TEAM], True)):
        api.add_user(archive, ADMIN, name, ["caseworker"], teams, health_clearance=health)
    for name in (READER, PLAIN, STRANGER):
        api.set_password(archive, ADMIN, name, PASSWORD)
    pages = [["Mietvertrag", "Seite eins der Unterlagen"], ["Kontoauszug", "Seite zwei der Unterlagen"]]
    scan = scans.pdf_bytes(pages, dpi=150)
    path = tmp_path / "antrag.pdf"
    path.write_bytes(scan)
    antrag = api.import_document(
        archive, OPERATOR, path, api.DocumentMeta(CASE, "Antrag", date(2026, 11, 2), "Weiterbewilligung")
    )
    gutachten_path = tmp_path / "gutachten.pdf"
    gutachten_path.write_bytes(scans.pdf_bytes([["Ärztliches Gutachten"]], dpi=100))
    gutachten = api.import_document(
        archive, OPERATOR, gutachten_path, api.DocumentMeta(CASE, "Gutachten", date(2026, 11, 3), "Befund")
    )
    api.run_ocr(archive, OPERATOR, document_ids=[antrag.document_id, gutachten.document_id])
    oidc = OidcSettings(
        issuer=oidc_provider.issuer, client_id=WEB_CLIENT_ID, client_secret=WEB_CLIENT_SECRET,
        audience=oidc_provider.audience,
    )  # fmt: skip
    service = create_app(
        settings,
        ServiceSettings(oidc=oidc, accessibility_contact="barrierefrei@jobcenter.example"),
        archive=archive,
    )
    with serving(service) as url:
        yield App(url, archive, {"antrag": antrag, "gutachten": gutachten}, scan)


def accessible(page: Any, where: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{where}: {describe_violations(violations)}"


def sign_in(page: Any, app: App, user: str = READER, then: str = "/") -> None:
    page.goto(app.url + then)
    page.get_by_label("Benutzername").fill(user)
    page.get_by_label("Kennwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_load_state()


def at_provider(page: Any, app: App, user: str) -> None:
    """The provider's own pages, as a person goes through them: its login form, then (for a client on
    loopback) its consent; until the browser is back at the service."""
    for _ in range(5):
        page.wait_for_load_state()
        if page.url.startswith(app.url):
            return
        if page.locator("input[name=login]").count():
            page.locator("input[name=login]").fill(user)
            page.locator("input[name=password]").fill("irgendein Kennwort")
        page.locator("button[type=submit]").first.click()
    raise AssertionError(f"still at the provider: {page.url}")


def test_single_sign_on_case_document_pages_download_search_and_sign_out(
    page: Any, app: App, tmp_path: Path
) -> None:
    page.goto(f"{app.url}/akte/{CASE}")
    assert "/anmelden" in page.url
    accessible(page, "sign-in page")
    page.get_by_role("link", name="Mit dem Behördenkonto anmelden").click()
    at_provider(page, app, READER)
    page.wait_for_url(f"{app.url}/akte/{CASE}")
    assert page.get_by_role("heading", level=1).inner_text() == f"Akte {CASE}"
    rows = page.locator("tbody tr")
    assert rows.count() == 2  # with the health clearance: the Gutachten too
    accessible(page, "case page")

    page.get_by_role("link", name="Weiterbewilligung").click()
    page.wait_for_load_state()
    assert page.get_by_text("Seite 1 von 2").is_visible()
    image = page.locator("figure img")
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    accessible(page, "document page")
    page.keyboard.press("ArrowRight")
    page.wait_for_url(re.compile(r"seite=2"))
    assert page.get_by_text("Seite 2 von 2").is_visible()
    assert "Kontoauszug" in page.locator(".ocr").inner_text()

    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Original herunterladen")).click()
    saved = tmp_path / "download.pdf"
    download.value.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == hashlib.sha256(app.scan).hexdigest()

    page.get_by_role("link", name="Suche").click()
    page.get_by_label("Suchbegriffe").fill("Mietvertrag")
    page.get_by_role("button", name="Suchen").click()
    page.wait_for_load_state()
    assert "Mietvertrag" not in page.url  # the query went in the body
    accessible(page, "search results")
    page.locator("ol.hits a").first.click()
    page.wait_for_load_state()
    assert page.locator(".ocr mark").first.inner_text().lower() == "mietvertrag"

    page.get_by_role("button", name="Abmelden").click()
    at_provider(page, app, READER)  # the provider asks to confirm the sign-out
    page.wait_for_url(re.compile(r"/anmelden"))
    accessible(page, "signed out")
    page.go_back()
    page.wait_for_load_state()
    assert "Weiterbewilligung" not in page.content()


def test_a_refused_case_looks_exactly_like_a_nonexistent_one(page: Any, app: App) -> None:
    sign_in(page, app, STRANGER)
    refused = page.goto(f"{app.url}/akte/{CASE}")
    refused_html = page.locator("main").inner_html()
    missing = page.goto(f"{app.url}/akte/99999BG9999999")
    assert refused is not None and missing is not None
    assert refused.status == missing.status == 404
    assert page.locator("main").inner_html() == refused_html
    accessible(page, "404 page")
    doc = app.documents["antrag"].document_id
    assert page.goto(f"{app.url}/dokument/{doc}").status == 404  # type: ignore[union-attr]


def test_the_document_page_offers_its_searchable_pdf_and_a_stranger_gets_the_404_page(
    page: Any, app: App, tmp_path: Path
) -> None:
    import pypdfium2

    doc = app.documents["antrag"].document_id
    sign_in(page, app, then=f"/dokument/{doc}")
    page.wait_for_url(re.compile(f"/dokument/{doc}"))
    accessible(page, "document page with its searchable PDF")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Durchsuchbares PDF herunterladen")).click()
    assert download.value.suggested_filename == "antrag.searchable.pdf"
    saved = tmp_path / "searchable.pdf"
    download.value.save_as(saved)
    pdf = pypdfium2.PdfDocument(saved.read_bytes())
    assert "Mietvertrag" in pdf[0].get_textpage().get_text_range()
    pdf.close()
    page.context.clear_cookies()
    sign_in(page, app, STRANGER)
    refused = page.goto(f"{app.url}/dokument/{doc}/durchsuchbar")
    refused_html = page.locator("main").inner_html()
    missing = page.goto(
        f"{app.url}/dokument/{api.parse_document_id(str(doc)).hex[:8]}-0000-4000-8000-000000000000/durchsuchbar"
    )
    assert refused is not None and missing is not None and refused.status == missing.status == 404
    assert page.locator("main").inner_html() == refused_html


def test_without_the_health_clearance_the_restricted_document_is_absent(page: Any, app: App) -> None:
    sign_in(page, app, PLAIN, then=f"/akte/{CASE}")
    page.wait_for_url(f"{app.url}/akte/{CASE}")
    assert page.locator("tbody tr").count() == 1
    assert (
        "Gutachten" not in page.locator("main").inner_text().replace("Alle Arten", "").split("Anwenden")[-1]
    )


def test_an_idle_session_ends_and_the_next_page_asks_to_sign_in(page: Any, app: App) -> None:
    sign_in(page, app)
    with app.archive.transaction() as session:
        session.execute(update(WebSession).values(last_seen_at=datetime.now(UTC) - timedelta(minutes=31)))
    page.goto(f"{app.url}/akte/{CASE}")
    assert "/anmelden" in page.url and page.get_by_role("status").inner_text().startswith("Ihre Sitzung")


def test_a_form_without_the_sessions_token_is_refused(page: Any, app: App) -> None:
    sign_in(page, app)
    answer = page.request.post(f"{app.url}/suche", form={"q": "Mietvertrag", "csrf_token": "falsch"})
    assert answer.status == 403 and "Formular ist abgelaufen" in answer.text()


def test_start_page_statement_and_narrow_screens(page: Any, app: App) -> None:
    sign_in(page, app)
    accessible(page, "start page")
    page.get_by_label("Aktenzeichen (BG-Nummer)").fill("12345")
    assert page.get_by_role("alert").is_visible()  # checked as one types
    page.get_by_label("Aktenzeichen (BG-Nummer)").fill(CASE)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{app.url}/akte/{CASE}")
    page.set_viewport_size({"width": 320, "height": 640})
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.goto(f"{app.url}/barrierefreiheit")
    assert "barrierefrei@jobcenter.example" in page.locator("main").inner_text()
    accessible(page, "accessibility statement")


def test_keyboard_only_skip_link_and_visible_focus(page: Any, app: App) -> None:
    sign_in(page, app)
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Zum Inhalt springen"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "inhalt"
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"


def test_the_second_person_checks_a_batch_beside_its_pages_and_the_note_goes_with_the_document(
    page: Any, app: App, tmp_path: Path
) -> None:
    inbox = tmp_path / "stapel"
    inbox.mkdir()
    scans.write_scan_pdf(
        inbox / "bescheid.pdf", [scans.scan_page(["Ein Bescheid"], dpi=150, seed=8)], dpi=150
    )
    meta = api.DocumentMeta(CASE, "Antrag", date(2026, 11, 4), "Bescheid")
    report = api.import_directory(app.archive, OPERATOR, inbox, defaults=meta, allow_root=True)
    [stored] = report.results
    for name, roles in (("pruefer", ["scan_operator"]), ("scanner", ["scan_operator"])):
        api.add_user(app.archive, ADMIN, name, roles)
        api.set_password(app.archive, ADMIN, name, PASSWORD)
    # A scan operator who did not scan the batch takes its check on, and then sees its sampled pages
    # (nothing else of the case), until the check is recorded.
    sign_in(page, app, "pruefer", then="/scanpruefung")
    accessible(page, "scanned batches")
    page.get_by_role("link", name=re.compile(r"\d\d\.\d\d\.\d{4}")).first.click()
    page.wait_for_load_state()
    assert page.locator("figure img").count() == 0
    assert page.request.get(f"{app.url}/dokument/{stored.document_id}/seite/1").status == 404
    accessible(page, "a batch before its check is taken on")
    page.get_by_role("button", name="Prüfung übernehmen").click()
    page.wait_for_load_state()
    accessible(page, "a batch and its sample")
    image = page.locator("figure img").first

    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    assert "unter 200 dpi gescannt: Seite 1 mit 150 dpi" in page.content()

    assert page.goto(f"{app.url}/dokument/{stored.document_id}").status == 404  # type: ignore[union-attr]
    page.goto(f"{app.url}/scanpruefung/{report.batch_id}")
    page.get_by_label("Bestanden: die Scans stimmen mit dem Papier überein").check()
    page.get_by_label("Vermerk (bei Mängeln: was nicht stimmt)").fill("1 von 1 verglichen")
    page.get_by_role("button", name="Prüfung speichern und Stapel versiegeln").click()
    page.wait_for_load_state()
    assert "bestanden, geprüft von pruefer" in page.content()
    assert page.locator("form[action$='/pruefen']").count() == 0 and page.locator("figure img").count() == 0
    # After the check its pages are the case's again: the checker no longer sees them.
    assert page.request.get(f"{app.url}/dokument/{stored.document_id}/seite/1").status == 404

    page.context.clear_cookies()

    # The caseworker finds the transfer note on the document's page.
    sign_in(page, app, READER, then=f"/dokument/{stored.document_id}")
    note = page.locator("section.note")
    assert "Transfervermerk" in note.inner_text() and "geprüft am" in note.inner_text()
    accessible(page, "a document with its transfer note")


def test_auditor_and_records_manager_pages(page: Any, app: App) -> None:
    api.add_user(app.archive, ADMIN, "pruefer", ["auditor"])
    api.add_user(app.archive, ADMIN, "registratur", ["records_manager"])
    for name in ("pruefer", "registratur"):
        api.set_password(app.archive, ADMIN, name, PASSWORD)
    sign_in(page, app, READER)
    page.goto(f"{app.url}/akte/{CASE}")  # something to find in the trail
    assert page.goto(f"{app.url}/protokoll?akte={CASE}").status == 403  # type: ignore[union-attr]
    page.context.clear_cookies()

    sign_in(page, app, "pruefer", then="/protokoll")
    page.get_by_label("Aktenzeichen (BG-Nummer)").fill(CASE)
    page.get_by_role("button", name="Anzeigen").first.click()
    page.wait_for_load_state()
    assert page.locator("tbody tr", has_text="case.show").count() >= 1
    assert page.locator("tbody tr", has_text=READER).count() >= 1
    accessible(page, "audit page")
    page.context.clear_cookies()

    sign_in(page, app, "registratur", then="/aufbewahrung")
    accessible(page, "retention page")
    page.get_by_label("Aktenzeichen (BG-Nummer)").fill(CASE)
    page.get_by_label("Grund (z. B. Aktenzeichen des Gerichts)").fill("SG Köln S 12 AS 345/25")
    page.get_by_role("button", name="Sperre setzen").click()
    page.wait_for_load_state()
    assert page.locator("tbody tr", has_text="SG Köln S 12 AS 345/25").count() == 1
    page.get_by_role("button", name=re.compile("Aufheben")).click()
    page.wait_for_load_state()
    assert page.locator("tbody tr", has_text="SG Köln S 12 AS 345/25").count() == 0


def test_new_mail_for_the_team_and_the_postkorb_of_the_triage_role(
    page: Any, app: App, tmp_path: Path
) -> None:
    api.add_user(app.archive, ADMIN, "posteingang", ["triage"])
    api.set_password(app.archive, ADMIN, "posteingang", PASSWORD)
    letter = tmp_path / "ohne-deckblatt.pdf"
    scans.write_scan_pdf(letter, [scans.scan_page(["Ein Brief ohne Deckblatt"], dpi=100, seed=3)], dpi=100)
    waiting = api.import_stack(app.archive, OPERATOR, letter).documents[0].document_id
    advert = tmp_path / "werbung.pdf"
    scans.write_scan_pdf(advert, [scans.scan_page(["Sonderangebot"], dpi=100, seed=4)], dpi=100)
    api.import_stack(app.archive, OPERATOR, advert)

    # The team's inbox: both documents of the case are new until someone of the team opens one.
    sign_in(page, app, READER, then="/eingang")
    accessible(page, "team inbox")
    row = page.locator("tbody tr", has_text=CASE)
    assert row.locator("td").nth(2).inner_text() == "2"
    page.goto(f"{app.url}/akte/{CASE}")
    assert page.locator("tbody tr", has_text="Weiterbewilligung").locator(".badge").count() == 1
    page.goto(f"{app.url}/dokument/{app.documents['antrag'].document_id}")  # shows its text: opened
    page.goto(f"{app.url}/akte/{CASE}")
    assert page.locator("tbody tr", has_text="Weiterbewilligung").locator(".badge").count() == 0
    page.goto(f"{app.url}/eingang")
    assert page.locator("tbody tr", has_text=CASE).locator("td").nth(2).inner_text() == "1"
    # The Postkorb is not the caseworker's: neither the page nor its document.
    assert page.goto(f"{app.url}/postkorb").status == 403  # type: ignore[union-attr]
    assert page.goto(f"{app.url}/dokument/{waiting}").status == 404  # type: ignore[union-attr]
    page.context.clear_cookies()

    sign_in(page, app, "posteingang", then="/postkorb")
    accessible(page, "Postkorb")
    page.get_by_role("link", name="ohne-deckblatt.pdf, Seite 1").click()
    page.wait_for_load_state()
    assert "Ein Brief ohne Deckblatt" in page.content() or page.locator("img").count() >= 1
    page.goto(f"{app.url}/postkorb")
    # The advertisement goes back to the station, with why; its scan is deleted.
    entry = page.locator("section", has_text="werbung.pdf")
    entry.get_by_text("An die Scanstelle zurückgeben").click()
    accessible(page, "Postkorb with the return form open")
    entry.get_by_label("Grund (sieht die Scanstelle)").fill("Werbung, kein Schreiben an das Jobcenter")
    entry.get_by_role("button", name="Zurückgeben und Scan löschen").click()
    page.wait_for_load_state()
    assert page.locator("section", has_text="werbung.pdf").count() == 0
    [back] = api.returned_documents(app.archive, OPERATOR)
    assert (back.stack, back.reason) == ("werbung.pdf, page 1", "Werbung, kein Schreiben an das Jobcenter")
    page.get_by_label("Aktenzeichen (BG-Nummer)").fill(CASE)
    page.get_by_label("Dokumentart").select_option("Schriftverkehr")
    page.get_by_role("button", name="Zuordnen").click()
    page.wait_for_load_state()
    assert "Der Postkorb ist leer." in page.content()
    assert page.goto(f"{app.url}/eingang").status == 403  # type: ignore[union-attr]
    page.context.clear_cookies()

    sign_in(page, app, READER, then=f"/akte/{CASE}")
    assert page.locator("tbody tr", has_text="Schriftverkehr").locator(".badge").count() == 1
