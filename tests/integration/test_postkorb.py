"""The Postkorb: what came without a case waits there, seen by the triage role alone, until assigned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import select

from ekakte import api
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import POSTKORB_CASE, Document, Page, PostkorbItem
from ekakte.errors import InvalidInput, NotFound, NotPermitted
from tests.conftest import ADMIN, CASE, OPERATOR, OTHER_CASE, READER, TEN_YEARS_RULES, scans
from tests.integration.test_cli import Cli, cli  # noqa: F401 (a fixture: the CLI as an operator)
from tests.integration.test_stacks import DPI, cover, letter

TRIAGE = Actor("posteingang")
RECORDS = Actor("records")


@pytest.fixture
def day(archive: Archive, tmp_path: Path) -> dict[str, Any]:
    """The day's stack: a letter before the first cover sheet, a cover sheet's letter, a separator sheet's
    letter, and a cover sheet naming a type the archive does not take."""
    api.add_user(archive, ADMIN, TRIAGE.name, ["triage"])
    api.add_user(archive, ADMIN, RECORDS.name, ["records_manager"])
    rules = tmp_path / "rules.toml"
    rules.write_text(TEN_YEARS_RULES.replace('trigger = "case_closed"', 'trigger = "received"'))
    api.load_rules(archive, RECORDS, rules)
    pages = [
        *letter(1),
        cover(CASE, "Antrag", seed=2),
        *letter(2),
        scans.sheet_page(dpi=DPI, seed=3, rotate=2),
        *letter(3, 2),
        cover(OTHER_CASE, "Kochrezept", seed=4),
        *letter(4),
    ]
    path = tmp_path / "post.pdf"
    scans.write_scan_pdf(path, pages, dpi=DPI)
    report = api.import_stack(archive, OPERATOR, path)
    return {"path": path, "report": report, "docs": report.documents}


def test_parts_without_a_case_wait_in_the_postkorb_with_the_reason(
    archive: Archive, day: dict[str, Any]
) -> None:
    docs = day["docs"]
    assert [d.case_number for d in docs] == [POSTKORB_CASE, CASE, POSTKORB_CASE, POSTKORB_CASE]
    reasons = [p.postkorb for p in day["report"].parts if p.kind == "document"]
    assert reasons == [
        "no cover sheet before it in the stack",
        None,
        "after the separator sheet on page 4",
        "the cover sheet on page 7: unknown document type 'Kochrezept': expected one of "
        + ", ".join(archive.settings.document_types),
    ]
    waiting = api.postkorb(archive, TRIAGE)
    assert [e.document_id for e in waiting] == [docs[0].document_id, docs[2].document_id, docs[3].document_id]
    assert [e.stack for e in waiting] == ["post.pdf, page 1", "post.pdf, pages 5-6", "post.pdf, page 8"]
    assert waiting.items[1].page_count == 2
    with archive.reading() as session:
        doc = session.get(Document, docs[0].document_id)
        assert doc is not None and (doc.due_on, doc.document_type, doc.restricted) == (None, "", False)


def test_only_the_triage_role_sees_the_postkorb_and_only_the_postkorb(
    archive: Archive, day: dict[str, Any]
) -> None:
    waiting = day["docs"][0].document_id
    in_case = day["docs"][1].document_id
    # The triage role reads a waiting document's metadata, text and pages...
    assert api.get_document(archive, TRIAGE, waiting).page_count == 1
    assert api.render_page(archive, TRIAGE, waiting, 1, 400).width == 400
    _, pages = api.document_text(archive, TRIAGE, waiting)
    assert [p.state for p in pages] == ["pending"]
    # ... and nothing of a case's.
    for read in (api.get_document, api.document_text):
        with pytest.raises(NotPermitted):
            read(archive, TRIAGE, in_case)
    with pytest.raises(NotPermitted):
        api.case_documents(archive, TRIAGE, CASE)
    # A caseworker sees nothing of the Postkorb: not the list, not a document, not its case.
    for who in (READER, OPERATOR):
        with pytest.raises(NotPermitted):
            api.postkorb(archive, who)
        with pytest.raises(NotPermitted):
            api.get_document(archive, who, waiting)
    with pytest.raises(InvalidInput):  # no input names the Postkorb's case: it is stored in mixed case
        api.case_documents(archive, READER, POSTKORB_CASE)
    # The admin cannot give the Postkorb a team either: its number is not a case number.
    with pytest.raises(InvalidInput):
        api.assign_case(archive, ADMIN, POSTKORB_CASE, "team-a")


def test_an_assigned_document_is_the_cases_like_any_other(archive: Archive, day: dict[str, Any]) -> None:
    waiting = day["docs"][2].document_id
    done = api.assign_from_postkorb(archive, TRIAGE, waiting, CASE.lower(), "gutachten", title="Befund")
    assert (done.case_number, done.document_type, done.title) == (CASE, "Gutachten", "Befund")
    info = api.get_document(archive, READER, waiting)  # the case's team sees it now
    assert (info.case_number, info.document_type, info.title) == (CASE, "Gutachten", "Befund")
    with archive.reading() as session:
        doc = session.get(Document, waiting)
        item = session.get(PostkorbItem, waiting)
        teams = set(session.scalars(select(Page.team_id).where(Page.document_id == waiting)))
        assert doc is not None and item is not None
        # Gutachten is restricted: the flag, the pages' signed team, and now a due date under the rules.
        assert doc.restricted and doc.due_on is not None and doc.retention_rule == "default"
        assert len(teams) == 1 and next(iter(teams)) < 0
        assert (item.state, item.case_number, item.decided_by, item.how) == (
            "assigned", CASE, TRIAGE.name, f"assigned by {TRIAGE.name}",
        )  # fmt: skip
    # It left the Postkorb: not listed, not readable by the triage role, not assignable again.
    assert waiting not in [e.document_id for e in api.postkorb(archive, TRIAGE)]
    with pytest.raises(NotPermitted):
        api.get_document(archive, TRIAGE, waiting)
    with pytest.raises(NotFound):
        api.assign_from_postkorb(archive, TRIAGE, waiting, OTHER_CASE, "Antrag")
    # The same stack again: every part already stored, reported as the stack had it: the operator is not
    # told where the triage role filed the letter.
    again = api.import_stack(archive, OPERATOR, day["path"])
    assert [d.status for d in again.documents] == ["already_stored"] * 4
    assert [(d.case_number, d.document_type) for d in again.documents] == [
        (POSTKORB_CASE, ""), (CASE, "Antrag"), (POSTKORB_CASE, ""), (POSTKORB_CASE, ""),
    ]  # fmt: skip


def test_a_refused_assignment_changes_nothing(archive: Archive, day: dict[str, Any], make_scan: Any) -> None:
    waiting = day["docs"][0].document_id
    with pytest.raises(InvalidInput, match="invalid case number"):
        api.assign_from_postkorb(archive, TRIAGE, waiting, "123", "Antrag")
    with pytest.raises(InvalidInput, match="unknown document type"):
        api.assign_from_postkorb(archive, TRIAGE, waiting, CASE, "Kochrezept")
    with pytest.raises(NotPermitted):
        api.assign_from_postkorb(archive, READER, waiting, CASE, "Antrag")
    # The case already holds the same scan (imported again by hand, say).
    original = b"".join(api.open_original(archive, TRIAGE, waiting))
    copy = make_scan("same.pdf")
    copy.write_bytes(original)
    api.import_document(archive, OPERATOR, copy, api.DocumentMeta(OTHER_CASE, "Antrag"))
    with pytest.raises(InvalidInput, match=f"case {OTHER_CASE} holds this scan already"):
        api.assign_from_postkorb(archive, TRIAGE, waiting, OTHER_CASE, "Antrag")
    assert waiting in [e.document_id for e in api.postkorb(archive, TRIAGE)]
    with pytest.raises(NotFound):
        api.assign_from_postkorb(archive, TRIAGE, day["docs"][1].document_id, CASE, "Antrag")


def test_the_postkorb_on_the_command_line(cli: Cli, archive: Archive, day: dict[str, Any]) -> None:  # noqa: F811
    api.grant(archive, ADMIN, Actor.from_os().name, ["triage"], [])
    code, out, err = cli("postkorb", "list")
    assert code == 0, err
    assert "post.pdf, page 1: no cover sheet before it in the stack" in out
    assert "3 documents in the Postkorb" in out
    waiting = str(day["docs"][0].document_id)
    code, out, err = cli("postkorb", "assign", waiting, "--case", OTHER_CASE, "--type", "Antrag", "--json")
    assert code == 0, err
    assert json.loads(out)["case_number"] == OTHER_CASE
    code, _, err = cli("postkorb", "assign", waiting, "--case", OTHER_CASE, "--type", "Antrag")
    assert code != 0 and f"no document {waiting} in the Postkorb" in err


# --- the sort: a case number in the first pages' text ---------------------------------------------------

SORT_ENV = {"EKAKTE_MAIL_DOCUMENT_TYPE": "Schriftverkehr"}


def with_mail_type(archive: Archive) -> Archive:
    """The same archive, opened with mail_document_type set (the sort files with that type)."""
    import dataclasses

    return Archive(
        dataclasses.replace(archive.settings, mail_document_type="Schriftverkehr"),
        archive.engine,
        archive.store,
    )


def waiting_letters(archive: Archive, tmp_path: Path, n: int) -> list[Any]:
    """`n` one-page letters in the Postkorb (a stack of letters between separator sheets)."""
    pages: list[Any] = []
    for i in range(n):
        if i:
            pages.append(scans.sheet_page(dpi=100, seed=100 + i))
        pages.append(scans.scan_page([f"Brief {i}"], dpi=100, seed=200 + i))
    path = tmp_path / f"letters-{n}.pdf"
    scans.write_scan_pdf(path, pages, dpi=100)
    return [d.document_id for d in api.import_stack(archive, OPERATOR, path).documents]


def read_as(archive: Archive, document_id: Any, text: str) -> None:
    """What OCR would record for the document's first page."""
    from sqlalchemy import update

    with archive.transaction() as session:
        session.execute(
            update(Page)
            .where(Page.document_id == document_id, Page.number == 1)
            .values(ocr_state="done", text=text)
        )


