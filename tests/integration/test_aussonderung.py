"""The Aussonderung end to end, the tests playing the archive: they read the 0501 ekakte wrote, answer with
0504 and a 0502 of mixed decisions, unpack the 0503 and check every file against the archive, answer with
0507 and a 0506 that reports one record failed, and check what the sweep then deletes, keeps and writes
into the protocol. On SQLite + folder, PostgreSQL + S3 (moto) and PostgreSQL + RadosGW (Object Lock)."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from datetime import date
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from sqlalchemy import select, update

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.db.models import DeletionRecord, DisposalRecord, Document, OcrState, Page
from ekakte.errors import IntegrityError, InvalidInput, NotPermitted
from ekakte.ingest import DocumentMeta, import_document
from ekakte.principals import add_user
from ekakte.retention.disposal import hand_over, offer, receive, status
from ekakte.retention.schedule import close_case, load_rules
from ekakte.retention.sweep import plan, sweep
from ekakte.storage.base import read_verified
from ekakte.xdomea import message_name, package_name, records_of, schema
from tests.conftest import ADMIN, CASE, OPERATOR, OTHER_CASE, STACKS_WITH_RGW, make_stack

RECORDS = Actor("records-manager")
RULES = """
[[rule]]
name = "Leistungsakte"
types = ["*"]
keep = "10y"
trigger = "case_closed"
rounding = "end_of_year"
suggest = "keep"

[[rule]]
name = "Kontoauszüge"
types = ["Kontoauszug"]
keep = "5y"
trigger = "case_closed"
rounding = "end_of_year"
disposition = "destroy"
release = "Kreisarchiv DA-DI, Bewertungsentscheidung 2025/17"
"""
DAY = date(2026, 1, 1)
NS = "urn:xoev-de:xdomea:schema:3.1.0"
ARCHIVE_ENV = {
    "EKAKTE_ARCHIVE_SENDER": "Kommunales Jobcenter Musterkreis",
    "EKAKTE_ARCHIVE_SENDER_UNIT": "Registratur",
    "EKAKTE_ARCHIVE_RECIPIENT": "Kreisarchiv Musterkreis",
}


@pytest.fixture(params=STACKS_WITH_RGW)
def stack_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    return {**make_stack(request, tmp_path), **ARCHIVE_ENV}


@pytest.fixture
def arc(archive: Archive, tmp_path: Path) -> Archive:
    add_user(archive, ADMIN, RECORDS.name, ["records_manager"])
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    load_rules(archive, RECORDS, rules)
    return archive


@pytest.fixture
def transfer(tmp_path: Path) -> Path:
    folder = tmp_path / "transfer"
    folder.mkdir()
    return folder


def stored(
    archive: Archive, make_scan: Any, doc_type: str, case: str = CASE, title: str | None = None
) -> uuid.UUID:
    scan = make_scan(seed=int(uuid.uuid4().int % 10**8))
    meta = DocumentMeta(case, doc_type, date(2014, 5, 1), title=title)
    return import_document(archive, OPERATOR, scan, meta).document_id


def read_text(archive: Archive, doc: uuid.UUID, text: str) -> None:
    """As if OCR had read the document's pages."""
    with archive.transaction() as session:
        session.execute(
            update(Page).where(Page.document_id == doc).values(ocr_state=OcrState.DONE, text=text, attempts=1)
        )


def message_of(package: Path, kind: str, process: str) -> tuple[bytes, zipfile.ZipFile]:
    """The message XML of a package ekakte wrote, validated against the xdomea 3.1.0 schema."""
    assert package.name == package_name(process, kind)
    zipped = zipfile.ZipFile(package)
    xml = zipped.read(message_name(process, kind))
    schema().validate(io.BytesIO(xml))  # raises on any schema error
    return xml, zipped


