"""The audit trail holds against whoever has database access: no TRUNCATE, a role that can only append,
anchors outside the database, and search input that cannot lose its own entry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from ekakte import anchors, audit
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import Settings
from ekakte.db.models import AuditEntry
from ekakte.principals import add_user
from ekakte.trail import verify_audit_trail
from tests.conftest import ADMIN

MakeScan = Callable[..., Path]
AUDITOR = Actor("auditor")


def _execute(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _entries(archive: Archive) -> int:
    with archive.reading() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


@pytest.fixture
def auditor(archive: Archive) -> Actor:
    add_user(archive, ADMIN, AUDITOR.name, ["auditor"])
    return AUDITOR


def test_the_database_refuses_to_empty_the_audit_trail(settings: Settings, archive: Archive) -> None:
    """TRUNCATE on PostgreSQL (it fires no row triggers); SQLite's DELETE without WHERE, its truncate."""
    from sqlalchemy.exc import DatabaseError

    before = _entries(archive)
    assert before > 0
    empty = (
        "TRUNCATE audit_log" if settings.database_url.startswith("postgresql") else "DELETE FROM audit_log"
    )
    with pytest.raises(DatabaseError, match="append-only"):
        _execute(settings.database_url, empty)
    assert _entries(archive) == before


def _last(archive: Archive) -> AuditEntry:
    with archive.reading() as session:
        entry = session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    assert entry is not None
    return entry


# A byte of a command line that is not UTF-8 reaches Python as a lone surrogate (0xFF: U+DCFF).
UNSENDABLE = [
    ("Miete\udcff", "bytes that are not UTF-8", "Miete\\xff"),
    ("\udcff", "bytes that are not UTF-8", "\\xff"),
    ("Miete\x00Konto", "a NUL character", "Miete\\x00Konto"),
]


@pytest.mark.parametrize(("query", "what", "escaped"), UNSENDABLE)
def test_a_query_no_database_can_be_sent_is_refused_and_the_refusal_audited(
    archive: Archive, auditor: Actor, query: str, what: str, escaped: str
) -> None:
    from ekakte.errors import InvalidInput
    from ekakte.search import search
    from tests.conftest import CASE, READER

    before = _entries(archive)
    with pytest.raises(InvalidInput) as refused:
        search(archive, READER, query, case_number=CASE)
    assert str(refused.value) == f"the search query contains {what}: {escaped}"
    entry = _last(archive)
    assert (entry.actor, entry.action, entry.outcome, entry.case_number) == (
        READER.name,
        "search",
        "denied",
        CASE,
    )
    assert entry.reason == f"search '{escaped}': the search query contains {what}"
    assert _entries(archive) == before + 1
    report = verify_audit_trail(archive, auditor)
    assert report.ok, report.problem


def test_the_cli_refuses_unsendable_query_text_with_exit_3(
    stack_env: dict[str, str], archive: Archive, auditor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0xFF through a real process (argv holds the byte; Python hands it to click as U+DCFF); NUL, which
    no argv can hold, through the CLI's entry point in this process, as an HTTP layer would pass it."""
    from ekakte.cli import main
    from ekakte.errors import ExitCode
    from tests.conftest import TEAM, ekakte_process

    me = Actor.from_os().name
    add_user(archive, ADMIN, me, ["caseworker"], [TEAM])
    proc = ekakte_process(stack_env, "search", b"Miete\xff".decode("utf-8", "surrogateescape"))
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, out) == (ExitCode.INVALID_INPUT, ""), err
    assert err == "ekakte: the search query contains bytes that are not UTF-8: Miete\\xff\n"
    entry = _last(archive)
    assert (entry.actor, entry.action, entry.outcome) == (me, "search", "denied")
    assert entry.reason == "search 'Miete\\xff': the search query contains bytes that are not UTF-8"

    for key, value in stack_env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as exited:
        main(["search", "Miete\x00"])
    assert exited.value.code == ExitCode.INVALID_INPUT
    entry = _last(archive)
    assert (entry.actor, entry.action, entry.outcome) == (me, "search", "denied")
    assert entry.reason == "search 'Miete\\x00': the search query contains a NUL character"
    assert verify_audit_trail(archive, auditor).ok