def test_the_sort_files_only_what_names_one_known_case_with_certainty(
    archive: Archive, tmp_path: Path
) -> None:
    api.add_user(archive, ADMIN, TRIAGE.name, ["triage"])
    archive = with_mail_type(archive)
    texts = {
        "Jobcenter Musterstadt\nAktenzeichen: 12345BG0001234\nWeiterbewilligung": ("filed", CASE, "page 1"),
        "BG-Nr. 54321 BG 765432l vom 03.11.2026": ("filed", OTHER_CASE, "spaces inside the number"),
        "Ihre Zeichen 12345BG0001234, unsere 54321BG7654321": ("left", None, "several case numbers"),
        "Aktenzeichen 99999BG9999999": (
            "left",
            None,
            "case 99999BG9999999 (read on page 1) is not in the archive",
        ),
        "Sehr geehrte Damen und Herren, anbei die Unterlagen.": ("left", None, "no case number"),
        "Az. 12345BG0001234 5 (Fortsetzung)": ("left", None, "a doubtful case number on page 1"),
    }
    docs = waiting_letters(archive, tmp_path, len(texts) + 1)
    for doc, text in zip(docs, texts, strict=False):
        read_as(archive, doc, text)
    got = [api.sort_postkorb_document(archive, TRIAGE, doc) for doc in docs]
    for result, (text, (outcome, case, says)) in zip(got, texts.items(), strict=False):
        assert ("filed" if result.assigned else "left", result.assigned and result.assigned.case_number) == (
            outcome, case or None,
        ), text  # fmt: skip
        assert says in result.finding, (text, result.finding)
    filed = got[0].assigned
    assert filed is not None and (filed.document_type, filed.title) == ("Schriftverkehr", None)
    assert filed.how == "sorted: case number on page 1, '12345BG0001234' (read as written)"
    # The last letter's page is not read yet: left alone, looked at again once it is.
    assert got[-1].pending and got[-1].assigned is None
    read_as(archive, docs[-1], "Aktenzeichen 12345BG0001234")
    assert api.sort_postkorb_document(archive, TRIAGE, docs[-1]).assigned is not None
    info = api.get_document(archive, READER, docs[0])  # the case's team sees what the sort filed
    assert (info.case_number, info.document_type) == (CASE, "Schriftverkehr")
    # What was left waits with the finding; the sort does not file an assigned document twice.
    left = {e.document_id: e.finding for e in api.postkorb(archive, TRIAGE)}
    assert set(left) == set(docs[2:6]) and all(left.values())
    with pytest.raises(NotFound):
        api.sort_postkorb_document(archive, TRIAGE, docs[0])
    with pytest.raises(NotPermitted):
        api.sort_postkorb_document(archive, READER, docs[2])