def answer(process: str, kind: str, body: str = "") -> bytes:
    """A message of the archive, as its software would write it."""
    names = {
        "0502": "Aussonderung.Bewertungsverzeichnis",
        "0504": "Aussonderung.AnbietungEmpfangBestaetigen",
        "0506": "Aussonderung.AussonderungImportBestaetigen",
        "0507": "Aussonderung.AussonderungEmpfangBestaetigen",
    }
    receipt = "<x:Empfangsbestaetigung>1</x:Empfangsbestaetigung>" if kind == "0502" else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<x:{names[kind]}.{kind} xmlns:x="{NS}">'
        f"<x:Kopf><x:ProzessID>{process}</x:ProzessID>"
        f"<x:Nachrichtentyp><code>{kind}</code></x:Nachrichtentyp>"
        "<x:Erstellungszeitpunkt>2026-02-01T10:00:00+01:00</x:Erstellungszeitpunkt>"
        "<x:Absender><x:Institution><x:Name>Kreisarchiv Musterkreis</x:Name></x:Institution></x:Absender>"
        "<x:Empfaenger><x:Institution><x:Name>Kommunales Jobcenter Musterkreis</x:Name></x:Institution>"
        f"</x:Empfaenger>{receipt}</x:Kopf>{body}</x:{names[kind]}.{kind}>"
    ).encode()


def appraisal(object_id: object, code: str) -> str:
    return (
        f"<x:BewertetesObjekt><x:ID>{object_id}</x:ID><x:Aussonderungsart><x:Aussonderungsart>"
        f"<code>{code}</code></x:Aussonderungsart></x:Aussonderungsart></x:BewertetesObjekt>"
    )


def imported(object_id: object, ok: bool, reference: str = "", error: str = "") -> str:
    more = f"<x:Fehlermeldung>{error}</x:Fehlermeldung>" if error else ""
    more += f"<x:Archivkennung>{reference}</x:Archivkennung>" if reference else ""
    flag = f"<x:Erfolgreich>{int(ok)}</x:Erfolgreich>"
    return f"<x:AusgesondertesSGO><x:IDSGO>{object_id}</x:IDSGO>{flag}{more}</x:AusgesondertesSGO>"


def disposal_of(archive: Archive, doc: uuid.UUID) -> str | None:
    with archive.reading() as session:
        return session.scalar(select(DeletionRecord.disposal).where(DeletionRecord.document_id == str(doc)))


def exists(archive: Archive, doc: uuid.UUID) -> bool:
    with archive.reading() as session:
        return session.get(Document, doc) is not None