def test_a_search_that_fails_in_the_database_keeps_its_audit_entry(
    settings: Settings, archive: Archive, auditor: Actor, make_scan: MakeScan
) -> None:
    """The index the search reads is gone (whatever the cause): the search fails, its entry stays."""
    from datetime import date

    from sqlalchemy import update
    from sqlalchemy.exc import DBAPIError

    from ekakte.db.models import OcrState, Page
    from ekakte.errors import DatabaseError
    from ekakte.ingest import DocumentMeta, import_document
    from ekakte.search import search
    from tests.conftest import CASE, OPERATOR, READER

    meta = DocumentMeta(CASE, "Mietvertrag", date(2026, 1, 2))
    doc = import_document(archive, OPERATOR, make_scan(seed=7), meta).document_id
    with archive.transaction() as session:
        session.execute(
            update(Page).where(Page.document_id == doc).values(text="Mietvertrag", ocr_state=OcrState.DONE)
        )
    assert search(archive, READER, "Mietvertrag").hits
    # The PostgreSQL database is the run's, shared by the tests that follow: put the column back.
    gone, back = (
        ("ALTER TABLE pages RENAME COLUMN tsv TO tsv_gone", "ALTER TABLE pages RENAME COLUMN tsv_gone TO tsv")
        if settings.database_url.startswith("postgresql")
        else (
            "ALTER TABLE pages_fts RENAME TO pages_fts_gone",
            "ALTER TABLE pages_fts_gone RENAME TO pages_fts",
        )
    )
    _execute(settings.database_url, gone)
    before = _entries(archive)
    try:
        with pytest.raises((DatabaseError, DBAPIError)):  # the driver's own error: it is not an outage
            search(archive, READER, "Mietvertrag")
    finally:
        _execute(settings.database_url, back)
    assert _entries(archive) == before + 1
    entry = _last(archive)
    assert (entry.actor, entry.action, entry.outcome) == (READER.name, "search", "allowed")
    assert verify_audit_trail(archive, auditor).ok


def _as_database_owner(settings: Settings, *statements: str) -> None:
    """What whoever holds the database's superuser or owner rights can do: write past the triggers."""
    if settings.database_url.startswith("postgresql"):
        _execute(settings.database_url, "SET LOCAL session_replication_role = replica", *statements)
    else:
        _execute(
            settings.database_url,
            "DROP TRIGGER IF EXISTS audit_log_no_update",
            "DROP TRIGGER IF EXISTS audit_log_no_delete",
            *statements,
        )


def _rechain(settings: Settings, archive: Archive, changed_id: int) -> None:
    """Edit one entry and recompute every hash from there on: the chain alone verifies again."""
    with archive.reading() as session:
        rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    statements = []
    prev = audit.GENESIS
    for row in rows:
        if row.id == changed_id:
            row.reason = "nothing to see here"
        digest = audit.entry_hash(prev, audit._fields(row))
        if digest != row.hash or row.id == changed_id:
            statements.append(
                f"UPDATE audit_log SET reason = '{row.reason}', prev_hash = '{prev}', hash = '{digest}'"
                f" WHERE id = {row.id}"
            )
        prev = digest
    _as_database_owner(settings, *statements)