def test_the_sort_needs_its_document_type(archive: Archive, tmp_path: Path) -> None:
    from ekakte.errors import ConfigError

    with pytest.raises(ConfigError, match="mail_document_type"):
        api.sort_postkorb_document(archive, TRIAGE, waiting_letters(archive, tmp_path, 1)[0])


@pytest.mark.skipif(
    not __import__("ekakte.ocr.engine", fromlist=["available"]).available()
    and __import__("os").environ.get("CI") != "true",
    reason="tesseract is not installed (make services installs it as root)",
)
def test_a_letter_is_filed_by_the_case_number_tesseract_reads_on_it(archive: Archive, tmp_path: Path) -> None:
    api.add_user(archive, ADMIN, TRIAGE.name, ["triage"])
    api.add_user(archive, ADMIN, "ocr-service", ["service"])
    archive = with_mail_type(archive)
    letter_page = scans.scan_page(
        ["Jobcenter Musterstadt", "", f"Aktenzeichen: {CASE[:5]} {CASE[5:7]} {CASE[7:]}", "",
         "Sehr geehrte Frau Muster,", "anbei erhalten Sie die angeforderten Kontoauszüge."],
        dpi=300, seed=7,
    )  # fmt: skip
    path = tmp_path / "brief.pdf"
    scans.write_scan_pdf(path, [letter_page], dpi=300)
    doc = api.import_stack(archive, OPERATOR, path).documents[0].document_id
    api.run_ocr(archive, Actor("ocr-service"), document_ids=[doc])
    result = api.sort_postkorb_document(archive, TRIAGE, doc)
    assert result.assigned is not None and result.assigned.case_number == CASE, result.finding