def test_offer_appraise_hand_over_confirm_and_sweep(arc: Archive, make_scan: Any, transfer: Path) -> None:
    kept = stored(arc, make_scan, "Antrag", title="Antrag auf Bürgergeld")
    released = stored(arc, make_scan, "Bescheid")
    failing = stored(arc, make_scan, "Nachweis")
    bank = stored(arc, make_scan, "Kontoauszug")
    other = stored(arc, make_scan, "Antrag", case=OTHER_CASE)
    read_text(arc, kept, "Antrag auf Leistungen")
    for case in (CASE, OTHER_CASE):
        close_case(arc, RECORDS, case, date(2015, 3, 10))

    # Before any offer: only the rule that destroys under the archive's advance release lets go.
    report = sweep(arc, RECORDS, as_of=DAY)
    assert (report.deleted, report.awaiting_archive) == (1, 4)
    assert not exists(arc, bank)
    assert disposal_of(arc, bank) == (
        "destroyed under the archive's release: Kreisarchiv DA-DI, Bewertungsentscheidung 2025/17"
    )
    waits = {i.document_id: i.archive for i in plan(arc, RECORDS, as_of=DAY)}
    assert waits[kept] == "to be offered to the archive (ekakte archive offer)"

    # 1. The offer.
    offered = offer(arc, RECORDS, transfer, as_of=DAY)
    assert (offered.cases, offered.documents) == (2, 4)
    process = offered.process_id
    assert process is not None and offered.path is not None
    xml, _ = message_of(offered.path, "0501", process)
    root = ElementTree.fromstring(xml)
    records = list(records_of(root))
    files = {r.reference: r.object_id for r in records if r.kind == "Akte"}
    assert set(files) == {CASE, OTHER_CASE}
    assert {uuid.UUID(r.object_id) for r in records if r.kind == "Dokument"} == {
        kept,
        released,
        failing,
        other,
    }
    assert "Antrag auf Bürgergeld" in xml.decode()
    assert b"<xdomea:Bewertungsvorschlag" in xml  # the rule's suggestion
    again = offer(arc, RECORDS, transfer, as_of=DAY)
    assert (again.process_id, again.documents) == (None, 0)  # nothing is offered twice
    assert sweep(arc, RECORDS, as_of=DAY).deleted == 0  # offered is not released

    # 2. The archive's receipt and appraisal: the case A, but one of its documents V; the other case B.
    first = receive(arc, RECORDS, answer(process, "0504"), "0504.xml", transfer)
    assert first.kind == "0504" and not first.already
    decisions = appraisal(files[CASE], "A") + appraisal(released, "V") + appraisal(files[OTHER_CASE], "B")
    got = receive(arc, RECORDS, answer(process, "0502", decisions), "0502.xml", transfer)
    assert got.counts == {"keep": 2, "destroy": 1, "undecided": 1}
    assert got.reply is not None
    message_of(got.reply, "0505", process)
    twice = receive(arc, RECORDS, answer(process, "0502", decisions), "0502-again.xml", transfer)
    assert twice.already and twice.changed == 0

    report = sweep(arc, RECORDS, as_of=DAY)
    assert report.deleted == 1 and not exists(arc, released)
    assert disposal_of(arc, released) == f"released for destruction by the archive (V), process {process}"

    # 3. The hand-over: read and check as the archive does.
    handed = hand_over(arc, RECORDS, process, transfer)
    assert handed.documents == 2
    xml, package = message_of(handed.path, "0503", process)
    docs = [r for r in records_of(ElementTree.fromstring(xml)) if r.kind == "Dokument"]
    assert {uuid.UUID(r.object_id) for r in docs} == {kept, failing}
    with arc.reading() as session:
        originals = {
            d.id: d for d in session.scalars(select(Document).where(Document.id.in_([kept, failing])))
        }
    for record in docs:
        original = originals[uuid.UUID(record.object_id)]
        assert record.files, record
        for ref in record.files:
            body = package.read(ref.name)
            assert hashlib.sha256(body).hexdigest() == ref.sha256  # the hash the message gives
            if ref.format_code != "045":
                stored_bytes = b"".join(
                    read_verified(arc.store, original.storage_key, original.sha256, original.size_bytes)
                )
                assert body == stored_bytes and ref.sha256 == original.sha256  # byte for byte
    texts = [ref for r in docs for ref in r.files if ref.format_code == "045"]
    assert [package.read(t.name).decode() for t in texts] == ["Antrag auf Leistungen"]
    with pytest.raises(InvalidInput, match="nothing to hand over"):
        hand_over(arc, RECORDS, process, transfer)  # nothing is handed over twice

    # 4. The archive confirms one, reports the other failed.
    receive(arc, RECORDS, answer(process, "0507"), "0507.xml", transfer)
    result = imported(kept, True, reference="KA Best. 412 Nr. 7") + imported(
        failing, False, error="Prüfsumme"
    )
    confirmed = receive(arc, RECORDS, answer(process, "0506", result), "0506.xml", transfer)
    assert confirmed.counts == {"archived": 1, "failed": 1, "destroy": 1, "undecided": 1}
    report = sweep(arc, RECORDS, as_of=DAY)
    assert report.deleted == 1 and not exists(arc, kept) and exists(arc, failing) and exists(arc, other)
    assert (
        disposal_of(arc, kept)
        == f"handed over to the archive, reference KA Best. 412 Nr. 7, process {process}"
    )

    # The failed one is handed over again, alone.
    again_handed = hand_over(arc, RECORDS, process, transfer)
    assert again_handed.documents == 1
    receive(
        arc,
        RECORDS,
        answer(process, "0506", imported(failing, True, "KA Best. 412 Nr. 8")),
        "b.xml",
        transfer,
    )
    assert sweep(arc, RECORDS, as_of=DAY).deleted == 1 and not exists(arc, failing)
    (summary,) = status(arc, RECORDS, process)
    assert summary.counts == {"archived": 2, "destroy": 1, "undecided": 1}
    assert summary.open  # the B record waits
    assert [m["kind"] for m in summary.messages] == [
        "0501",
        "0504",
        "0502",
        "0505",
        "0503",
        "0507",
        "0506",
        "0503",
        "0506",
    ]


