"""Every use case of ekakte.api, for every role (with and without the health clearance), a disabled and an
unknown user, the caller's own team's case and another's, restricted documents and others: allowed or
refused as docs/security.md says, and exactly one audit entry per call, refusals included, under the
access action the use case declares.

Decisions do not depend on the stack, so this runs on the embedded archive (test_access.py checks a
part of it on both stacks).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from ekakte import api
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import Settings
from ekakte.db.models import AuditEntry, DisposalProcess, DisposalRecord, Document
from ekakte.errors import NotFound, NotPermitted
from ekakte.roles import Role
from tests.conftest import (
    ADMIN,
    CASE,
    OPERATOR,
    OTHER_CASE,
    OTHER_TEAM,
    TEAM,
    TEN_YEARS_RULES,
    make_stack,
    scans,
)
from tests.integration.test_access import CONTENT_ROLES
from tests.integration.test_aussonderung import ARCHIVE_ENV, answer

RECORDS = Actor("matrix-records")
Call = Callable[[], Any]


@pytest.fixture(params=["embedded"])
def stack_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    return {**make_stack(request, tmp_path), **ARCHIVE_ENV, "EKAKTE_MAIL_DOCUMENT_TYPE": "Schriftverkehr"}


def expected(action: str | None, role: str | None, own: bool, restricted: bool, health: bool) -> bool:
    """docs/security.md's role table, written out apart from ekakte.access. `role` None: a disabled
    or unknown user. `action` None: setting up, open to whoever holds the database's credentials."""
    if action is None:
        return True
    if role is None:
        return False
    content = role in CONTENT_ROLES and own and (not restricted or health)
    return {
        "import": role == "scan_operator",
        "case.show": content or role == "records_manager",
        "doc.show": content or role == "records_manager",
        "doc.get": content,
        "doc.text": content,
        "search": role in CONTENT_ROLES,
        "ocr.work": role in ("scan_operator", "service"),
        "ocr.retry": role in ("scan_operator", "service"),
        "user.manage": role == "admin",
        "case.assign": role == "admin" or (role == "team_lead" and own),
        "case.close": role == "records_manager" or (role == "team_lead" and own),
        "retention": role == "records_manager",
        "retention.protocol": role in ("records_manager", "auditor"),
        "integrity": role in ("admin", "records_manager"),
        "audit.read": role == "auditor",
        "audit.anchor": role in ("auditor", "admin"),
        "type.list": role in ("admin", "records_manager", "auditor"),
        "type.policy": role == "admin",
        "archive": role == "records_manager",
        "archive.hand_over": role == "records_manager",
        "postkorb": role == "triage",
        "postkorb.returns": role in ("scan_operator", "triage"),
        "scan.protocol": role in ("scan_operator", "triage", "records_manager", "auditor"),
        "scan.check": role in ("scan_operator", "triage"),
        "inbox": role in CONTENT_ROLES,
    }[action]