@pytest.mark.parametrize("stack_env", ["embedded"], indirect=True)
def test_reference_codes_through_the_api(archive: Archive, settings: Any, oidc_provider: Any) -> None:
    import io
    import xml.etree.ElementTree as ET

    import httpx
    import zxingcpp
    from PIL import Image

    from ekakte.mailroom.codes import Reference, decode_bytes
    from ekakte.service.app import create_app
    from tests.integration.test_service import bearer, service_settings, serving

    app = create_app(settings, service_settings(oidc_provider), archive=archive)
    with serving(app) as url, httpx.Client(base_url=url) as http:
        reader = bearer(oidc_provider, READER.name)
        body = {"case_number": CASE.lower(), "reference": "Anforderung 2026-11-30", "format": "png"}
        png = http.post("/api/v1/reference-codes", json=body, headers=reader)
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert 'filename="bezugscode.png"' in png.headers["content-disposition"]
        image = Image.open(io.BytesIO(png.content))
        assert image.size == (236, 236) and round(image.info["dpi"][0]) == 300  # 20 mm at 300 dpi
        read = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.barcode_formats_from_str("QRCode"))
        assert [decode_bytes(bytes(c.bytes)) for c in read] == [Reference(CASE, "Anforderung 2026-11-30")]
        svg = http.post("/api/v1/reference-codes", json={"case_number": CASE, "size_mm": 30}, headers=reader)
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert ET.fromstring(svg.content).attrib["width"] == "30mm"

        bad = http.post("/api/v1/reference-codes", json={"case_number": "123"}, headers=reader)
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        big = http.post(
            "/api/v1/reference-codes", json={"case_number": CASE, "reference": "ä" * 64}, headers=reader
        )
        assert big.status_code == 422 and big.json()["field"] == "size_mm"
        for wrong in [{"size_mm": 10}, {"size_mm": True}, {"format": "pdf"}, {"reference": "x" * 65}]:
            answer = http.post("/api/v1/reference-codes", json={"case_number": CASE, **wrong}, headers=reader)
            assert answer.status_code == 422, wrong
        assert http.post("/api/v1/reference-codes", json={"case_number": CASE}).status_code == 401


def coded_as(archive: Archive, document_id: Any, codes: str, text: str = "") -> None:
    """What OCR would record for the document's first page: its text, and what ekakte's codes on it say."""
    from sqlalchemy import update

    with archive.transaction() as session:
        session.execute(
            update(Page)
            .where(Page.document_id == document_id, Page.number == 1)
            .values(ocr_state="done", text=text, codes=codes)
        )


