"""Retention on both stacks: rules, due dates, holds, the plan, the sweep (also killed between its steps)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ekakte import audit
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import DeletionRecord, Document, Page
from ekakte.documents import case_documents, get_document
from ekakte.errors import Busy, InvalidInput, NotFound, NotPermitted
from ekakte.ingest import DocumentMeta, import_document
from ekakte.integrity import verify
from ekakte.principals import add_user
from ekakte.retention.holds import add_hold, list_holds, release_hold
from ekakte.retention.protocol import protocol
from ekakte.retention.schedule import close_case, load_rules, reopen_case, show_rules
from ekakte.retention.sweep import plan, sweep
from ekakte.search import search
from tests.conftest import (
    ADMIN,
    CASE,
    OPERATOR,
    OTHER_CASE,
    READER,
    STACKS_WITH_RGW,
    TEN_YEARS_RULES,
    make_stack,
)

RECORDS = Actor("records-manager")
AUDITOR = Actor("auditor")
RULES = (
    TEN_YEARS_RULES
    + """
[[rule]]
name = "bank statements"
types = ["Kontoauszug"]
keep = "5y"
trigger = "case_closed"
rounding = "end_of_year"
disposition = "destroy"
release = "Kreisarchiv, Bewertungsentscheidung 2025/17"
"""
)
KEPT_DAY, SWEEP_DAY = date(2025, 12, 31), date(2026, 1, 1)  # the issue's example


@pytest.fixture(params=STACKS_WITH_RGW)
def stack_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Also on RadosGW with an Object Lock bucket: it refuses what moto accepts (past retain-until dates)."""
    return make_stack(request, tmp_path)


@pytest.fixture
def ret(archive: Archive, tmp_path: Path) -> Archive:
    add_user(archive, ADMIN, RECORDS.name, ["records_manager"])
    add_user(archive, ADMIN, AUDITOR.name, ["auditor"])
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    load_rules(archive, RECORDS, rules)
    return archive


def stored(
    archive: Archive, make_scan: Any, doc_type: str = "Antrag", case: str = CASE, **meta: Any
) -> uuid.UUID:
    scan = make_scan(seed=int(uuid.uuid4().int % 10**8))
    return import_document(
        archive, OPERATOR, scan, DocumentMeta(case, doc_type, date(2014, 5, 1), **meta)
    ).document_id


def due(archive: Archive, doc: uuid.UUID) -> tuple[date | None, str | None, int | None]:
    with archive.reading() as session:
        row = session.execute(
            select(Document.due_on, Document.retention_rule, Document.retention_version).where(
                Document.id == doc
            )
        ).one()
    return row[0], row[1], row[2]


def visible(archive: Archive, doc: uuid.UUID) -> bool:
    try:
        get_document(archive, READER, doc)
    except NotPermitted:
        return False
    return True


def test_due_dates_follow_the_case_and_the_specific_rule(ret: Archive, make_scan: Any) -> None:
    antrag, konto = stored(ret, make_scan), stored(ret, make_scan, "Kontoauszug")
    assert due(ret, antrag) == (None, "default", 1)  # open case: not due
    close_case(ret, RECORDS, CASE, date(2015, 3, 10))
    assert due(ret, antrag) == (date(2025, 12, 31), "default", 1)
    assert due(ret, konto) == (date(2020, 12, 31), "bank statements", 1)
    later = stored(ret, make_scan)  # imported into the closed case: scheduled at once
    assert due(ret, later)[0] == date(2025, 12, 31)
    reopen_case(ret, RECORDS, CASE)
    assert due(ret, antrag)[0] is None and due(ret, konto)[0] is None


def test_the_issue_example_kept_on_the_due_date_deleted_the_day_after(ret: Archive, make_scan: Any) -> None:
    doc = stored(ret, make_scan)
    close_case(ret, RECORDS, CASE, date(2015, 3, 10))
    assert sweep(ret, RECORDS, as_of=KEPT_DAY).deleted == 0
    assert visible(ret, doc)
    report = sweep(ret, RECORDS, as_of=SWEEP_DAY)
    assert (report.deleted, report.complete) == (1, True)
    assert not visible(ret, doc)