class World:
    """The archive the matrix runs in: a case of the callers' team and one of another team, each with an
    ordinary and a restricted document; what a call needs is made before it (as an admin or records
    manager), so that only the call itself is counted."""

    def __init__(
        self, archive: Archive, settings: Settings, tmp: Path, make_scan: Callable[..., Path]
    ) -> None:
        self.archive, self.settings, self.tmp, self.make_scan = archive, settings, tmp, make_scan
        self.serial = itertools.count(1000)
        self.rules = tmp / "rules.toml"
        self.rules.write_text(TEN_YEARS_RULES)
        api.assign_case(archive, ADMIN, OTHER_CASE, OTHER_TEAM)
        api.add_user(archive, ADMIN, RECORDS.name, ["records_manager"])
        api.load_rules(archive, RECORDS, self.rules)
        self.docs = {
            (own, restricted): self.stored(
                CASE if own else OTHER_CASE, "Gutachten" if restricted else "Antrag"
            )
            for own in (True, False)
            for restricted in (False, True)
        }

    def n(self) -> int:
        return next(self.serial)

    def scan(self) -> Path:
        return self.make_scan(seed=self.n())

    def stored(self, case: str, doc_type: str = "Antrag") -> uuid.UUID:
        meta = api.DocumentMeta(case, doc_type, date(2014, 5, 1))
        return api.import_document(self.archive, OPERATOR, self.scan(), meta).document_id

    def user(self, roles: list[str]) -> str:
        name = f"target-{self.n()}"
        api.add_user(self.archive, ADMIN, name, roles)
        return name

    def process(self) -> str:
        """An archive process with one due record the archive keeps (A), ready to be handed over."""
        process_id = str(uuid.uuid4())
        doc = self.stored(CASE)
        now = datetime.now(UTC)
        with self.archive.transaction() as session:
            session.execute(update(Document).where(Document.id == doc).values(due_on=date(2020, 12, 31)))
            session.add(
                DisposalProcess(
                    id=process_id, as_of=now.date(), offered_at=now, offered_by=RECORDS.name,
                    recipient="Kreisarchiv", records=1,
                )
            )  # fmt: skip
            session.flush()
            session.add(
                DisposalRecord(
                    document_id=doc, process_id=process_id, file_id=uuid.uuid4(), state="keep",
                    offered_on=now.date(),
                )
            )  # fmt: skip
        return process_id

    def stack(self, case: str) -> Path:
        """A stack of one cover sheet for `case` and one letter (each call a new letter)."""
        n = self.n()
        path = self.tmp / f"stack-{n}.pdf"
        pages = [
            scans.sheet_page(case, "Antrag", dpi=100, seed=n),
            scans.scan_page([f"Brief {n}"], dpi=100, seed=n),
        ]
        scans.write_scan_pdf(path, pages, dpi=100)
        return path

    def waiting(self) -> uuid.UUID:
        """A document waiting in the Postkorb: a stack's pages that no cover sheet names a case for."""
        n = self.n()
        path = self.tmp / f"no-cover-{n}.pdf"
        scans.write_scan_pdf(path, [scans.scan_page([f"Brief {n}"], dpi=100, seed=n)], dpi=100)
        return api.import_stack(self.archive, OPERATOR, path).documents[0].document_id

    def returned(self) -> uuid.UUID:
        """A document the triage role sent back to the station."""
        triage = Actor("matrix-triage")
        if triage.name not in {u.name for u in api.list_users(self.archive, ADMIN)}:
            api.add_user(self.archive, ADMIN, triage.name, ["triage"])
        return api.return_to_station(self.archive, triage, self.waiting(), "not ours").document_id

    def batch(self) -> uuid.UUID:
        """A finished batch of one scan, imported by OPERATOR (any other scan operator may check it)."""

        return api.import_files(
            self.archive, OPERATOR, [self.scan()], api.DocumentMeta(CASE, "Antrag")
        ).batch_id

    def inbox(self) -> Path:
        box = self.tmp / f"inbox-{self.n()}"
        box.mkdir()
        self.scan().rename(box / "scan.pdf")
        return box

    def calls(self, who: Actor, own: bool, doc: uuid.UUID) -> dict[str, Callable[[], Call]]:
        """For each use case: prepare what it needs, and return the call to count."""
        a, case, team = self.archive, CASE if own else OTHER_CASE, TEAM if own else OTHER_TEAM
        meta = api.DocumentMeta(case, "Antrag")

        def hold() -> int:
            return int(api.add_hold(a, RECORDS, case_number=case, reason="Az. 1").id)

        return {
            "import_document": lambda: given(
                self.scan(), lambda scan: api.import_document(a, who, scan, meta)
            ),
            "import_files": lambda: given(self.scan(), lambda scan: api.import_files(a, who, [scan], meta)),
            "import_directory": lambda: given(
                self.inbox(), lambda box: api.import_directory(a, who, box, defaults=meta, allow_root=True)
            ),
            "import_stack": lambda: given(self.stack(case), lambda path: api.import_stack(a, who, path)),
            "import_stacks": lambda: given(self.stack(case), lambda path: api.import_stacks(a, who, [path])),
            "postkorb": lambda: lambda: api.postkorb(a, who),
            "team_inbox": lambda: lambda: api.team_inbox(a, who),
            "assign_from_postkorb": lambda: given(
                self.waiting(), lambda doc: api.assign_from_postkorb(a, who, doc, case, "Antrag")
            ),
            "sort_postkorb_document": lambda: given(
                self.waiting(), lambda doc: api.sort_postkorb_document(a, who, doc)
            ),
            "return_to_station": lambda: given(
                self.waiting(), lambda doc: api.return_to_station(a, who, doc, "not ours")
            ),
            "returned_documents": lambda: lambda: api.returned_documents(a, who),
            "take_back": lambda: given(self.returned(), lambda doc: api.take_back(a, who, doc)),
            "scan_protocol": lambda: given(self.batch(), lambda batch: api.scan_protocol(a, who, batch)),
            "transfer_note": lambda: lambda: api.transfer_note(a, who, doc),
            "check_sample": lambda: given(self.batch(), lambda batch: api.check_sample(a, who, batch)),
            "start_check": lambda: given(self.batch(), lambda batch: api.start_check(a, who, batch)),
            "close_stopped_batch": lambda: given(
                self.batch(), lambda batch: api.close_stopped_batch(a, who, batch)
            ),
            "check_batch": lambda: given(
                self.batch(), lambda batch: api.check_batch(a, who, batch, passed=True)
            ),
            "paper_status": lambda: lambda: api.paper_status(a, who),
            "case_documents": lambda: lambda: api.case_documents(a, who, case),
            "get_document": lambda: lambda: api.get_document(a, who, doc),
            "document_pages": lambda: lambda: api.document_pages(a, who, doc),
            "document_text": lambda: lambda: api.document_text(a, who, doc),
            "export_original": lambda: (
                lambda: api.export_original(a, who, doc, self.tmp / f"{uuid.uuid4()}.pdf")
            ),
            "open_original": lambda: lambda: b"".join(api.open_original(a, who, doc)),
            "export_searchable": lambda: (
                lambda: without_rendition(
                    lambda: api.export_searchable(a, who, doc, self.tmp / f"{uuid.uuid4()}.pdf")
                )
            ),
            "open_searchable": lambda: (
                lambda: without_rendition(lambda: b"".join(api.open_searchable(a, who, doc)))
            ),
            "render_page": lambda: lambda: api.render_page(a, who, doc, 1, 100),
            "export_page": lambda: (
                lambda: api.export_page(a, who, doc, 1, 100, self.tmp / f"{uuid.uuid4()}.png")
            ),
            "search": lambda: lambda: api.search(a, who, "Muster", case_number=case),
            "run_ocr": lambda: lambda: api.run_ocr(a, who, document_ids=[]),
            "retry_failed": lambda: lambda: api.retry_failed(a, who, doc),
            "add_team": lambda: given(f"team-{self.n()}", lambda name: api.add_team(a, who, name)),
            "list_teams": lambda: lambda: api.list_teams(a, who),
            "add_user": lambda: given(
                f"new-{self.n()}", lambda name: api.add_user(a, who, name, ["auditor"])
            ),
            "grant": lambda: given(
                self.user(["auditor"]), lambda name: api.grant(a, who, name, ["caseworker"])
            ),
            "revoke": lambda: given(
                self.user(["auditor", "caseworker"]), lambda name: api.revoke(a, who, name, ["caseworker"])
            ),
            "disable_user": lambda: given(
                self.user(["auditor"]), lambda name: api.disable_user(a, who, name)
            ),
            "list_users": lambda: lambda: api.list_users(a, who),
            "set_password": lambda: given(
                self.user(["caseworker"]), lambda name: api.set_password(a, who, name, "lang genug, geheim")
            ),
            "assign_case": lambda: lambda: api.assign_case(a, who, case, team),
            "close_case": lambda: lambda: api.close_case(a, who, case, date(2020, 1, 1)),
            "reopen_case": lambda: lambda: api.reopen_case(a, who, case),
            "load_rules": lambda: lambda: api.load_rules(a, who, self.rules),
            "show_rules": lambda: lambda: api.show_rules(a, who),
            "plan": lambda: lambda: list(api.plan(a, who)),
            "sweep": lambda: lambda: api.sweep(a, who, dry_run=True),
            "protocol": lambda: lambda: api.protocol(a, who),
            "add_hold": lambda: (
                lambda: api.add_hold(a, who, case_number=case, reason="SG Köln S 12 AS 345/25")
            ),
            "release_hold": lambda: given(hold(), lambda held: api.release_hold(a, who, held)),
            "list_holds": lambda: lambda: api.list_holds(a, who),
            "offer_to_archive": lambda: lambda: api.offer_to_archive(a, who, self.tmp),
            "receive_from_archive": lambda: given(
                self.process(),
                lambda pid: api.receive_from_archive(a, who, answer(pid, "0504"), "r.xml", self.tmp),
            ),
            "hand_over_to_archive": lambda: given(
                self.process(), lambda pid: api.hand_over_to_archive(a, who, pid, self.tmp)
            ),
            "archive_status": lambda: lambda: api.archive_status(a, who),
            "verify": lambda: lambda: api.verify(a, who, checksums=False),
            "gc": lambda: lambda: api.gc(a, who),
            "audit_entries": lambda: lambda: api.audit_entries(a, who, limit=1),
            "verify_audit_trail": lambda: lambda: api.verify_audit_trail(a, who),
            "anchor_audit_trail": lambda: lambda: api.anchor_audit_trail(a, who),
            "list_types": lambda: lambda: api.list_types(a, who),
            "restrict_type": lambda: lambda: api.restrict_type(a, who, "Mietvertrag"),
            "unrestrict_type": lambda: lambda: api.unrestrict_type(a, who, "Mietvertrag"),
            "initialize": lambda: lambda: api.initialize(self.settings, who),
            "upgrade_database": lambda: lambda: api.upgrade_database(self.settings, who),
        }


