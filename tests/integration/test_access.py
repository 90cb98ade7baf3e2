"""Access rules and the audit trail, on both stacks: the role matrix, --as, tampering, concurrency."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from ekakte import audit
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import Settings, load_settings
from ekakte.db.models import AuditEntry
from ekakte.documents import case_documents, document_text, export_original, get_document
from ekakte.errors import NotPermitted
from ekakte.ingest import DocumentMeta, import_document
from ekakte.integrity import verify
from ekakte.ocr.worker import retry_failed, run_ocr
from ekakte.principals import add_user, assign_case, disable_user, list_users
from ekakte.retention.protocol import protocol
from ekakte.retention.schedule import close_case
from ekakte.retention.sweep import plan
from ekakte.roles import Role
from ekakte.search import search
from ekakte.trail import audit_entries, verify_audit_trail
from tests.conftest import ADMIN, CASE, OPERATOR, OTHER_CASE, OTHER_TEAM, READER, TEAM

MakeScan = Callable[..., Path]
AUDITOR = Actor("auditor")
CONTENT_ROLES = {"caseworker", "team_lead"}


@pytest.fixture
def docs(archive: Archive, make_scan: MakeScan) -> dict[tuple[bool, bool], uuid.UUID]:
    """(own team?, restricted?) -> document id. OTHER_CASE is moved to the other team."""
    assign_case(archive, ADMIN, OTHER_CASE, OTHER_TEAM)
    add_user(archive, ADMIN, AUDITOR.name, ["auditor"])
    made = {}
    for own, case in ((True, CASE), (False, OTHER_CASE)):
        for restricted, doc_type in ((False, "Antrag"), (True, "Gutachten")):
            scan = make_scan(seed=len(made) + 100)
            meta = DocumentMeta(case, doc_type, date(2026, 1, 1), f"{doc_type} {case}")
            made[(own, restricted)] = import_document(archive, OPERATOR, scan, meta).document_id
    return made


def last_entry(archive: Archive) -> AuditEntry:
    with archive.reading() as session:
        entry = session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    assert entry is not None
    return entry


def expected(role: str, action: str, own: bool, restricted: bool, health: bool) -> bool:
    """The role table of docs/security.md, written out independently of ekakte.access."""
    content = role in CONTENT_ROLES and own and (not restricted or health)
    return {
        "case.show": content or role == "records_manager",
        "doc.show": content or role == "records_manager",
        "doc.get": content,
        "doc.text": content,
        "search": role in CONTENT_ROLES,  # which documents answer: test_search.py
        "ocr.work": role in ("scan_operator", "service"),
        "ocr.retry": role in ("scan_operator", "service"),
        "retention": role == "records_manager",
        "retention.protocol": role in ("records_manager", "auditor"),
        "case.close": role == "records_manager" or (role == "team_lead" and own),
        "import": role == "scan_operator",
        "case.assign": role == "admin" or (role == "team_lead" and own),
        "user.manage": role == "admin",
        "audit.read": role == "auditor",
        "integrity": role in ("admin", "records_manager"),
    }[action]


def attempt(
    archive: Archive, who: Actor, action: str, own: bool, doc_id: uuid.UUID, tmp: Path, scan: MakeScan
) -> bool:
    """Do `action` as `who`; True if it was allowed, False if refused with NotPermitted."""
    case = CASE if own else OTHER_CASE
    calls: dict[str, Callable[[], Any]] = {
        "case.show": lambda: case_documents(archive, who, case),
        "doc.show": lambda: get_document(archive, who, doc_id),
        "doc.get": lambda: export_original(archive, who, doc_id, tmp / f"{uuid.uuid4()}.pdf"),
        "import": lambda: import_document(
            archive, who, scan(seed=int(uuid.uuid4().int % 10**6)), DocumentMeta(case, "Antrag")
        ),
        "case.assign": lambda: assign_case(archive, who, case, TEAM if own else OTHER_TEAM),
        "user.manage": lambda: list_users(archive, who),
        "audit.read": lambda: audit_entries(archive, who, limit=1),
        "integrity": lambda: verify(archive, who, checksums=False),
        "doc.text": lambda: document_text(archive, who, doc_id),
        "search": lambda: search(archive, who, "Muster", case_number=case),
        "ocr.work": lambda: run_ocr(archive, who, document_ids=[]),
        "ocr.retry": lambda: retry_failed(archive, who, doc_id),
        "retention": lambda: list(plan(archive, who)),
        "retention.protocol": lambda: protocol(archive, who),
        "case.close": lambda: close_case(archive, who, case, date(2020, 1, 1)),
    }
    try:
        calls[action]()
    except NotPermitted as exc:
        assert str(exc).startswith("not permitted: ")
        return False
    return True


@pytest.mark.parametrize("role", [str(r) for r in Role])
def test_role_matrix_decides_and_audits_every_access(
    archive: Archive, docs: dict[tuple[bool, bool], uuid.UUID], role: str, tmp_path: Path, make_scan: MakeScan
) -> None:
    mismatches = []
    for health in (False, True):
        who = Actor(f"{role}-{'health' if health else 'plain'}")
        add_user(archive, ADMIN, who.name, [role], [TEAM], health_clearance=health)
        for action in (
            "doc.show",
            "doc.get",
            "case.show",
            "import",
            "user.manage",
            "audit.read",
            "integrity",
            "case.assign",
            "doc.text",
            "search",
            "ocr.work",
            "ocr.retry",
            "retention",
            "retention.protocol",
            "case.close",
        ):
            for own in (True, False):
                for restricted in (False, True):
                    if action not in ("doc.show", "doc.get", "doc.text") and restricted:
                        continue
                    allowed = attempt(archive, who, action, own, docs[(own, restricted)], tmp_path, make_scan)
                    want = expected(role, action, own, restricted, health)
                    entry = last_entry(archive)
                    audited = (entry.actor, entry.action, entry.outcome)
                    want_audit = (who.name, action, "allowed" if want else "denied")
                    if allowed != want or audited != want_audit:
                        mismatches.append(
                            (who.name, action, "own" if own else "other", restricted, allowed, audited)
                        )
    assert mismatches == []


def test_case_listing_leaves_out_restricted_documents_without_clearance(
    archive: Archive, docs: dict[tuple[bool, bool], uuid.UUID]
) -> None:
    plain = Actor("plain-caseworker")
    add_user(archive, ADMIN, plain.name, ["caseworker"], [TEAM])
    seen = case_documents(archive, plain, CASE).as_json()
    assert [d["document_type"] for d in seen["documents"]] == ["Antrag"]
    assert "Gutachten" not in str(seen)
    cleared = case_documents(archive, READER, CASE).documents
    assert sorted(d.document_type for d in cleared) == ["Antrag", "Gutachten"]


def test_another_teams_case_and_a_missing_case_are_refused_alike(
    archive: Archive, docs: dict[tuple[bool, bool], uuid.UUID]
) -> None:
    with pytest.raises(NotPermitted) as other:
        case_documents(archive, READER, OTHER_CASE)
    with pytest.raises(NotPermitted) as missing:
        case_documents(archive, READER, "99999BG9999999")
    assert str(other.value).replace(OTHER_CASE, "X") == str(missing.value).replace("99999BG9999999", "X")


def test_a_service_may_act_for_a_user_and_both_are_recorded(
    archive: Archive, docs: dict[tuple[bool, bool], uuid.UUID]
) -> None:
    add_user(archive, ADMIN, "benefits-app", ["service"])
    view = case_documents(archive, Actor("benefits-app", on_behalf_of=READER.name), CASE)
    assert len(view.documents) == 2
    entry = last_entry(archive)
    assert (entry.actor, entry.on_behalf_of, entry.outcome) == ("benefits-app", READER.name, "allowed")
    with pytest.raises(NotPermitted):  # the service itself has no content role
        case_documents(archive, Actor("benefits-app"), CASE)


def test_only_a_service_may_act_for_someone_else(
    archive: Archive, docs: dict[tuple[bool, bool], uuid.UUID]
) -> None:
    add_user(archive, ADMIN, "mallory", ["caseworker"], [OTHER_TEAM])
    with pytest.raises(NotPermitted):
        case_documents(archive, Actor("mallory", on_behalf_of=READER.name), CASE)
    entry = last_entry(archive)
    assert (entry.actor, entry.on_behalf_of, entry.outcome) == ("mallory", READER.name, "denied")


def test_unknown_and_disabled_users_get_nothing(
    archive: Archive, docs: dict[tuple[bool, bool], uuid.UUID]
) -> None:
    with pytest.raises(NotPermitted):
        case_documents(archive, Actor("nobody"), CASE)
    assert last_entry(archive).reason == "unknown or disabled user"
    disable_user(archive, ADMIN, READER.name)
    with pytest.raises(NotPermitted):
        get_document(archive, READER, docs[(True, False)])
    add_user(archive, ADMIN, "benefits-app", ["service"])
    with pytest.raises(NotPermitted):
        case_documents(archive, Actor("benefits-app", on_behalf_of=READER.name), CASE)


def test_a_refused_import_stores_nothing_and_moves_nothing(
    archive: Archive, make_scan: MakeScan, tmp_path: Path
) -> None:
    from ekakte.hotfolder import import_directory

    box = tmp_path / "box"
    box.mkdir()
    make_scan().rename(box / "a.pdf")
    with pytest.raises(NotPermitted):
        import_directory(archive, READER, box, defaults=DocumentMeta(CASE, "Antrag"), allow_root=True)
    assert [p.name for p in box.iterdir()] == ["a.pdf"]
    assert list(archive.store.list("originals/")) == []


def _execute(settings: Settings, sql: str) -> None:
    engine = create_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(text(sql))
    engine.dispose()


def _tamper(settings: Settings, sql: str) -> None:
    """What an attacker with the database owner's rights does: switch off the append-only triggers first."""
    if settings.database_url.startswith("postgresql"):
        _execute(settings, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    else:
        _execute(settings, "DROP TRIGGER IF EXISTS audit_log_no_update")
        _execute(settings, "DROP TRIGGER IF EXISTS audit_log_no_delete")
    _execute(settings, sql)


@pytest.mark.parametrize("sql", ["UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log"])
def test_the_database_refuses_to_change_or_delete_audit_entries(
    settings: Settings, archive: Archive, sql: str
) -> None:
    from sqlalchemy.exc import DatabaseError

    with pytest.raises(DatabaseError, match="append-only"):
        _execute(settings, sql)


def entry_ids(archive: Archive) -> list[int]:
    with archive.reading() as session:
        return list(session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))