def test_reloading_rules_reschedules_and_versions_are_kept(
    ret: Archive, make_scan: Any, tmp_path: Path
) -> None:
    doc = stored(ret, make_scan)
    close_case(ret, RECORDS, CASE, date(2015, 3, 10))
    shorter = tmp_path / "v2.toml"
    shorter.write_text(RULES.replace('keep = "10y"', 'keep = "6y"'))
    loaded, changed = load_rules(ret, RECORDS, shorter)
    assert (loaded.version, changed.changed) == (2, 1)
    assert due(ret, doc) == (date(2021, 12, 31), "default", 2)
    assert show_rules(ret, RECORDS, 1).content == RULES
    assert show_rules(ret, RECORDS).rules.rule_for("Antrag").keep == "6y"  # type: ignore[union-attr]
    broken = tmp_path / "broken.toml"
    broken.write_text(RULES.replace("case_closed", "case_ended"))
    with pytest.raises(InvalidInput, match="trigger"):
        load_rules(ret, RECORDS, broken)
    assert show_rules(ret, RECORDS).version == 2  # a refused file changes nothing


def test_a_hold_keeps_what_is_due_until_it_is_released_or_ends(ret: Archive, make_scan: Any) -> None:
    by_case, by_doc = stored(ret, make_scan), stored(ret, make_scan, "Nachweis")
    close_case(ret, RECORDS, CASE, date(2015, 3, 10))
    case_hold = add_hold(ret, RECORDS, case_number=CASE, reason="SG Köln S 12 AS 345/25")
    doc_hold = add_hold(
        ret, RECORDS, document_id=by_doc, reason="Widerspruch", until=date.today() + timedelta(days=30)
    )
    items = {i.document_id: i for i in plan(ret, RECORDS, as_of=SWEEP_DAY)}
    assert [h for h, _r in items[by_case].held_by] == [case_hold.id]
    assert sorted(h for h, _r in items[by_doc].held_by) == sorted([case_hold.id, doc_hold.id])
    assert sweep(ret, RECORDS, as_of=SWEEP_DAY).held_back == 2
    release_hold(ret, RECORDS, case_hold.id)
    report = sweep(ret, RECORDS, as_of=SWEEP_DAY)
    assert (report.deleted, report.held_back) == (1, 1)
    assert visible(ret, by_doc) and not visible(ret, by_case)
    # The document hold ends after its last day: a plan for the day after shows it due again.
    after = {i.document_id: i for i in plan(ret, RECORDS, as_of=doc_hold.until + timedelta(days=1))}  # type: ignore[operator]
    assert after[by_doc].held_by == ()
    assert [h.id for h in list_holds(ret, RECORDS)] == [doc_hold.id]
    assert [h.id for h in list_holds(ret, RECORDS, include_released=True)] == [case_hold.id, doc_hold.id]


def test_a_sweep_deletes_for_real_and_writes_the_protocol(ret: Archive, make_scan: Any) -> None:
    doc = stored(ret, make_scan, "Kontoauszug")
    with ret.reading() as session:
        key, sha = session.execute(
            select(Document.storage_key, Document.sha256).where(Document.id == doc)
        ).one()
    close_case(ret, RECORDS, CASE, date(2015, 3, 10))
    sweep(ret, RECORDS, as_of=SWEEP_DAY)
    assert ret.store.stat(key) is None
    with ret.reading() as session:
        assert session.scalar(select(func.count()).select_from(Document).where(Document.id == doc)) == 0
        assert session.scalar(select(func.count()).select_from(Page).where(Page.document_id == doc)) == 0
    (entry,) = protocol(ret, AUDITOR)
    assert (entry.document_id, entry.document_type, entry.rule, entry.rule_version) == (
        str(doc),
        "Kontoauszug",
        "bank statements",
        1,
    )
    assert (entry.due_on, entry.sha256, entry.deleted_by) == (date(2020, 12, 31), sha, RECORDS.name)
    assert CASE not in str(entry.as_json())  # only the keyed hash of the case number
    assert [e.document_id for e in protocol(ret, RECORDS, case_number=CASE)] == [str(doc)]
    assert protocol(ret, RECORDS, case_number=OTHER_CASE).items == []
    assert verify(ret, ADMIN).ok and audit.verify_chain(ret.reading).ok
    with pytest.raises(NotFound):
        case_documents(ret, RECORDS, "11111BG1111111")


def test_only_records_managers_plan_hold_and_sweep(ret: Archive) -> None:
    for who in (READER, OPERATOR, ADMIN, AUDITOR):
        with pytest.raises(NotPermitted):
            sweep(ret, who, dry_run=True)
        with pytest.raises(NotPermitted):
            list(plan(ret, who))
        with pytest.raises(NotPermitted):
            add_hold(ret, who, case_number=CASE, reason="x")
    with pytest.raises(NotPermitted):
        close_case(ret, READER, CASE, date(2020, 1, 1))
    with pytest.raises(NotPermitted):
        protocol(ret, READER)


