"""Replacement scanning: the scan protocol, transfer notes, the second person's check, the seals and the
paper's status, on the embedded stack and on PostgreSQL + S3."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from ekakte import api
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import Document, ScanFile, ScanRecord, ScanSeal
from ekakte.errors import InvalidInput, NotPermitted
from ekakte.hotfolder import import_directory
from ekakte.ingest import DocumentMeta
from ekakte.integrity import verify
from ekakte.principals import add_user
from tests.conftest import ADMIN, CASE, OPERATOR, READER, scans
from tests.integration.test_cli import Cli, cli  # noqa: F401 (a fixture: the CLI as an operator)

META = DocumentMeta(CASE, "Antrag")
CHECKER = Actor("second-operator")
AUDITOR = Actor("auditor")
RECORDS = Actor("records")


@pytest.fixture
def people(archive: Archive) -> Archive:
    add_user(archive, ADMIN, CHECKER.name, ["scan_operator"])
    add_user(archive, ADMIN, AUDITOR.name, ["auditor"])
    add_user(archive, ADMIN, RECORDS.name, ["records_manager"])
    return archive


def with_settings(archive: Archive, **changes: Any) -> Archive:
    return Archive(dataclasses.replace(archive.settings, **changes), archive.engine, archive.store)


def scan_file(folder: Path, name: str, dpi: int = 300, pages: int = 1, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    images = [
        scans.scan_page([f"Seite {n}", f"Muster {seed}"], dpi=dpi, seed=seed * 10 + n) for n in range(pages)
    ]
    path.write_bytes(scans.scan_pdf_bytes(images, dpi=dpi))
    return path


def batch(archive: Archive, tmp_path: Path, *, low: bool = False, seed: int = 0) -> uuid.UUID:
    """A hot-folder batch of three scans, one of them refused (not a scan); with `low` one at 150 dpi."""
    inbox = tmp_path / "inbox"
    scan_file(inbox, "a.pdf", pages=2, seed=seed + 1)
    scan_file(inbox, "b.pdf", dpi=150 if low else 300, seed=seed + 2)
    (inbox / "c.pdf").write_bytes(b"not a pdf at all")
    report = import_directory(archive, OPERATOR, inbox, defaults=META, allow_root=True)
    assert (report.stored, len(report.rejected)) == (2, 1)
    return report.batch_id


def test_the_protocol_names_every_file_its_pages_as_scanned_and_what_was_refused(
    people: Archive, tmp_path: Path
) -> None:
    batch_id = batch(people, tmp_path, low=True)
    found = api.scan_protocol(people, AUDITOR, batch_id)
    assert (found.station, found.operator, found.finished_at is not None) == (
        people.settings.station, OPERATOR.name, True,
    )  # fmt: skip
    lines = {f.name: f for f in found.files}
    assert [lines[n].status for n in ("a.pdf", "b.pdf", "c.pdf")] == ["stored", "stored", "refused"]
    assert lines["a.pdf"].page_count == 2 and len(lines["a.pdf"].sha256 or "") == 64
    assert "c.pdf" in found.files[2].name and found.refused[0].reason
    notes = {n.filename: n for n in found.documents}
    assert [(p.number, p.dpi, p.mode) for p in notes["a.pdf"].pages] == [
        (1, 300, "grayscale"),
        (2, 300, "grayscale"),
    ]
    assert notes["a.pdf"].anomalies == []
    assert notes["b.pdf"].anomalies == ["scanned below 200 dpi: page 1 at 150 dpi"]
    assert notes["b.pdf"].settings == {"media_type": "application/pdf", "min_dpi": 0, "warn_dpi": 200}
    assert all(n.check == "not checked" and "noch nicht geprüft" in n.statement for n in found.documents)
    assert found.check is None and found.seal_sha256 is None
    # No content role reads it; a caseworker is not among its readers.
    with pytest.raises(NotPermitted):
        api.scan_protocol(people, READER, batch_id)


def test_a_transfer_note_goes_with_the_document_to_whoever_may_see_it(
    people: Archive, tmp_path: Path
) -> None:
    batch_id = batch(people, tmp_path)
    with people.reading() as session:
        doc_id = session.scalars(
            select(ScanRecord.document_id).where(ScanRecord.batch_id == batch_id)
        ).first()
    assert doc_id is not None
    note = api.transfer_note(people, READER, doc_id)
    assert (note.scanned_by, note.batch_id, note.state) == (OPERATOR.name, str(batch_id), "stored")
    assert note.assignment.startswith("case and type named at import")
    # The scan operator may not see a case's document: the note is refused alike.
    with pytest.raises(NotPermitted):
        api.transfer_note(people, OPERATOR, doc_id)


def test_the_check_is_for_a_second_person_once_and_seals_the_batch(people: Archive, tmp_path: Path) -> None:
    batch_id = batch(people, tmp_path)
    with pytest.raises(InvalidInput, match="the check is for a second person") as own:
        api.check_batch(people, OPERATOR, batch_id, passed=True)
    assert own.value.code == "own-batch"
    with pytest.raises(InvalidInput, match="a failed check needs a note"):
        api.check_batch(people, CHECKER, batch_id, passed=False)
    with pytest.raises(NotPermitted):
        api.check_batch(people, READER, batch_id, passed=True)
    done = api.check_batch(people, CHECKER, batch_id, passed=True, note="2 von 2 verglichen")
    assert (done.result, done.documents, done.verified, len(done.sample)) == ("passed", 2, 2, 2)
    with pytest.raises(InvalidInput, match="a batch is checked once"):
        api.check_batch(people, CHECKER, batch_id, passed=False, note="doch nicht")
    found = api.scan_protocol(people, AUDITOR, batch_id)
    assert found.check is not None and found.check.checked_by == CHECKER.name
    assert found.seal_sha256 == done.seal_sha256
    assert all("stimmt bildlich und inhaltlich" in n.statement for n in found.documents)
    assert all(n.in_sample for n in found.documents)
    report = verify(people, ADMIN)
    assert report.ok and report.seals_checked == 1, report.problems


def test_a_sample_is_the_same_for_everyone_and_as_large_as_configured(
    people: Archive, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    for n in range(10):
        scan_file(inbox, f"s{n}.pdf", seed=n)
    report = import_directory(people, OPERATOR, inbox, defaults=META, allow_root=True)
    tenth = with_settings(people, check_sample="10%")
    first = api.check_sample(tenth, CHECKER, report.batch_id)
    assert (first.documents, len(first.sample)) == (10, 1)
    assert api.check_sample(tenth, AUDITOR, report.batch_id).sample == first.sample
    assert (
        len(api.check_sample(with_settings(people, check_sample="3"), CHECKER, report.batch_id).sample) == 3
    )
    done = api.check_batch(with_settings(people, check_sample="3"), CHECKER, report.batch_id, passed=True)
    found = api.scan_protocol(people, AUDITOR, report.batch_id)
    assert sum(n.in_sample for n in found.documents) == 3 and done.verified == 10
    assert all("Stichprobe von 3 der 10" in n.statement for n in found.documents if not n.in_sample)


def test_a_restricted_document_in_the_sample_needs_a_checker_with_the_health_clearance(
    people: Archive, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    scan_file(inbox, "g.pdf", seed=7)
    report = import_directory(
        people, OPERATOR, inbox, defaults=DocumentMeta(CASE, "Gutachten"), allow_root=True
    )
    with pytest.raises(InvalidInput, match="clearance must check this batch"):
        api.check_batch(people, CHECKER, report.batch_id, passed=True)
    # The file name of a restricted document is withheld from a reader of the protocol without it.
    names = [f.name for f in api.scan_protocol(people, AUDITOR, report.batch_id).files]
    assert names == ["(restricted: withheld)"]
    add_user(people, ADMIN, "cleared-operator", ["scan_operator"], health_clearance=True)
    assert api.check_batch(people, Actor("cleared-operator"), report.batch_id, passed=True).result == "passed"


def test_the_paper_may_go_after_a_passed_check_and_the_waiting_period_but_not_refused_files(
    people: Archive, tmp_path: Path
) -> None:
    batch_id = batch(people, tmp_path)

    def status(today: date) -> Any:
        return next(s for s in api.paper_status(people, RECORDS, today=today) if s.batch_id == str(batch_id))

    today = date.today()
    assert status(today).reasons[0] == "not checked yet" and not status(today).may_be_destroyed
    api.check_batch(people, CHECKER, batch_id, passed=True)
    waiting = status(today)
    assert not waiting.may_be_destroyed and waiting.reasons[0].startswith("waiting period until")
    later = status(today + timedelta(days=people.settings.paper_waiting_days))
    assert later.may_be_destroyed and later.from_date == today + timedelta(days=28)
    assert later.reasons == ["keep the paper of 1 refused files (not stored)"]


def test_a_failed_check_keeps_the_paper(people: Archive, tmp_path: Path) -> None:
    batch_id = batch(people, tmp_path)
    api.check_batch(people, CHECKER, batch_id, passed=False, note="Seite 2 abgeschnitten")
    state = next(s for s in api.paper_status(people, AUDITOR) if s.batch_id == str(batch_id))
    assert not state.may_be_destroyed and "the check failed: Seite 2 abgeschnitten" in state.reasons
    note = api.scan_protocol(people, AUDITOR, batch_id).documents[0]
    assert "fand Mängel" in note.statement
    assert verify(people, ADMIN).ok


def test_verify_names_a_changed_protocol_line_note_hash_and_a_broken_chain(
    people: Archive, tmp_path: Path
) -> None:
    first = batch(people, tmp_path / "one")
    api.check_batch(people, CHECKER, first, passed=True)
    second = batch(people, tmp_path / "two", seed=10)

    api.check_batch(people, CHECKER, second, passed=True)
    assert verify(people, ADMIN).ok
    with people.transaction() as session:
        record = session.scalars(select(ScanRecord).where(ScanRecord.batch_id == first)).first()
        assert record is not None
        session.execute(
            update(ScanRecord).where(ScanRecord.document_id == record.document_id).values(anomalies="[]x")
        )
        session.execute(
            update(ScanFile)
            .where(ScanFile.batch_id == first, ScanFile.status == "refused")
            .values(reason="ok")
        )
        session.execute(update(Document).where(Document.id == record.document_id).values(sha256="0" * 64))
    problems = [p.detail for p in verify(people, ADMIN).problems if p.kind == "seal"]
    assert f"document {record.document_id}: its transfer-note record changed" in problems
    assert f"document {record.document_id}: its SHA-256 differs from the sealed one" in problems
    assert any(p.startswith("protocol line 3 ") for p in problems)
    # A sampled verify checks the signatures and the chain, not what every seal protects.
    assert [p for p in verify(people, ADMIN, sample=1).problems if p.kind == "seal"] == []

    # A forged manifest (its SHA-256 recomputed to match) fails the signature; a removed seal breaks
    # the chain.
    with people.transaction() as session:
        seal = session.scalars(select(ScanSeal).where(ScanSeal.batch_id == second)).one()
        forged = seal.manifest.replace('"passed"', '"failed"')
        from ekakte.scanning.seals import digest

        session.execute(
            update(ScanSeal)
            .where(ScanSeal.id == seal.id)
            .values(manifest=forged, sha256=digest(forged.encode()))
        )
    problems = [
        p.detail for p in verify(people, ADMIN).problems if p.kind == "seal" and p.key == f"batch {second}"
    ]
    assert "the signature does not match the manifest" in problems
    with people.transaction() as session:
        session.execute(ScanSeal.__table__.delete().where(ScanSeal.batch_id == first))
    report = verify(people, ADMIN)
    assert not report.ok
    assert "the chain is broken: the previous seal is not the one before" in [
        p.detail for p in report.problems if p.key == f"batch {second}"
    ]


def test_only_trusted_keys_seal(people: Archive, tmp_path: Path) -> None:
    from ekakte.scanning.seals import public_key

    batch_id = batch(people, tmp_path)
    api.check_batch(people, CHECKER, batch_id, passed=True)
    old = public_key(people.settings)
    rotated = with_settings(people, seal_key="11" * 32)
    problems = [p.detail for p in verify(rotated, ADMIN).problems]
    assert any(p.startswith("sealed with a key that is not trusted") for p in problems)
    assert verify(with_settings(rotated, seal_trusted_keys=(old,)), ADMIN).ok


def test_a_stack_s_protocol_names_its_sheets_and_how_each_part_got_its_case(
    people: Archive, tmp_path: Path
) -> None:
    pages = [
        scans.sheet_page(CASE, "Antrag", dpi=300, seed=1),
        scans.scan_page(["Antrag auf Leistungen"], dpi=300, seed=2),
        scans.sheet_page(None, None, dpi=300, seed=3),
        scans.scan_page(["Ein Brief ohne Deckblatt"], dpi=300, seed=4),
    ]
    path = tmp_path / "post.pdf"
    path.write_bytes(scans.scan_pdf_bytes(pages, dpi=300))
    report = api.import_stacks(people, OPERATOR, [path])
    found = api.scan_protocol(people, AUDITOR, report.batch_id)
    assert [(f.name, f.status, f.page_count) for f in found.files] == [("post.pdf", "stack", 4)]
    assert found.stacks[0].sheets == 2 and len(found.documents) == 2
    how = sorted(n.assignment for n in found.documents)
    assert how[0] == "by the cover sheet on page 1 of its stack"
    assert how[1].startswith("in the Postkorb: ")


def test_the_cli_shows_the_protocol_checks_a_batch_and_prints_the_key(
    cli: Cli,  # noqa: F811
    people: Archive,
    tmp_path: Path,
) -> None:
    batch_id = batch(people, tmp_path)
    code, out, err = cli("scan", "protocol", str(batch_id), "--json")
    assert code == 0 and json.loads(out)["refused"] == 1, err

    code, out, err = cli("scan", "qa", str(batch_id))
    assert code == 2 and "say --start, --passed or --failed" in err

    code, out, _ = cli("scan", "qa", str(batch_id), "--passed", "--note", "alles gut")
    assert code == 0 and "passed" in out and "sealed" in out
    code, out, err = cli("scan", "qa", str(batch_id), "--passed")
    assert code != 0 and "a batch is checked once" in err and "Traceback" not in err
    code, out, _ = cli("scan", "status", "--json")
    assert code == 0 and json.loads(out)[0]["reasons"][0].startswith("waiting period until")
    code, out, _ = cli("scan", "key")
    assert code == 0 and len(out.strip()) == 64
    code, out, _ = cli("scan", "protocol", "not-a-uuid")
    assert code != 0
    code, out, _ = cli("verify")
    assert code == 0 and "1 seals checked, 0 seal problems" in out


def test_with_drop_blank_pages_a_scan_is_stored_without_them_and_its_record_lists_them(
    people: Archive, tmp_path: Path
) -> None:
    dropping = with_settings(people, drop_blank_pages=True)
    pages = [
        scans.scan_page(["Seite eins"], dpi=200, seed=1),
        scans.blank_page(dpi=200, seed=2),
        scans.scan_page(["Seite drei"], dpi=200, seed=3),
    ]
    pdf = tmp_path / "mit-leerseite.pdf"
    scans.write_scan_pdf(pdf, pages, dpi=200)
    tif = tmp_path / "mit-leerseite.tif"
    scans.write_g4_tiff(tif, pages, dpi=200)
    for path in (pdf, tif):
        stored = api.import_document(dropping, OPERATOR, path, META)
        assert (stored.status, stored.page_count) == ("stored", 2)
        note = api.transfer_note(dropping, READER, stored.document_id)
        assert note.anomalies == ["blank pages removed at import: 2"]
        assert [p.number for p in note.pages] == [1, 2]
        assert note.settings["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert note.sha256 != note.settings["source_sha256"]
        # The same scan again gives the same bytes: it is found stored, not stored twice.
        assert api.import_document(dropping, OPERATOR, path, META).status == "already_stored"
    # Without the setting the blank page is kept (the OCR worker flags it).
    assert api.import_document(people, OPERATOR, pdf, DocumentMeta(CASE, "Nachweis")).page_count == 3
    empty = tmp_path / "leer.pdf"
    scans.write_scan_pdf(empty, [scans.blank_page(dpi=200, seed=5)], dpi=200)
    with pytest.raises(InvalidInput, match="every page of the scan is blank") as refused:
        api.import_document(dropping, OPERATOR, empty, META)
    assert refused.value.code == "blank-scan"


def first_document(archive: Archive, batch_id: uuid.UUID) -> uuid.UUID:
    with archive.reading() as session:
        found = session.scalars(
            select(ScanRecord.document_id)
            .where(ScanRecord.batch_id == batch_id)
            .order_by(ScanRecord.filename)
        ).first()
    assert found is not None
    return found


def test_only_who_took_the_check_on_sees_the_sample_and_only_until_it_is_recorded(
    people: Archive, tmp_path: Path
) -> None:
    batch_id = batch(people, tmp_path)
    doc = first_document(people, batch_id)
    bystander = Actor("bystander")
    add_user(people, ADMIN, bystander.name, ["scan_operator"])
    # Before anyone took the check on, no scan operator sees a page, the original least of all.
    for who in (CHECKER, bystander):
        with pytest.raises(NotPermitted):
            api.render_page(people, who, doc, 1, 200)
    sample = api.start_check(people, CHECKER, batch_id)
    assert (sample.yours, sample.checker, sorted(sample.sample)) == (
        True,
        CHECKER.name,
        sorted(sample.sample),
    )
    assert api.render_page(people, CHECKER, doc, 1, 200).page == 1
    with pytest.raises(NotPermitted):
        api.render_page(people, bystander, doc, 1, 200)
    with pytest.raises(NotPermitted):  # not its text, not as the case's reader
        api.document_text(people, CHECKER, doc)
    with pytest.raises(InvalidInput, match="second-operator checks this batch since") as taken:
        api.start_check(people, bystander, batch_id)
    assert taken.value.code == "checked-by-another"
    assert api.check_sample(people, bystander, batch_id).may_check is False
    api.check_batch(people, CHECKER, batch_id, passed=True)
    with pytest.raises(NotPermitted):
        api.render_page(people, CHECKER, doc, 1, 200)


def test_a_check_left_too_long_ends_the_takers_sight_and_another_may_take_it_over(
    people: Archive, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from ekakte.db.models import ScanCheck

    batch_id = batch(people, tmp_path)
    doc = first_document(people, batch_id)
    api.start_check(people, CHECKER, batch_id)
    with people.transaction() as session:
        session.execute(
            update(ScanCheck)
            .where(ScanCheck.batch_id == batch_id)
            .values(started_at=datetime.now(UTC) - timedelta(hours=9))
        )
    with pytest.raises(NotPermitted):
        api.render_page(people, CHECKER, doc, 1, 200)
    other = Actor("other-checker")
    add_user(people, ADMIN, other.name, ["triage"])
    assert api.start_check(people, other, batch_id).yours
    assert api.render_page(people, other, doc, 1, 200).page == 1


def test_whom_a_service_scanned_for_may_not_check_that_batch(people: Archive, tmp_path: Path) -> None:
    service = Actor("scan-software")
    add_user(people, ADMIN, service.name, ["service"])
    add_user(people, ADMIN, "mueller", ["scan_operator"])
    inbox = tmp_path / "inbox"
    scan_file(inbox, "s.pdf", seed=40)
    report = import_directory(
        people, Actor(service.name, on_behalf_of="mueller"), inbox, defaults=META, allow_root=True
    )
    assert report.stored == 1
    with pytest.raises(InvalidInput, match="mueller scanned this batch"):
        api.check_batch(people, Actor("mueller"), report.batch_id, passed=True)
    assert api.check_batch(people, CHECKER, report.batch_id, passed=True).result == "passed"


def test_a_refused_check_is_in_the_audit_trail(people: Archive, tmp_path: Path) -> None:
    from ekakte.db.models import AuditEntry

    batch_id = batch(people, tmp_path)
    with pytest.raises(InvalidInput):
        api.check_batch(people, OPERATOR, batch_id, passed=True)
    with people.reading() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
    assert (entry.actor, entry.action, entry.outcome) == (OPERATOR.name, "scan.check", "failed")
    assert entry.reason is not None and "(own-batch)" in entry.reason


def test_verify_finds_the_last_seal_removed_with_its_check(people: Archive, tmp_path: Path) -> None:
    from ekakte.db.models import ScanCheck

    batch_id = batch(people, tmp_path)
    api.check_batch(people, CHECKER, batch_id, passed=True)
    with people.transaction() as session:
        session.execute(ScanSeal.__table__.delete().where(ScanSeal.batch_id == batch_id))
    assert "the check is recorded, its seal is missing" in [p.detail for p in verify(people, ADMIN).problems]
    with people.transaction() as session:
        session.execute(ScanCheck.__table__.delete().where(ScanCheck.batch_id == batch_id))
    problems = [p.detail for p in verify(people, ADMIN).problems if p.kind == "seal"]
    assert len(problems) == 1 and problems[0].startswith("the audit trail names seal ")


def test_the_paper_stays_while_the_seal_does_not_hold(people: Archive, tmp_path: Path) -> None:
    batch_id = batch(people, tmp_path)
    api.check_batch(people, CHECKER, batch_id, passed=True)
    later = date.today() + timedelta(days=40)
    with people.transaction() as session:
        session.execute(update(ScanRecord).where(ScanRecord.batch_id == batch_id).values(station="elsewhere"))
    state = next(s for s in api.paper_status(people, RECORDS, today=later) if s.batch_id == str(batch_id))
    assert not state.may_be_destroyed
    assert state.reasons[0].startswith("the seal does not hold (document ")


def test_a_batch_that_stopped_is_closed_as_it_stands_and_can_then_be_checked(
    people: Archive, tmp_path: Path
) -> None:
    from ekakte.db.models import ImportBatch

    batch_id = batch(people, tmp_path)
    with people.transaction() as session:
        session.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(finished_at=None))
    with pytest.raises(InvalidInput, match="stopped before its end") as stopped:
        api.check_batch(people, CHECKER, batch_id, passed=True)
    assert stopped.value.code == "unfinished"
    with pytest.raises(NotPermitted):
        api.close_stopped_batch(people, AUDITOR, batch_id)
    api.close_stopped_batch(people, OPERATOR, batch_id)
    assert api.check_batch(people, CHECKER, batch_id, passed=True).result == "passed"


def test_a_restricted_part_of_a_stack_keeps_its_type_and_case_from_a_reader_without_clearance(
    people: Archive, tmp_path: Path
) -> None:
    pages = [
        scans.sheet_page(CASE, "Gutachten", dpi=300, seed=1),
        scans.scan_page(["Ärztliches Gutachten"], dpi=300, seed=2),
    ]
    path = tmp_path / "post.pdf"
    path.write_bytes(scans.scan_pdf_bytes(pages, dpi=300))
    report = api.import_stacks(people, OPERATOR, [path])
    parts = api.scan_protocol(people, AUDITOR, report.batch_id).stacks[0].parts
    document = next(p for p in parts if p.kind == "document")
    assert (document.case_number, document.document_type) == (None, "(restricted: withheld)")
    add_user(people, ADMIN, "cleared-auditor", ["auditor"], health_clearance=True)
    cleared = api.scan_protocol(people, Actor("cleared-auditor"), report.batch_id).stacks[0].parts
    assert next(p for p in cleared if p.kind == "document").document_type == "Gutachten"


@pytest.mark.parametrize("stack_env", ["embedded"], indirect=True)
def test_the_api_checks_a_batch_and_answers_a_refused_batch_as_an_unknown_one(
    people: Archive, settings: Any, oidc_provider: Any, tmp_path: Path
) -> None:
    import httpx

    from ekakte.service.app import create_app
    from tests.integration.test_service import bearer, service_settings, serving

    batch_id = batch(people, tmp_path)
    doc = first_document(people, batch_id)
    app = create_app(settings, service_settings(oidc_provider), archive=people)
    with serving(app) as url, httpx.Client(base_url=url) as http:
        checker, reader = bearer(oidc_provider, CHECKER.name), bearer(oidc_provider, READER.name)
        auditor, operator = bearer(oidc_provider, AUDITOR.name), bearer(oidc_provider, OPERATOR.name)
        found = http.get(f"/api/v1/scan-batches/{batch_id}/protocol", headers=auditor)
        assert found.status_code == 200 and found.json()["refused"] == 1
        refused = http.get(f"/api/v1/scan-batches/{batch_id}/protocol", headers=reader)
        unknown = http.get(f"/api/v1/scan-batches/{uuid.uuid4()}/protocol", headers=auditor)
        assert refused.status_code == unknown.status_code == 404
        assert refused.json()["detail"] == unknown.json()["detail"]
        assert http.get("/api/v1/scan-batches/not-a-batch/protocol", headers=auditor).status_code == 422
        # The operator's own batch: refused with its code; the checker takes it on, sees a page, records.
        own = http.post(f"/api/v1/scan-batches/{batch_id}/start", headers=operator)
        assert own.status_code == 422 and own.json()["code"] == "own-batch"
        assert http.get(f"/api/v1/documents/{doc}/pages/1", headers=checker).status_code == 404
        started = http.post(f"/api/v1/scan-batches/{batch_id}/start", headers=checker)
        assert started.status_code == 200 and started.json()["yours"] is True
        assert http.get(f"/api/v1/documents/{doc}/pages/1", headers=checker).status_code == 200
        body = {"result": "failed"}
        assert (
            http.post(f"/api/v1/scan-batches/{batch_id}/check", json=body, headers=checker).status_code == 422
        )
        body = {"result": "passed", "note": "2 von 2", "extra": 1}
        assert (
            http.post(f"/api/v1/scan-batches/{batch_id}/check", json=body, headers=checker).status_code == 422
        )
        done = http.post(f"/api/v1/scan-batches/{batch_id}/check", json={"result": "passed"}, headers=checker)
        assert done.status_code == 200 and len(done.json()["seal_sha256"]) == 64
        assert http.get(f"/api/v1/documents/{doc}/pages/1", headers=checker).status_code == 404
        note = http.get(f"/api/v1/documents/{doc}/transfer-note", headers=reader)
        assert note.status_code == 200 and note.json()["check"] == "passed"
        hidden = http.get(f"/api/v1/documents/{doc}/transfer-note", headers=checker)
        nothing = http.get(f"/api/v1/documents/{uuid.uuid4()}/transfer-note", headers=checker)
        assert (
            hidden.status_code == nothing.status_code == 404
            and hidden.json()["detail"] == nothing.json()["detail"]
        )
        status = http.get("/api/v1/scan-status", headers=auditor)
        assert status.status_code == 200 and status.json()["batches"][0]["batch_id"] == str(batch_id)