def test_audit_verify_detects_an_edited_entry(settings: Settings, archive: Archive, docs: Any) -> None:
    assert verify_audit_trail(archive, AUDITOR).ok
    third = entry_ids(archive)[2]
    _tamper(settings, f"UPDATE audit_log SET reason = 'nothing to see' WHERE id = {third}")
    report = verify_audit_trail(archive, AUDITOR)
    assert not report.ok and report.bad_entry == third
    assert report.problem == f"entry {third} was changed after it was written"


def test_audit_verify_detects_a_deleted_entry(settings: Settings, archive: Archive, docs: Any) -> None:
    ids = entry_ids(archive)
    _tamper(settings, f"DELETE FROM audit_log WHERE id = {ids[3]}")
    report = verify_audit_trail(archive, AUDITOR)
    assert report.bad_entry == ids[4]
    assert str(report.problem).startswith(f"entry {ids[4]} does not follow entry {ids[2]}")


def test_audit_verify_detects_an_inserted_entry(settings: Settings, archive: Archive, docs: Any) -> None:
    """A forged entry, validly hashed onto the third, in place of the fourth: the fifth no longer follows."""
    ids = entry_ids(archive)
    with archive.reading() as session:
        prev = session.scalar(select(AuditEntry.hash).where(AuditEntry.id == ids[2]))
    assert prev is not None
    _tamper(settings, f"DELETE FROM audit_log WHERE id = {ids[3]}")
    fields = {
        "at": "2026-01-01T00:00:00.000000Z", "actor": "auditor", "on_behalf_of": None, "action": "case.show",
        "outcome": "denied", "case_number": None, "document_id": None, "reason": "forged",
    }  # fmt: skip
    forged = audit.entry_hash(prev, fields)
    with archive.transaction() as session:  # straight into the table, past audit.append
        session.add(
            AuditEntry(
                id=ids[3],
                at=datetime(2026, 1, 1, tzinfo=UTC),
                actor="auditor",
                action="case.show",
                outcome="denied",
                reason="forged",
                prev_hash=prev,
                hash=forged,
            )
        )
    report = verify_audit_trail(archive, AUDITOR)
    assert report.bad_entry == ids[4]
    assert str(report.problem).startswith(f"entry {ids[4]} does not follow entry {ids[3]}")


def test_audit_show_filters_by_case_and_user_and_is_itself_audited(
    archive: Archive, docs: dict[tuple[bool, bool], uuid.UUID]
) -> None:
    case_documents(archive, READER, CASE)
    entries = audit_entries(archive, AUDITOR, case_number=CASE, user=READER.name)
    assert [(e.action, e.outcome) for e in entries] == [("case.show", "allowed")]
    entry = last_entry(archive)
    assert (entry.actor, entry.action) == ("auditor", "audit.read")


def _reader_process(env: dict[str, str], rounds: int) -> None:
    with Archive.open(load_settings(env)) as archive:
        for _ in range(rounds):
            case_documents(archive, READER, CASE)
            with pytest.raises(NotPermitted):
                case_documents(archive, READER, OTHER_CASE)


def test_concurrent_writers_do_not_fork_the_chain(
    stack_env: dict[str, str], archive: Archive, docs: Any
) -> None:
    with archive.reading() as session:
        before = len(list(session.scalars(select(AuditEntry.id))))
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_reader_process, args=(stack_env, 15)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    report = verify_audit_trail(archive, AUDITOR)
    assert report.ok, report.problem
    assert report.entries == before + 4 * 15 * 2 + 1  # + the verify's own audit.read entry