def test_the_sort_files_by_the_reference_code_when_nothing_contradicts_it(
    archive: Archive, tmp_path: Path
) -> None:
    api.add_user(archive, ADMIN, TRIAGE.name, ["triage"])
    archive = with_mail_type(archive)
    bad = "!a reference code that does not check out: its checksum does not match its content"
    cases = [
        # (the page's codes, its text): filed in, or what the finding says
        ((f"{CASE}\tAnforderung 2026-11-30", ""), CASE),
        ((f"{CASE}\t", f"Aktenzeichen {CASE}"), CASE),
        (("!a QR code that could not be read", f"Az. {OTHER_CASE}"), OTHER_CASE),  # anyone's code: the text
        ((f"{CASE}\t", f"Aktenzeichen {OTHER_CASE}"), f"the reference code names case {CASE}, the text"),
        ((f"{CASE}\t\n{OTHER_CASE}\t", ""), "reference codes naming several cases"),
        ((f"{CASE}\t\n{bad}", ""), "a damaged reference code on page 1"),
        (("99999BG9999999\t", ""), "case 99999BG9999999 (named by its reference code) is not in the archive"),
        (("kein-aktenzeichen\t", ""), "names no case number"),
        ((f"{CASE}\t", f"Az. {CASE} 5 (Fortsetzung)"), "a doubtful case number on page 1"),
        ((f"{CASE}\t\n!a QR code that could not be read", ""), "could not be read beside the reference code"),
    ]
    docs = waiting_letters(archive, tmp_path, len(cases))
    for doc, ((codes, text), _) in zip(docs, cases, strict=True):
        coded_as(archive, doc, codes, text)
    for doc, ((codes, text), want) in zip(docs, cases, strict=True):
        result = api.sort_postkorb_document(archive, TRIAGE, doc)
        if want in (CASE, OTHER_CASE):
            assert result.assigned is not None and result.assigned.case_number == want, (codes, result)
        else:
            assert result.assigned is None and want in result.finding, (codes, text, result.finding)
    first = api.get_document(archive, READER, docs[0])
    assert first.case_number == CASE
    with archive.reading() as session:
        item = session.get(PostkorbItem, docs[1])
        assert item is not None and item.how == (
            f"sorted: the reference code on page 1 names case {CASE}, and the text on page 1 too ({CASE!r})"
        )


@pytest.mark.skipif(
    not __import__("ekakte.ocr.engine", fromlist=["available"]).available()
    and __import__("os").environ.get("CI") != "true",
    reason="tesseract is not installed (make services installs it as root)",
)
def test_a_letter_is_filed_by_the_reference_code_printed_on_it(archive: Archive, tmp_path: Path) -> None:
    """The benefits software's code on its letter, the letter scanned in a stack before any cover sheet: the
    OCR worker finds the code on the first page, and the sort files the letter by it, though its text
    names no case number."""
    api.add_user(archive, ADMIN, TRIAGE.name, ["triage"])
    api.add_user(archive, ADMIN, "ocr-service", ["service"])
    archive = with_mail_type(archive)
    code = api.reference_code(archive.settings, CASE, "Anforderung 2026-11-30", fmt="png", size_mm=16)
    letter_page = scans.coded_letter_page(
        ["Jobcenter Musterstadt", "", "Sehr geehrte Frau Muster,", "anbei die angeforderten Unterlagen."],
        code, dpi=200, seed=8, rotate=1.5,
    )  # fmt: skip
    path = tmp_path / "antwort.pdf"
    scans.write_scan_pdf(path, [letter_page, scans.scan_page(["Seite 2"], dpi=200, seed=9)], dpi=200)
    doc = api.import_stack(archive, OPERATOR, path).documents[0].document_id
    api.run_ocr(archive, Actor("ocr-service"), document_ids=[doc])
    with archive.reading() as session:
        codes = list(session.scalars(select(Page.codes).where(Page.document_id == doc).order_by(Page.number)))
    assert codes == [f"{CASE}\tAnforderung 2026-11-30", ""]
    result = api.sort_postkorb_document(archive, TRIAGE, doc)
    assert result.assigned is not None and result.assigned.case_number == CASE, result.finding
    assert "the reference code on page 1" in result.finding