def test_a_second_sweep_while_one_runs_is_refused(ret: Archive, make_scan: Any) -> None:
    stored(ret, make_scan)
    close_case(ret, RECORDS, CASE, date(2015, 3, 10))
    attempts: list[str] = []

    def meanwhile(step: str, _ids: list[uuid.UUID]) -> None:
        if step == "mark":
            try:
                sweep(ret, RECORDS, as_of=SWEEP_DAY)
            except Busy as exc:
                attempts.append(str(exc))

    assert sweep(ret, RECORDS, as_of=SWEEP_DAY, on_step=meanwhile).deleted == 1
    assert attempts == ["another retention sweep is running; this one did nothing"]


def test_dry_run_and_limit(ret: Archive, make_scan: Any) -> None:
    docs = [stored(ret, make_scan) for _ in range(3)]
    close_case(ret, RECORDS, CASE, date(2015, 3, 10))
    dry = sweep(ret, RECORDS, as_of=SWEEP_DAY, dry_run=True)
    assert sorted(dry.would_delete) == sorted(docs) and all(visible(ret, d) for d in docs)
    assert sweep(ret, RECORDS, as_of=SWEEP_DAY, limit=2).deleted == 2
    assert sweep(ret, RECORDS, as_of=SWEEP_DAY).deleted == 1


class Crash(Exception):
    """Stands for the sweep process being killed at this point."""


@pytest.mark.parametrize("crash_after", ["mark", "objects", "purge"])
def test_a_sweep_killed_between_its_steps_is_finished_by_the_next(
    ret: Archive, make_scan: Any, crash_after: str
) -> None:
    """Nothing not due is lost, nothing due stays, no visible document lacks its object, the protocol is
    complete, and the audit chain and `verify` are clean afterwards."""
    keep_doc = stored(ret, make_scan, case=OTHER_CASE)  # OTHER_CASE stays open: never due
    doomed = [stored(ret, make_scan), stored(ret, make_scan, "Kontoauszug")]
    close_case(ret, RECORDS, CASE, date(2015, 3, 10))

    def crash(step: str, _ids: list[uuid.UUID]) -> None:
        if step == crash_after:
            raise Crash(step)

    with pytest.raises(Crash):
        sweep(ret, RECORDS, as_of=SWEEP_DAY, on_step=crash)
    # In between: whatever a reader sees is intact.
    for doc in doomed:
        if visible(ret, doc):
            with ret.reading() as session:
                key = session.scalar(select(Document.storage_key).where(Document.id == doc))
            assert ret.store.stat(key) is not None  # type: ignore[arg-type]
    assert verify(ret, ADMIN).ok

    report = sweep(ret, RECORDS, as_of=SWEEP_DAY)
    assert report.complete
    # Killed after marking or after removing the objects: the next sweep finishes both documents.
    assert report.finished == (0 if crash_after == "purge" else 2)
    assert not any(visible(ret, d) for d in doomed) and visible(ret, keep_doc)
    assert sorted(e.document_id for e in protocol(ret, RECORDS)) == sorted(str(d) for d in doomed)
    with ret.reading() as session:
        assert session.scalar(select(func.count()).select_from(DeletionRecord)) == 2
    final = verify(ret, ADMIN)
    assert final.ok and final.count("unreferenced") == 0
    assert audit.verify_chain(ret.reading).ok


def test_deleted_documents_leave_the_search_index(ret: Archive, make_scan: Any) -> None:
    from sqlalchemy import update

    from ekakte.db.models import OcrState

    doc = stored(ret, make_scan)
    with ret.transaction() as session:
        session.execute(
            update(Page).where(Page.document_id == doc).values(text="Zauberwort", ocr_state=OcrState.DONE)
        )
    assert [h.document_id for h in search(ret, READER, "Zauberwort").hits] == [doc]
    close_case(ret, RECORDS, CASE, date(2015, 3, 10))
    sweep(ret, RECORDS, as_of=SWEEP_DAY)
    assert search(ret, READER, "Zauberwort").hits == []