def given(value: Any, call: Callable[[Any], Any]) -> Call:
    """The call, with what was made for it before (made when the call's row is asked for)."""
    return lambda: call(value)


# Set-up use cases record themselves under their own names; two record nothing, and say why.
SETUP_ENTRIES = {"initialize": "archive.init", "upgrade_database": "db.upgrade"}
NOT_AUDITED = {
    "database_status": "reads the schema's revision before there may be an archive to record in",
    "grant_database_role": "PostgreSQL's roles (test_audit_integrity.py: audited as db.grant there)",
    # Signing in is decided by a password or the identity provider, not by a role: test_sign_in.py.
    "sign_in_with_password": "audited as auth.sign-in (test_sign_in.py)",
    "sign_in_with_provider": "audited as auth.sign-in (test_sign_in.py)",
    "begin_provider_sign_in": "a sign-in under way; its end is audited (test_sign_in.py)",
    "finish_provider_sign_in": "a sign-in under way; its end is audited (test_sign_in.py)",
    "session_of": "which session a cookie is; every request it makes is audited by its use case",
    "remember_search": "the session's own last search words (the search itself is audited)",
    "sign_out": "audited as auth.sign-out (test_sign_in.py)",
}
# Use cases decided per case (the caller's own team's, or another's) or per document (also restricted).
BY_CASE = {"case_documents", "search", "assign_case", "close_case", "reopen_case"}
BY_DOCUMENT = {
    "get_document",
    "document_pages",
    "document_text",
    "export_original",
    "open_original",
    "export_searchable",
    "open_searchable",
    "render_page",
    "export_page",
    "transfer_note",
}