@pytest.mark.parametrize("stack_env", ["embedded"], indirect=True)
def test_bad_answers_are_refused_and_change_nothing(arc: Archive, make_scan: Any, transfer: Path) -> None:
    a, b = stored(arc, make_scan, "Antrag"), stored(arc, make_scan, "Bescheid")
    close_case(arc, RECORDS, CASE, date(2015, 3, 10))
    process = offer(arc, RECORDS, transfer, as_of=DAY).process_id
    assert process is not None

    def refused(data: bytes, match: str) -> None:
        with arc.reading() as session:
            before = sorted((r.document_id, r.state) for r in session.scalars(select(DisposalRecord)))
        with pytest.raises(InvalidInput, match=match):
            receive(arc, RECORDS, data, "answer.xml", transfer)
        with arc.reading() as session:
            assert sorted((r.document_id, r.state) for r in session.scalars(select(DisposalRecord))) == before

    refused(
        answer(process, "0502", appraisal(a, "X")),
        r"not valid against xdomea 3\.1\.0: line 2: .*A', 'B', 'V'",
    )
    refused(answer(process, "0502", ""), "not valid")  # a 0502 names at least one object
    refused(b"<x>unclosed", "not an XML message")
    refused(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>', "DTD or entity")
    refused(answer(str(uuid.uuid4()), "0502", appraisal(a, "A")), "is not one of this archive's offers")
    refused(answer(process, "0502", appraisal(uuid.uuid4(), "A")), "was not offered in process")
    refused(answer(process, "0506", imported(a, True, "X")), "not handed over")
    receive(arc, RECORDS, answer(process, "0502", appraisal(a, "A") + appraisal(b, "V")), "ok.xml", transfer)
    refused(answer(process, "0502", appraisal(a, "V")), r"decides V \(destroy\) .* A \(keep\) is recorded")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("a.xml", answer(process, "0504"))
        z.writestr("b.xml", answer(process, "0504"))
    refused(zipped.getvalue(), "holds one .xml file; this one holds 2")
    from ekakte.errors import NotFound

    for bad_id in ("x\x00y", "../../etc", str(uuid.uuid4())):  # never reaches a query as it came
        with pytest.raises(NotFound, match="no archive process"):
            hand_over(arc, RECORDS, bad_id, transfer)
        with pytest.raises(NotFound, match="no archive process"):
            status(arc, RECORDS, bad_id)


@pytest.mark.parametrize("stack_env", ["embedded"], indirect=True)
def test_a_corrupt_original_stops_the_hand_over_and_leaves_no_package(
    arc: Archive, make_scan: Any, transfer: Path
) -> None:
    doc = stored(arc, make_scan, "Antrag")
    close_case(arc, RECORDS, CASE, date(2015, 3, 10))
    process = offer(arc, RECORDS, transfer, as_of=DAY).process_id
    assert process is not None
    receive(arc, RECORDS, answer(process, "0502", appraisal(doc, "A")), "0502.xml", transfer)
    with arc.reading() as session:
        key = session.get(Document, doc).storage_key  # type: ignore[union-attr]
    path = arc.settings.home / "objects" / key
    path.chmod(0o600)
    path.write_bytes(path.read_bytes()[:-1] + b"X")
    before = sorted(p.name for p in transfer.iterdir())
    with pytest.raises(IntegrityError):
        hand_over(arc, RECORDS, process, transfer)
    assert sorted(p.name for p in transfer.iterdir()) == before  # no package, no temporary file
    (summary,) = status(arc, RECORDS, process)
    assert summary.counts == {"keep": 1}


@pytest.mark.parametrize("stack_env", ["embedded"], indirect=True)
def test_a_crash_between_commit_and_rename_is_finished_by_the_next_run(
    arc: Archive, make_scan: Any, transfer: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored(arc, make_scan, "Antrag")
    close_case(arc, RECORDS, CASE, date(2015, 3, 10))
    from ekakte.retention import disposal

    def crash(_self: Any) -> Path:
        raise KeyboardInterrupt  # the process dies after the commit, before the rename

    monkeypatch.setattr(disposal._Pending, "publish", crash)
    with pytest.raises(KeyboardInterrupt):
        offer(arc, RECORDS, transfer, as_of=DAY)
    monkeypatch.undo()
    (left,) = list(transfer.iterdir())
    assert left.name.startswith(".ekakte-")
    (summary,) = status(arc, RECORDS)
    again = offer(arc, RECORDS, transfer, as_of=DAY)  # offers nothing new, publishes the recorded one
    assert again.process_id is None
    assert [p.name for p in transfer.iterdir()] == [package_name(summary.process_id, "0501")]
    message_of(transfer / package_name(summary.process_id, "0501"), "0501", summary.process_id)

    # The same for a hand-over: the record is handed over once, and its package published by the next run.
    with arc.reading() as session:
        (doc,) = session.scalars(select(DisposalRecord.document_id))
    receive(arc, RECORDS, answer(summary.process_id, "0502", appraisal(doc, "A")), "0502.xml", transfer)
    monkeypatch.setattr(disposal._Pending, "publish", crash)
    with pytest.raises(KeyboardInterrupt):
        hand_over(arc, RECORDS, summary.process_id, transfer)
    monkeypatch.undo()
    with pytest.raises(InvalidInput, match="1 handed over and waiting"):
        hand_over(arc, RECORDS, summary.process_id, transfer)  # nothing twice; the package published
    message_of(transfer / package_name(summary.process_id, "0503"), "0503", summary.process_id)
    assert not [p for p in transfer.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("stack_env", ["embedded"], indirect=True)
def test_the_answer_period_releases_what_the_archive_left_unanswered(
    stack_env: dict[str, str], arc: Archive, make_scan: Any, transfer: Path
) -> None:
    doc = stored(arc, make_scan, "Antrag")
    close_case(arc, RECORDS, CASE, date(2015, 3, 10))
    process = offer(arc, RECORDS, transfer, as_of=DAY).process_id
    with arc.transaction() as session:  # offered half a year and a day ago
        session.execute(update(DisposalRecord).values(offered_on=date(2025, 6, 30)))
    assert sweep(arc, RECORDS, as_of=DAY).deleted == 0  # no period configured: the records wait
    with Archive.open(load_settings({**stack_env, "EKAKTE_ARCHIVE_ANSWER_MONTHS": "6"})) as patient:
        (summary,) = status(patient, RECORDS)
        assert summary.overdue == 1
        report = sweep(patient, RECORDS, as_of=DAY)
        assert report.deleted == 1
        assert disposal_of(patient, doc) == (
            f"no decision of the archive within 6 months of the offer on 2025-06-30, process {process}"
        )


@pytest.mark.parametrize("stack_env", ["embedded"], indirect=True)
def test_holds_block_offers_and_only_records_managers_take_part(
    arc: Archive, make_scan: Any, transfer: Path
) -> None:
    from ekakte.retention.holds import add_hold

    stored(arc, make_scan, "Antrag")
    close_case(arc, RECORDS, CASE, date(2015, 3, 10))
    add_hold(arc, RECORDS, case_number=CASE, reason="SG Köln S 12 AS 345/25")
    assert offer(arc, RECORDS, transfer, as_of=DAY).documents == 0
    for who in (OPERATOR, ADMIN):
        with pytest.raises(NotPermitted):
            offer(arc, who, transfer, as_of=DAY)
        with pytest.raises(NotPermitted):
            status(arc, who)


def test_the_shipped_schemas_are_the_published_ones() -> None:
    """ekakte ships xdomea's XSD files (receive validates against them); they are the shared folder's."""
    shipped = Path(__file__).parents[2] / "ekakte" / "xdomea" / "schemas"
    shared = Path(__file__).parents[3] / "shared" / "xdomea"
    if not shared.is_dir():
        pytest.skip(f"{shared} is not here (the project's shared folder); the shipped copy is used alone")
    for folder in ("3.1.0", "xoev"):
        for path in (shared / folder).glob("*.xsd"):
            assert (shipped / folder / path.name).read_bytes() == path.read_bytes(), path.name


def test_the_real_archive_example_is_read_by_the_0503_reader() -> None:
    """A 0503 written by a state archive's staff (xdomea 3.0.0, in the shared folder) is read by the same
    code the tests use on ekakte's hand-overs."""
    example = (
        Path(__file__).parents[3] / "shared" / "xdomea" / "examples" / "lavnrw_v3.0.0_Aussonderung.0503.xml"
    )
    if not example.is_file():
        pytest.skip(f"{example} is not here")
    records = list(records_of(ElementTree.parse(example).getroot()))
    containers = {r.object_id for r in records if r.kind in ("Akte", "Vorgang")}
    assert containers  # the example hands over a Vorgang
    documents = [r for r in records if r.kind == "Dokument"]
    assert documents and all(r.parent in containers for r in documents)
    assert any(f.name for r in documents for f in r.files)


@pytest.mark.parametrize("stack_env", ["embedded"], indirect=True)
def test_every_step_through_the_api(
    arc: Archive, settings: Any, make_scan: Any, oidc_provider: Any, tmp_path: Path
) -> None:
    from ekakte.service.app import create_app
    from tests.integration.test_service import bearer, service_settings, serving

    add_user(arc, ADMIN, "records", ["records_manager"])
    doc = stored(arc, make_scan, "Antrag")
    close_case(arc, RECORDS, CASE, date(2015, 3, 10))
    app = create_app(settings, service_settings(oidc_provider), archive=arc)
    with serving(app) as url, httpx_client(url) as http:
        records = bearer(oidc_provider, "records")
        offered = http.post("/api/v1/archive/offers", json={"as_of": "2026-01-01"}, headers=records)
        assert offered.status_code == 201, offered.text
        process = offered.json()["process_id"]
        assert (settings.archive_transfer_dir / package_name(process, "0501")).is_file()
        # A day is YYYY-MM-DD only (pydantic alone would take a number as seconds since 1970).
        for bad_day in (0, -1.5e-284, "1.5", "2026-1-1"):
            answered = http.post("/api/v1/archive/offers", json={"as_of": bad_day}, headers=records)
            assert answered.status_code == 422, (bad_day, answered.text)
        plan = http.get(
            "/api/v1/retention/plan", params={"as_of": "-1.4938747620065663e-284"}, headers=records
        )
        assert plan.status_code == 422, plan.text
        nothing = http.post("/api/v1/archive/offers", json={"as_of": "2026-01-01"}, headers=records)
        assert (nothing.status_code, nothing.json()["process_id"]) == (200, None)

        body = answer(process, "0502", appraisal(doc, "A"))
        xml = {**records, "Content-Type": "application/xml"}
        got = http.post("/api/v1/archive/messages", params={"name": "0502.xml"}, content=body, headers=xml)
        assert got.status_code == 200 and got.json()["counts"] == {"keep": 1}, got.text
        again = http.post("/api/v1/archive/messages", content=body, headers=xml)
        assert again.json()["already"] is True
        bad = http.post("/api/v1/archive/messages", content=b"<x>", headers=xml)
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert "not an XML message" in bad.json()["detail"]

        handed = http.post(f"/api/v1/archive/processes/{process}/hand-over", headers=records)
        assert handed.status_code == 201 and handed.json()["documents"] == 1, handed.text
        (status_answer,) = http.get("/api/v1/archive/processes", headers=records).json()["processes"]
        assert status_answer["counts"] == {"handed_over": 1}

        caseworker = bearer(oidc_provider, "caseworker")
        assert http.get("/api/v1/archive/processes", headers=caseworker).status_code == 403
        assert http.post("/api/v1/archive/offers", json={}, headers=caseworker).status_code == 403
        hidden = http.post(f"/api/v1/archive/processes/{process}/hand-over", headers=caseworker)
        unknown = http.post(f"/api/v1/archive/processes/{uuid.uuid4()}/hand-over", headers=records)
        assert hidden.status_code == unknown.status_code == 404


def httpx_client(url: str) -> Any:
    import httpx

    return httpx.Client(base_url=url, timeout=30)


@pytest.mark.parametrize("stack_env", ["embedded"], indirect=True)
def test_the_cli_and_a_folder_of_answers(
    stack_env: dict[str, str],
    arc: Archive,
    make_scan: Any,
    transfer: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from ekakte.errors import ExitCode
    from tests.integration.test_cli import Cli

    add_user(arc, ADMIN, Actor.from_os().name, ["records_manager"])
    doc = stored(arc, make_scan, "Antrag")
    close_case(arc, RECORDS, CASE, date(2015, 3, 10))
    cli = Cli(stack_env, monkeypatch, capsys)
    code, out, err = cli("archive", "offer", "--as-of", "2026-01-01", "-o", str(transfer), "--json")
    assert code == 0, err
    process = json.loads(out)["process_id"]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a-0504.xml").write_bytes(answer(process, "0504"))
    (inbox / "b-broken.xml").write_bytes(b"<x:Aussonderung")
    (inbox / "c-0502.xml").write_bytes(answer(process, "0502", appraisal(doc, "V")))
    secret = tmp_path / "secret.xml"  # a link planted in the inbox is not followed
    secret.write_bytes(answer(process, "0504"))
    (inbox / "d-link.xml").symlink_to(secret)
    # A link planted in the transfer folder under the name of the next receipt is not written through.
    (transfer / package_name(process, "0505")).symlink_to(tmp_path / "elsewhere.zip")
    code, out, err = cli("archive", "receive", "--from", str(inbox), "-o", str(transfer))
    assert code == ExitCode.PARTIAL, err
    assert "b-broken.xml: not an XML message" in err and "d-link.xml: a symbolic link" in err
    assert len(err.strip().splitlines()) == 2
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["a-0504.xml", "c-0502.xml"]
    assert sorted(p.name for p in (inbox / "rejected").iterdir()) == [
        "b-broken.xml", "b-broken.xml.reason", "d-link.xml", "d-link.xml.reason",
    ]  # fmt: skip
    assert not (tmp_path / "elsewhere.zip").exists()
    assert (transfer / (package_name(process, "0505")[: -len(".zip")] + "-2.zip")).is_file()
    code, out, _ = cli("archive", "status", "--process", process)
    assert code == 0 and "1 destroy" in out and "0505 → archive" in out
    (inbox / "done" / "c-0502.xml").replace(tmp_path / "again.xml")
    code, out, _ = cli("archive", "receive", str(tmp_path / "again.xml"), "-o", str(transfer))
    assert code == 0 and "was received before; nothing changed" in out
    code, _, err = cli("archive", "receive", str(tmp_path / "missing.xml"), "-o", str(transfer))
    assert code == ExitCode.INVALID_INPUT and err.count("\n") == 1
    code, _, err = cli("archive", "hand-over", process, "-o", str(transfer))
    assert code == ExitCode.INVALID_INPUT and "nothing to hand over" in err
    code, out, err = cli("retention", "sweep", "--as-of", "2026-01-01")
    assert code == 0 and "1 deleted" in out, err
    code, out, _ = cli("retention", "protocol")
    assert f"released for destruction by the archive (V), process {process}" in out


@pytest.mark.parametrize("stack_env", ["embedded"], indirect=True)
def test_what_the_review_found(
    arc: Archive, make_scan: Any, transfer: Path, tmp_path: Path, stack_env: dict[str, str]
) -> None:
    """A rule reloaded to destroy does not overrule the archive's A; an Akte confirmed in a 0506 counts
    for its handed-over documents only; an encrypted zip is refused; no offer of the future; a second
    hand-over in a process never replaces the first package; a late answer about a deleted record is
    reported; the sweep and the Aussonderung's steps never run at once."""
    from ekakte.errors import Busy
    from ekakte.retention.locks import aussonderung_step

    kept, dropped = stored(arc, make_scan, "Antrag"), stored(arc, make_scan, "Bescheid")
    close_case(arc, RECORDS, CASE, date(2015, 3, 10))
    with pytest.raises(InvalidInput, match="lies in the future"):
        offer(arc, RECORDS, transfer, as_of=date(2099, 1, 1))
    process = offer(arc, RECORDS, transfer, as_of=DAY).process_id
    assert process is not None
    (akte,) = {r.file_id for r in _records(arc)}
    receive(
        arc,
        RECORDS,
        answer(process, "0502", appraisal(akte, "A") + appraisal(dropped, "V")),
        "a.xml",
        transfer,
    )
    first = hand_over(arc, RECORDS, process, transfer)
    assert first.documents == 1

    # The records manager gets an advance release for every type and loads it: the A record stays.
    everything = tmp_path / "destroy-all.toml"
    everything.write_text(RULES.replace('suggest = "keep"', 'disposition = "destroy"\nrelease = "KA 2026/1"'))
    load_rules(arc, RECORDS, everything)
    report = sweep(arc, RECORDS, as_of=DAY)
    assert exists(arc, kept) and not exists(arc, dropped) and report.deleted == 1

    # The archive confirms the Akte (one of whose documents was V, not handed over): taken for the other.
    receive(
        arc, RECORDS, answer(process, "0506", imported(akte, False, error="Formatfehler")), "b.xml", transfer
    )
    assert {r.state for r in _records(arc) if r.document_id == kept} == {"failed"}
    second = hand_over(arc, RECORDS, process, transfer)
    assert second.path.name == package_name(process, "0503")[: -len(".zip")] + "-2.zip"
    assert first.path.is_file()  # not replaced before the archive collected it
    message_of_named(second.path, process)

    encrypted = io.BytesIO()
    with zipfile.ZipFile(encrypted, "w") as z:
        z.writestr("m.xml", answer(process, "0504"))
    data = bytearray(encrypted.getvalue())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # the "encrypted" flag
        at = data.index(signature)
        data[at + offset] |= 1
    with pytest.raises(InvalidInput, match="not a readable zip"):
        receive(arc, RECORDS, bytes(data), "enc.zip", transfer)

    with aussonderung_step(arc), pytest.raises(Busy, match="Aussonderung"):
        sweep(arc, RECORDS, as_of=DAY)
    with Archive.open(load_settings(stack_env)) as other:  # a sweep's locks, as it holds them
        from ekakte.db.dialect import exclusive_job
        from ekakte.retention.locks import SWEEP_LOCK, lock_file, no_aussonderung_step

        with exclusive_job(other.engine, SWEEP_LOCK, lock_file(other, "sweep")) as alone:
            assert alone
            with no_aussonderung_step(other), pytest.raises(Busy, match="sweep is running"):
                offer(arc, RECORDS, transfer, as_of=DAY)


@pytest.mark.parametrize("stack_env", ["embedded"], indirect=True)
def test_a_late_answer_about_a_record_deleted_meanwhile_is_reported(
    stack_env: dict[str, str], arc: Archive, make_scan: Any, transfer: Path
) -> None:
    doc = stored(arc, make_scan, "Antrag")
    close_case(arc, RECORDS, CASE, date(2015, 3, 10))
    process = offer(arc, RECORDS, transfer, as_of=DAY).process_id
    assert process is not None
    with arc.transaction() as session:
        session.execute(update(DisposalRecord).values(offered_on=date(2025, 1, 2)))
    with Archive.open(load_settings({**stack_env, "EKAKTE_ARCHIVE_ANSWER_MONTHS": "6"})) as patient:
        assert sweep(patient, RECORDS, as_of=DAY).deleted == 1
    late = receive(arc, RECORDS, answer(process, "0502", appraisal(doc, "A")), "late.xml", transfer)
    assert late.gone == [doc] and late.changed == 0
    assert "deleted already" in late.summary()


def _records(archive: Archive) -> list[DisposalRecord]:
    with archive.reading() as session:
        return list(session.scalars(select(DisposalRecord)))


def message_of_named(package: Path, process: str) -> None:
    with zipfile.ZipFile(package) as zipped:
        schema().validate(io.BytesIO(zipped.read(message_name(process, "0503"))))
