"""The audit trail holds against whoever has database access: no TRUNCATE, a role that can only append,
anchors outside the database, and search input that cannot lose its own entry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

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
    empty = "TRUNCATE audit_log" if settings.database_url.startswith("postgresql") else "DELETE FROM audit_log"
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
    assert (entry.actor, entry.action, entry.outcome, entry.case_number) == (READER.name, "search", "denied", CASE)
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
    if settings.database_url.startswith("postgresql"):
        _execute(settings.database_url, "ALTER TABLE pages RENAME COLUMN tsv TO tsv_gone")
    else:
        _execute(settings.database_url, "ALTER TABLE pages_fts RENAME TO pages_fts_gone")
    before = _entries(archive)
    with pytest.raises((DatabaseError, DBAPIError)):  # the driver's own error: it is not an outage
        search(archive, READER, "Mietvertrag")
    assert _entries(archive) == before + 1
    entry = _last(archive)
    assert (entry.actor, entry.action, entry.outcome) == (READER.name, "search", "allowed")
    assert verify_audit_trail(archive, auditor).ok