@pytest.mark.parametrize("stack_env", ["embedded"], indirect=True)
def test_cover_sheets_the_postkorb_and_the_inbox_through_the_api(
    archive: Archive, day: dict[str, Any], settings: Any, oidc_provider: Any
) -> None:
    import httpx
    import pypdfium2

    from ekakte.mailroom.codes import Sheet
    from ekakte.mailroom.detect import find_sheet
    from ekakte.service.app import create_app
    from tests.integration.test_service import bearer, service_settings, serving

    app = create_app(settings, service_settings(oidc_provider), archive=archive)
    with serving(app) as url, httpx.Client(base_url=url) as http:
        triage, reader = bearer(oidc_provider, TRIAGE.name), bearer(oidc_provider, READER.name)
        sheet = http.post(
            "/api/v1/coversheets",
            json={"case_number": CASE, "document_type": "Nachweis", "count": 2},
            headers=reader,
        )
        assert sheet.status_code == 200 and sheet.headers["content-type"] == "application/pdf"
        pdf = pypdfium2.PdfDocument(sheet.content)
        assert len(pdf) == 2
        assert find_sheet(pdf[0].render(scale=100 / 72, grayscale=True).to_pil().convert("L")) == Sheet(
            CASE, "Nachweis"
        )
        pdf.close()
        bad = http.post(
            "/api/v1/coversheets", json={"case_number": "123", "document_type": "Antrag"}, headers=reader
        )
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert http.post("/api/v1/coversheets", json={"count": True}, headers=reader).status_code == 422
        assert http.post("/api/v1/coversheets", json={}).status_code == 401

        listed = http.get("/api/v1/postkorb", headers=triage)
        assert listed.status_code == 200
        waiting = [d["document_id"] for d in listed.json()["documents"]]
        assert len(waiting) == 3
        assert http.get("/api/v1/postkorb", headers=reader).status_code == 403
        text = http.get(f"/api/v1/documents/{waiting[0]}/text", headers=triage)
        assert text.status_code == 200
        assert http.get(f"/api/v1/documents/{waiting[0]}/text", headers=reader).status_code == 404
        body = {"case_number": CASE, "document_type": "Antrag"}
        done = http.post(f"/api/v1/postkorb/{waiting[0]}/assignment", json=body, headers=triage)
        assert done.status_code == 200 and done.json()["case_number"] == CASE
        again = http.post(f"/api/v1/postkorb/{waiting[0]}/assignment", json=body, headers=triage)
        unknown = http.post(f"/api/v1/postkorb/{uuid4()}/assignment", json=body, headers=triage)
        assert (
            again.status_code == unknown.status_code == 404
            and again.json()["detail"] == unknown.json()["detail"]
        )
        # Sent back to the station: the station's list has it; 404 when asked again, as for an unknown one.
        back = http.post(f"/api/v1/postkorb/{waiting[2]}/return", json={"reason": "Werbung"}, headers=triage)
        assert back.status_code == 200 and back.json()["deleted"] is True
        again = http.post(f"/api/v1/postkorb/{waiting[2]}/return", json={"reason": "Werbung"}, headers=triage)
        assert again.status_code == 404 and again.json()["detail"] == unknown.json()["detail"]
        assert http.post(f"/api/v1/postkorb/{waiting[1]}/return", json={}, headers=triage).status_code == 422
        operator = bearer(oidc_provider, OPERATOR.name)
        returns = http.get("/api/v1/postkorb-returns", params={"open": "true"}, headers=operator)
        assert returns.status_code == 200
        assert [(r["document_id"], r["reason"]) for r in returns.json()["documents"]] == [
            (waiting[2], "Werbung")
        ]
        assert http.get("/api/v1/postkorb-returns", headers=reader).status_code == 403
        taken = http.post(f"/api/v1/postkorb-returns/{waiting[2]}/taken-back", headers=operator)
        assert taken.status_code == 200 and taken.json()["taken_back_by"] == OPERATOR.name
        assert (
            http.post(f"/api/v1/postkorb-returns/{uuid4()}/taken-back", headers=operator).status_code == 404
        )
        # The sort without mail_document_type set: a configuration problem, said as one.
        unsorted = http.post(f"/api/v1/postkorb/{waiting[1]}/sort", headers=triage)
        assert unsorted.status_code == 500

        inbox = http.get("/api/v1/inbox", headers=reader)
        assert inbox.status_code == 200
        assert {c["case_number"]: c["new"] for c in inbox.json()["cases"]} == {CASE: 2}
        assert http.get("/api/v1/inbox", headers=triage).status_code == 403


def test_the_sort_records_a_filing_it_could_not_make_and_goes_on(
    archive: Archive, tmp_path: Path, make_scan: Any
) -> None:
    """The case the text names holds the same scan already: the sort says so, and the next run skips it."""
    api.add_user(archive, ADMIN, TRIAGE.name, ["triage"])
    archive = with_mail_type(archive)
    (doc,) = waiting_letters(archive, tmp_path, 1)
    read_as(archive, doc, "Aktenzeichen 12345BG0001234")
    copy = make_scan("same.pdf")
    copy.write_bytes(b"".join(api.open_original(archive, TRIAGE, doc)))
    api.import_document(archive, OPERATOR, copy, api.DocumentMeta(CASE, "Antrag"))
    result = api.sort_postkorb_document(archive, TRIAGE, doc)
    assert result.assigned is None
    assert result.finding == f"not filed: case {CASE} holds this scan already"
    assert [e.finding for e in api.postkorb(archive, TRIAGE)] == [result.finding]


# --- sending a document back to the station ---------------------------------------------------------------