@pytest.mark.server
def test_an_unreachable_store_stops_the_sweep_without_hiding_or_losing_anything(
    request: pytest.FixtureRequest, tmp_path: Path, make_scan: Any
) -> None:
    from ekakte.config import load_settings
    from ekakte.errors import StorageError
    from tests.conftest import fresh_server_env
    from tests.services import free_port

    env = fresh_server_env(
        tmp_path / "home", request.getfixturevalue("pg_url"), request.getfixturevalue("s3")
    )
    with Archive.open(load_settings(env)) as archive:
        add_user(archive, ADMIN, RECORDS.name, ["records_manager"])
        rules = tmp_path / "rules.toml"
        rules.write_text(RULES)
        load_rules(archive, RECORDS, rules)
        docs = [stored(archive, make_scan) for _ in range(3)]
        close_case(archive, RECORDS, CASE, date(2015, 3, 10))
    away = {**env, "EKAKTE_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}"}  # nothing listens there
    with Archive.open(load_settings(away)) as archive, pytest.raises(StorageError):
        sweep(archive, RECORDS, as_of=SWEEP_DAY)
    with Archive.open(load_settings(env)) as archive:
        assert all(visible(archive, d) for d in docs)  # nothing hidden, nothing lost
        report = sweep(archive, RECORDS, as_of=SWEEP_DAY)
        assert (report.deleted, report.complete) == (3, True)
        assert len(protocol(archive, RECORDS)) == 3


def test_reopening_a_case_during_a_half_done_deletion_does_not_break_the_next_sweep(
    ret: Archive, make_scan: Any
) -> None:
    doc = stored(ret, make_scan, document_date=date(2014, 4, 1))
    close_case(ret, RECORDS, CASE, date(2015, 3, 10))
    assert get_document(ret, READER, doc).as_json()["due_on"] == "2025-12-31"

    def crash(step: str, _ids: list[uuid.UUID]) -> None:
        if step == "objects":
            raise Crash(step)

    with pytest.raises(Crash):
        sweep(ret, RECORDS, as_of=SWEEP_DAY, on_step=crash)
    reopen_case(ret, RECORDS, CASE)  # too late for the half-deleted document: its object is gone
    report = sweep(ret, RECORDS, as_of=SWEEP_DAY)
    assert (report.finished, report.complete) == (1, True)
    (entry,) = protocol(ret, RECORDS)
    assert (entry.document_id, entry.due_on) == (str(doc), date(2025, 12, 31))


def test_a_sweep_may_not_run_as_of_a_future_day(ret: Archive) -> None:
    with pytest.raises(InvalidInput, match="future"):
        sweep(ret, RECORDS, as_of=date.today() + timedelta(days=1))
    assert sweep(ret, RECORDS, as_of=date.today() + timedelta(days=400), dry_run=True).dry_run


def test_the_plan_reads_in_chunks_and_misses_nothing_at_their_seams(
    ret: Archive, make_scan: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ekakte.retention.sweep as sweeping

    docs = [stored(ret, make_scan) for _ in range(5)] + [
        stored(ret, make_scan, "Kontoauszug") for _ in range(2)
    ]
    close_case(ret, RECORDS, CASE, date(2015, 3, 10))  # 5 due 2025-12-31, 2 due 2020-12-31: equal keys
    monkeypatch.setattr(sweeping, "_PLAN_CHUNK", 2)
    items = list(plan(ret, RECORDS, as_of=SWEEP_DAY))
    assert sorted(i.document_id for i in items) == sorted(docs)
    assert [i.due_on for i in items] == [date(2020, 12, 31)] * 2 + [date(2025, 12, 31)] * 5
    assert [i.document_id for i in items[2:]] == sorted(docs[:5])  # due date, then id


def test_holds_are_listed_page_by_page(ret: Archive, make_scan: Any) -> None:
    from ekakte.paging import decode

    made = [add_hold(ret, RECORDS, case_number=CASE, reason=f"Az. {n}").id for n in range(5)]
    release_hold(ret, RECORDS, made[1])
    seen, cursor, pages = [], None, 0
    while True:
        page = list_holds(ret, RECORDS, limit=2, after=cursor)
        seen += [h.id for h in page]
        pages += 1
        cursor = page.next
        if cursor is None:
            break
    assert seen == [made[0], *made[2:]] and pages == 2
    assert [h.id for h in list_holds(ret, RECORDS, include_released=True)] == made
    with pytest.raises(InvalidInput, match="cursor"):
        list_holds(ret, RECORDS, limit=2, after="not-a-cursor")
    assert decode("holds", list_holds(ret, RECORDS, limit=1).next or "", [int]) == [made[0]]