def test_audit_verify_finds_entries_cut_off_the_end_after_an_anchor(
    stack_env: dict[str, str], settings: Settings, archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the CLI, as the nightly job runs it: `audit anchor`, the cut, `audit verify` exits 10."""
    from ekakte.cli import main
    from ekakte.errors import ExitCode

    add_user(archive, ADMIN, Actor.from_os().name, ["auditor"])
    for key, value in stack_env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as exited:
        main(["audit", "anchor"])
    assert exited.value.code == ExitCode.OK
    anchored = anchors.read_anchors(archive)[-1]
    with archive.reading() as session:
        ids = list(session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))
    keep = anchored.entries - 3
    _as_database_owner(settings, f"DELETE FROM audit_log WHERE id > {ids[keep - 1]}")
    assert audit.verify_chain(archive.reading).ok  # what is left is a valid beginning of the chain

    with pytest.raises(SystemExit) as exited:
        main(["audit", "verify"])
    assert exited.value.code == ExitCode.INTEGRITY
    report = verify_audit_trail(archive, Actor.from_os())
    assert report.problem == (
        f"entries were cut off the end: the anchor of {anchored.when} saw {anchored.entries} entries,"
        f" the trail has {keep + 2}"  # with the two verifications' own entries
    )


def test_audit_verify_finds_a_rechained_trail_after_an_anchor(
    settings: Settings, archive: Archive, auditor: Actor
) -> None:
    from ekakte.trail import anchor_audit_trail

    anchored = anchor_audit_trail(archive, auditor).anchor
    with archive.reading() as session:
        ids = list(session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))
    _rechain(settings, archive, ids[2])
    assert audit.verify_chain(archive.reading).ok  # the chain alone finds nothing wrong
    report = verify_audit_trail(archive, auditor)
    assert not report.ok and report.bad_entry == ids[anchored.entries - 1]
    assert str(report.problem).startswith(
        f"the trail was re-chained: the anchor of {anchored.when} saw {anchored.entries} entries ending in"
        f" {anchored.head[:16]}…, but entry number {anchored.entries} of the trail"
        f" (id {ids[anchored.entries - 1]})"
    )


def test_audit_anchor_refuses_to_anchor_a_broken_trail(
    settings: Settings, archive: Archive, auditor: Actor
) -> None:
    from ekakte.errors import IntegrityError
    from ekakte.trail import anchor_audit_trail

    with archive.reading() as session:
        second = session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).all()[1]
    _as_database_owner(settings, f"UPDATE audit_log SET reason = 'x' WHERE id = {second}")
    with pytest.raises(IntegrityError, match=f"not anchored: entry {second} was changed"):
        anchor_audit_trail(archive, auditor)
    assert anchors.read_anchors(archive) == []


def test_auditors_and_admins_anchor_and_others_are_refused_and_audited(
    archive: Archive, auditor: Actor
) -> None:
    from ekakte.errors import NotPermitted
    from ekakte.trail import anchor_audit_trail
    from tests.conftest import READER

    with pytest.raises(NotPermitted):
        anchor_audit_trail(archive, READER)
    entry = _last(archive)
    assert (entry.actor, entry.action, entry.outcome) == (READER.name, "audit.anchor", "denied")
    for who in (auditor, ADMIN):
        written = anchor_audit_trail(archive, who).anchor
        # The anchor covers the entry of its own writing.
        assert (written.entries, written.head, written.head_id) == (
            _entries(archive),
            _last(archive).hash,
            _last(archive).id,
        )
        assert (_last(archive).actor, _last(archive).action) == (who.name, "audit.anchor")
    assert len(anchors.read_anchors(archive)) == 2


def test_the_embedded_archive_appends_its_anchors_to_a_private_file(tmp_path: Path) -> None:
    import json
    import stat

    from ekakte.config import load_settings
    from ekakte.setup import initialize
    from ekakte.trail import anchor_audit_trail
    from tests.conftest import embedded_env, organise

    env = embedded_env(tmp_path / "home")
    initialize(load_settings(env))
    organise(load_settings(env))
    with Archive.open(load_settings(env)) as archive:
        add_user(archive, ADMIN, AUDITOR.name, ["auditor"])
        first = anchor_audit_trail(archive, AUDITOR)
        second = anchor_audit_trail(archive, AUDITOR)
    path = tmp_path / "home" / "audit-anchors.log"
    assert first.where == second.where == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [first.anchor.as_json(), second.anchor.as_json()]
    assert second.anchor.entries == first.anchor.entries + 1


@pytest.mark.server
def test_anchors_in_a_bucket_with_object_lock_are_retained(pg_url: str, s3: object, tmp_path: Path) -> None:

    from ekakte.anchors import ANCHOR_PREFIX, read_anchors
    from ekakte.config import load_settings
    from ekakte.trail import anchor_audit_trail
    from tests.conftest import fresh_server_env

    env = fresh_server_env(tmp_path / "home", pg_url, s3, bucket="anchor", EKAKTE_S3_OBJECT_LOCK="true")  # type: ignore[arg-type]
    with Archive.open(load_settings(env)) as archive:
        add_user(archive, ADMIN, AUDITOR.name, ["auditor"])
        done = anchor_audit_trail(archive, AUDITOR)
        keys = [o.key for o in archive.store.list(ANCHOR_PREFIX)]
        assert len(keys) == 1 and done.where.endswith(keys[0])
        assert archive.store.delete_many(keys)  # refused: not even the bucket's keys delete it
        assert read_anchors(archive) == [done.anchor]
        assert not (tmp_path / "home" / "audit-anchors.log").exists()


@pytest.mark.server
def test_the_archive_runs_under_a_role_that_may_only_append_to_the_audit_trail(
    s3: object, tmp_path: Path, make_scan: MakeScan, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migrations as the owner, `ekakte db grant` as the owner, then the whole day's work as a role that
    owns nothing; that role cannot change, delete or empty the trail, nor switch its triggers off."""
    import uuid
    from datetime import date

    from sqlalchemy import update
    from sqlalchemy.exc import ProgrammingError

    from ekakte.cli import main
    from ekakte.config import load_settings
    from ekakte.db.models import OcrState, Page
    from ekakte.documents import case_documents
    from ekakte.errors import ExitCode
    from ekakte.ingest import DocumentMeta, import_document
    from ekakte.retention.schedule import close_case, load_rules
    from ekakte.retention.sweep import sweep
    from ekakte.search import search
    from ekakte.setup import initialize, upgrade_database
    from ekakte.trail import anchor_audit_trail
    from tests.conftest import CASE, OPERATOR, READER, TEN_YEARS_RULES, organise, server_env
    from tests.services import postgres_owner_and_app

    records = Actor("records-manager")
    with postgres_owner_and_app() as roles:
        owner_env = server_env(tmp_path / "home", roles.owner_url, s3, f"roles-{uuid.uuid4().hex[:12]}")  # type: ignore[arg-type]
        app_env = {**owner_env, "EKAKTE_DATABASE_URL": roles.app_url}
        upgrade_database(load_settings(owner_env))
        for key, value in owner_env.items():
            monkeypatch.setenv(key, value)
        with pytest.raises(SystemExit) as exited:
            main(["db", "grant", roles.owner])
        assert exited.value.code == ExitCode.INVALID_INPUT  # the owner itself is refused
        with pytest.raises(SystemExit) as exited:
            main(["db", "grant", roles.app])
        assert exited.value.code == ExitCode.OK

        initialize(load_settings(app_env))  # what of init applies once the schema is there
        organise(load_settings(app_env))  # the first admin (init's bootstrap), teams, users
        with Archive.open(load_settings(app_env)) as archive:
            add_user(archive, ADMIN, AUDITOR.name, ["auditor"])
            add_user(archive, ADMIN, records.name, ["records_manager"])
            meta = DocumentMeta(CASE, "Antrag", date(2014, 5, 1))
            doc = import_document(archive, OPERATOR, make_scan(seed=3), meta).document_id
            with archive.transaction() as session:  # as the OCR worker records it
                session.execute(
                    update(Page)
                    .where(Page.document_id == doc)
                    .values(text="Zauberwort", ocr_state=OcrState.DONE)
                )
            assert [d.id for d in case_documents(archive, READER, CASE).documents] == [doc]
            assert [h.document_id for h in search(archive, READER, "Zauberwort").hits] == [doc]
            rules = tmp_path / "rules.toml"
            rules.write_text(TEN_YEARS_RULES)
            load_rules(archive, records, rules)
            close_case(archive, records, CASE, date(2010, 3, 1))
            assert sweep(archive, records).deleted == 1
            anchor_audit_trail(archive, AUDITOR)
            report = verify_audit_trail(archive, AUDITOR)
            assert report.ok and report.anchor is not None, report.problem

        for statement in (
            "UPDATE audit_log SET reason = 'x'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
            "DROP TRIGGER audit_log_no_truncate ON audit_log",
            "SET session_replication_role = replica",
        ):
            with pytest.raises(ProgrammingError, match=r"permission denied|must be owner"):
                _execute(roles.app_url, statement)
        engine = create_engine(roles.app_url)
        with engine.connect() as conn:
            owned = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid)"
                    " + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)"
                    " + (SELECT count(*) FROM pg_type WHERE typowner = r.oid)"
                    " + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid)"
                    " FROM pg_roles r WHERE rolname = current_user"
                )
            ).scalar_one()
        engine.dispose()
        assert owned == 0