def test_a_document_sent_back_to_the_station_is_deleted_and_listed_for_the_station(
    archive: Archive, day: dict[str, Any]
) -> None:
    from ekakte.db.models import PostkorbReturn

    waiting = day["docs"][2].document_id  # post.pdf, pages 5-6
    with archive.reading() as session:
        doc = session.get(Document, waiting)
        assert doc is not None
        key, sha256, station = doc.storage_key, doc.sha256, doc.station
    done = api.return_to_station(archive, TRIAGE, waiting, "  Schreiben an die\nFamilienkasse ")
    assert (done.document_id, done.reason, done.station, done.stack, done.page_count, done.deleted) == (
        waiting, "Schreiben an die Familienkasse", station, "post.pdf, pages 5-6", 2, True,
    )  # fmt: skip
    assert (done.original_filename, done.sha256, done.returned_by, done.taken_back_at) == (
        "post_p5-6.pdf", sha256, TRIAGE.name, None,
    )  # fmt: skip
    # The scan is gone (object, row, pages), and the deletion protocol says so, without the reason.
    assert archive.store.stat(key) is None
    with archive.reading() as session:
        assert session.get(Document, waiting) is None
        assert session.scalars(select(Page).where(Page.document_id == waiting)).first() is None
        item = session.get(PostkorbItem, waiting)
        assert item is not None and item.state == "returned" and item.decided_by == TRIAGE.name
        record = session.get(PostkorbReturn, waiting)
        assert record is not None and record.deleted_at is not None
    line = [e for e in api.protocol(archive, RECORDS) if e.document_id == str(waiting)]
    assert len(line) == 1
    assert (line[0].rule, line[0].sha256, line[0].objects, line[0].deleted_by) == (
        "returned to the station", sha256, 1, TRIAGE.name,
    )  # fmt: skip
    assert "Familienkasse" not in str(line[0].as_json())
    assert api.verify(archive, ADMIN).ok
    # Out of the Postkorb: not listed, not readable, not to be returned or assigned again.
    assert waiting not in [e.document_id for e in api.postkorb(archive, TRIAGE)]
    for again in (
        lambda: api.return_to_station(archive, TRIAGE, waiting, "nochmal"),
        lambda: api.assign_from_postkorb(archive, TRIAGE, waiting, CASE, "Antrag"),
        lambda: api.get_document(archive, TRIAGE, waiting),
    ):
        with pytest.raises((NotFound, NotPermitted)):
            again()
    # The station's list: scan operators and the triage role; it holds what finds the paper.
    listed = api.returned_documents(archive, OPERATOR, station=station, open_only=True)
    assert [r.document_id for r in listed] == [waiting]
    assert list(api.returned_documents(archive, OPERATOR, station="another-station")) == []
    assert [r.document_id for r in api.returned_documents(archive, TRIAGE)] == [waiting]
    for who in (READER, RECORDS):
        with pytest.raises(NotPermitted):
            api.returned_documents(archive, who)
        with pytest.raises(NotPermitted):
            api.take_back(archive, who, waiting)
    taken = api.take_back(archive, OPERATOR, waiting)
    assert taken.taken_back_by == OPERATOR.name and taken.taken_back_at is not None
    assert api.take_back(archive, OPERATOR, waiting).taken_back_at == taken.taken_back_at  # the first stands
    assert list(api.returned_documents(archive, OPERATOR, open_only=True)) == []
    with pytest.raises(NotFound):
        api.take_back(archive, OPERATOR, day["docs"][0].document_id)  # waiting, not returned


def test_a_return_is_refused_without_a_reason_to_others_and_under_a_hold(
    archive: Archive, day: dict[str, Any]
) -> None:
    waiting = day["docs"][0].document_id
    in_case = day["docs"][1].document_id
    for reason in ("", "   ", "a\x07b", "x" * 501):
        with pytest.raises(InvalidInput):
            api.return_to_station(archive, TRIAGE, waiting, reason)
    for who in (READER, OPERATOR, RECORDS):
        with pytest.raises(NotPermitted):
            api.return_to_station(archive, who, waiting, "nicht unseres")
    for other in (in_case, uuid4()):  # a case's document answers as an unknown one
        with pytest.raises(NotFound, match="in the Postkorb"):
            api.return_to_station(archive, TRIAGE, other, "nicht unseres")
    api.add_hold(archive, RECORDS, reason="Widerspruchsverfahren", document_id=waiting)
    with pytest.raises(InvalidInput, match="legal hold") as refused:
        api.return_to_station(archive, TRIAGE, waiting, "nicht unseres")
    assert refused.value.code == "kept"
    assert waiting in [e.document_id for e in api.postkorb(archive, TRIAGE)]
    assert list(api.returned_documents(archive, TRIAGE)) == []
    assert api.verify(archive, ADMIN).ok