def without_rendition(call: Callable[[], object]) -> object:
    """A call for a document's searchable PDF: the matrix's documents are not read by OCR, so an allowed
    caller is told there is none (after the decision, which is what the matrix counts)."""
    try:
        return call()
    except NotFound as exc:
        if exc.code != "no-rendition":
            raise
        return None


def principals(archive: Archive) -> Iterator[tuple[Actor, str | None, bool]]:
    """(caller, role or None, health clearance) for every role, and a disabled and an unknown user."""
    for role, health in itertools.product([str(r) for r in Role], (False, True)):
        who = Actor(f"{role}-{'health' if health else 'plain'}")
        api.add_user(archive, ADMIN, who.name, [role], [TEAM], health_clearance=health)
        yield who, role, health
    disabled = Actor("disabled-caseworker")
    api.add_user(archive, ADMIN, disabled.name, ["caseworker"], [TEAM], health_clearance=True)
    api.disable_user(archive, ADMIN, disabled.name)
    yield disabled, None, True
    yield Actor("nobody-at-all"), None, True


def entries(archive: Archive) -> int:
    with archive.reading() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def last_entry(archive: Archive) -> AuditEntry:
    with archive.reading() as session:
        entry = session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    assert entry is not None
    return entry


def test_every_use_case_has_a_row_in_the_matrix(
    archive: Archive, settings: Settings, tmp_path: Path, make_scan: Any
) -> None:
    world = World(archive, settings, tmp_path, make_scan)
    listed = {u.name for u in api.USE_CASES}
    assert set(world.calls(ADMIN, True, world.docs[(True, False)])) | set(NOT_AUDITED) == listed
    assert all(name in api.__all__ for name in listed)


def test_every_use_case_decides_as_the_role_table_says_and_leaves_one_entry(
    archive: Archive, settings: Settings, tmp_path: Path, make_scan: Any
) -> None:
    world = World(archive, settings, tmp_path, make_scan)
    wrong = []
    callers = list(principals(archive))
    made = 0
    for who, role, health in callers:
        for use_case in api.USE_CASES:
            if use_case.name in NOT_AUDITED:
                continue
            action = str(use_case.action) if use_case.action is not None else None
            scopes = [(True, False)]
            if use_case.name in BY_CASE:
                scopes = [(True, False), (False, False)]
            if use_case.name in BY_DOCUMENT:
                scopes = list(itertools.product((True, False), (False, True)))
            for own, restricted in scopes:
                call = world.calls(who, own, world.docs[(own, restricted)])[use_case.name]()
                before = entries(archive)
                made += 1
                try:
                    call()
                    allowed = True
                except NotPermitted as exc:
                    assert str(exc).startswith("not permitted: ")
                    allowed = False
                want = expected(action, role, own, restricted, health)
                entry = last_entry(archive)
                got = (allowed, entries(archive) - before, entry.actor, entry.action, entry.outcome)
                want_entry = SETUP_ENTRIES.get(use_case.name, action)
                should = (want, 1, who.name, want_entry, "allowed" if want else "denied")
                if got != should:
                    wrong.append((use_case.name, who.name, own, restricted, got, should))
    assert wrong == []
    per_caller = sum(4 if u.name in BY_DOCUMENT else 2 if u.name in BY_CASE else 1 for u in api.USE_CASES)
    roles = len(list(Role))
    assert (len(callers), made) == (2 * roles + 2, (2 * roles + 2) * (per_caller - len(NOT_AUDITED)))