# A request of the benefits software, as a future HTTP service makes its Actor.
FROM_THE_API = Actor("caseworker", channel="api", client_address="10.20.30.40", request_id="req-7f3a")
READER_BY_CLI = Actor("caseworker")


@pytest.mark.parametrize(
    "change",
    [
        "channel = 'web'",
        "client_address = '10.20.30.41'",
        "request_id = 'req-7f3b'",
        "client_address = NULL",
        # All three gone: the entry made to look like one written before migration 0013.
        "channel = NULL, client_address = NULL, request_id = NULL",
    ],
)
def test_audit_verify_finds_a_changed_channel_client_address_or_request_id(
    stack_env: dict[str, str],
    settings: Settings,
    archive: Archive,
    auditor: Actor,
    change: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ekakte.cli import main
    from ekakte.documents import case_documents
    from ekakte.errors import ExitCode
    from tests.conftest import CASE

    case_documents(archive, FROM_THE_API, CASE)
    entry = _last(archive)
    assert (entry.channel, entry.client_address, entry.request_id) == ("api", "10.20.30.40", "req-7f3a")
    case_documents(archive, READER_BY_CLI, CASE)  # an entry after it, which still follows it
    assert verify_audit_trail(archive, auditor).ok

    _as_database_owner(settings, f"UPDATE audit_log SET {change} WHERE id = {entry.id}")
    report = verify_audit_trail(archive, auditor)
    assert (report.problem, report.bad_entry) == (
        f"entry {entry.id} was changed after it was written",
        entry.id,
    )

    add_user(archive, ADMIN, Actor.from_os().name, ["auditor"])
    for key, value in stack_env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as exited:
        main(["audit", "verify"])
    assert exited.value.code == ExitCode.INTEGRITY


def test_anchors_hold_across_entries_with_and_without_a_request(
    settings: Settings, archive: Archive, auditor: Actor
) -> None:
    """An anchor taken, then entries of every channel, then another anchor: both hold, and a re-chained
    trail is still found against the first."""
    from ekakte.documents import case_documents
    from ekakte.trail import anchor_audit_trail
    from tests.conftest import CASE

    first = anchor_audit_trail(archive, auditor).anchor
    for actor in (
        FROM_THE_API,
        Actor("caseworker", channel="web", client_address="2001:db8::7"),
        READER_BY_CLI,
    ):
        case_documents(archive, actor, CASE)
    anchor_audit_trail(archive, auditor)
    report = verify_audit_trail(archive, auditor)
    assert report.ok and report.entries == first.entries + 5, report.problem

    with archive.reading() as session:
        ids = list(session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))
    _rechain(settings, archive, ids[1])
    assert audit.verify_chain(archive.reading).ok
    report = verify_audit_trail(archive, auditor)
    assert str(report.problem).startswith(f"the trail was re-chained: the anchor of {first.when}")