def test_a_return_the_store_refuses_is_undone_and_one_it_cannot_reach_is_finished_by_the_sweep(
    archive: Archive, day: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ekakte.errors import StorageError

    first, second = day["docs"][0].document_id, day["docs"][2].document_id
    # The store refuses to delete (a lock ekakte did not set, a policy): the document waits again.
    monkeypatch.setattr(archive.store, "delete_many", lambda keys: {k: "AccessDenied: locked" for k in keys})
    with pytest.raises(InvalidInput, match="stays in the Postkorb: AccessDenied") as refused:
        api.return_to_station(archive, TRIAGE, first, "nicht unseres")
    assert refused.value.code == "kept"
    assert first in [e.document_id for e in api.postkorb(archive, TRIAGE)]
    assert api.get_document(archive, TRIAGE, first).page_count == 1
    assert list(api.returned_documents(archive, TRIAGE)) == []

    # The store cannot be reached: the return is made, the document hidden, its scan deleted later.
    def away(keys: list[str]) -> dict[str, str]:
        raise StorageError("the store is not reachable")

    monkeypatch.setattr(archive.store, "delete_many", away)
    done = api.return_to_station(archive, TRIAGE, second, "Werbung")
    assert not done.deleted
    assert second not in [e.document_id for e in api.postkorb(archive, TRIAGE)]
    with pytest.raises((NotFound, NotPermitted)):
        api.get_document(archive, TRIAGE, second)
    monkeypatch.undo()
    report = api.sweep(archive, RECORDS)
    assert report.problems == []
    [finished] = [r for r in api.returned_documents(archive, TRIAGE) if r.document_id == second]
    assert finished.deleted
    with archive.reading() as session:
        assert session.get(Document, second) is None
    assert [e.rule for e in api.protocol(archive, RECORDS) if e.document_id == str(second)] == [
        "returned to the station"
    ]
    assert api.verify(archive, ADMIN).ok


def test_a_hold_put_on_a_document_whose_return_is_unfinished_brings_it_back(
    archive: Archive, day: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ekakte.errors import StorageError

    waiting = day["docs"][0].document_id

    def away(keys: list[str]) -> dict[str, str]:
        raise StorageError("the store is not reachable")

    monkeypatch.setattr(archive.store, "delete_many", away)
    assert not api.return_to_station(archive, TRIAGE, waiting, "Werbung").deleted
    monkeypatch.undo()
    api.add_hold(archive, RECORDS, reason="Widerspruchsverfahren", document_id=waiting)
    report = api.sweep(archive, RECORDS)
    assert report.problems == [
        f"document {waiting} (returned to the station): refused: a legal hold was put on it"
    ]
    assert waiting in [e.document_id for e in api.postkorb(archive, TRIAGE)]
    assert api.get_document(archive, TRIAGE, waiting).page_count == 1
    assert list(api.returned_documents(archive, TRIAGE)) == []
    assert not [e for e in api.protocol(archive, RECORDS) if e.document_id == str(waiting)]
    assert api.sweep(archive, RECORDS).problems == []  # nothing left to finish
    assert api.verify(archive, ADMIN).ok


def test_returns_on_the_command_line(cli: Cli, archive: Archive, day: dict[str, Any]) -> None:  # noqa: F811
    me = Actor.from_os().name
    api.grant(archive, ADMIN, me, ["triage"], [])
    waiting = str(day["docs"][2].document_id)
    code, out, err = cli("postkorb", "return", waiting, "--reason", "Schreiben an die Familienkasse")
    assert code == 0, err
    assert f"{waiting} goes back to station" in out and "post.pdf, pages 5-6" in out
    code, _, err = cli("postkorb", "return", str(day["docs"][0].document_id), "--reason", " ")
    assert code != 0 and "say why" in err
    code, out, err = cli("postkorb", "returned", "--open")
    assert code == 0, err
    assert "why: Schreiben an die Familienkasse" in out and "[open]" in out and "1 document sent back" in out
    code, out, err = cli("postkorb", "taken-back", waiting, "--json")
    assert code == 0, err
    assert json.loads(out)["taken_back_by"] == me
    code, out, err = cli("postkorb", "returned", "--open", "--json")
    assert code == 0 and json.loads(out) == []
