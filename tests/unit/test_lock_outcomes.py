"""What ekakte does with each answer an Object Lock store can give, one branch at a time.

The real servers (moto, RadosGW) are in tests/integration/test_worm.py; some answers they cannot be
made to give on demand (a legal hold acknowledged but not applied, a delete refused for want of a
permission). Here the embedded archive's folder store is wrapped in `LockingStoreDouble`, a test double
that answers as RadosGW does where the tests against it showed how (past dates refused, locked versions
not deleted) and otherwise as a test asks it to.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.db.models import Document
from ekakte.errors import StoreRefused
from ekakte.ingest import DocumentMeta, import_document
from ekakte.integrity import gc, verify
from ekakte.principals import add_user
from ekakte.retention.holds import add_hold
from ekakte.retention.schedule import close_case, load_rules
from ekakte.retention.sweep import sweep
from ekakte.retention.worm import retain_until, sync_object_locks
from ekakte.setup import initialize
from ekakte.storage.base import ORIGINALS_PREFIX, ObjectInfo, ObjectLock
from ekakte.storage.local import LocalStore
from tests.conftest import ADMIN, CASE, OPERATOR, TEAM, TEN_YEARS_RULES, embedded_env, organise, scans

RECORDS = Actor("records-manager")
LEAD = Actor("team-lead")  # of TEAM, without the health clearance


class LockingStoreDouble(LocalStore):
    """A folder store that claims S3 Object Lock: it records retain-until dates and legal holds, refuses
    past dates and shortenings, and refuses to delete what they protect."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.until: dict[str, datetime] = {}
        self.held: set[str] = set()
        self.refuse_retention: set[str] = set()  # keys whose retention it refuses (as for a missing object)
        self.ignore_holds = False  # acknowledge legal holds without applying them
        self.refuse_delete: set[str] = set()  # keys it refuses to delete for another reason
        self.retained: list[str] = []

    def object_lock(self) -> bool:
        return True

    def retain(self, key: str, until: datetime) -> None:
        if until <= datetime.now(UTC):
            raise StoreRefused(f"object store refused to set the retention of {key}: InvalidArgument past")
        if key in self.refuse_retention or until < self.until.get(key, until):
            raise StoreRefused(f"object store refused to set the retention of {key}: AccessDenied")
        self.until[key] = until
        self.retained.append(key)

    def hold(self, key: str, on: bool) -> None:
        if not self.ignore_holds:
            (self.held.add if on else self.held.discard)(key)

    def stat(self, key: str) -> ObjectInfo | None:
        info = super().stat(key)
        if info is None:
            return None
        until = self.until.get(key)
        return replace(info, lock=ObjectLock("COMPLIANCE" if until else None, until, key in self.held))

    def delete_many(self, keys: list[str]) -> dict[str, str]:
        now = datetime.now(UTC)
        refused = {}
        for key in keys:
            info = self.stat(key)
            if info is not None and info.lock is not None and info.lock.protects(now):
                refused[key] = "AccessDenied forbidden by object lock"
            elif key in self.refuse_delete:
                refused[key] = "AccessDenied not permitted"
            else:
                self.delete(key)
        return refused


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    env = embedded_env(tmp_path / "home")
    initialize(load_settings(env))
    organise(load_settings(env))
    with Archive.open(load_settings(env)) as opened:
        opened.store = LockingStoreDouble(opened.store.root)  # type: ignore[attr-defined]
        add_user(opened, ADMIN, RECORDS.name, ["records_manager"])
        add_user(opened, ADMIN, LEAD.name, ["team_lead"], [TEAM])
        rules = tmp_path / "rules.toml"
        rules.write_text(TEN_YEARS_RULES)
        load_rules(opened, RECORDS, rules)
        yield opened


def store_of(archive: Archive) -> LockingStoreDouble:
    assert isinstance(archive.store, LockingStoreDouble)
    return archive.store


@pytest.fixture
def stored(archive: Archive, tmp_path: Path) -> Callable[..., uuid.UUID]:
    counter = iter(range(10_000))

    def store(doc_type: str = "Antrag") -> uuid.UUID:
        n = next(counter)
        path = tmp_path / f"scan-{n}.pdf"
        path.write_bytes(scans.pdf_bytes([[f"Seite {n}"]], dpi=50, seed=n))
        meta = DocumentMeta(CASE, doc_type, date(2014, 5, 1))
        return import_document(archive, OPERATOR, path, meta).document_id

    return store


def key_of(archive: Archive, doc: uuid.UUID) -> str:
    with archive.reading() as session:
        key = session.scalar(select(Document.storage_key).where(Document.id == doc))
    assert key is not None
    return key


def test_dates_already_past_are_never_sent_and_today_still_is(
    archive: Archive, stored: Callable[..., uuid.UUID]
) -> None:
    docs = [stored() for _ in range(3)]
    today = datetime.now(UTC).date()
    with archive.transaction() as session:
        for doc, due in zip(docs, (today - timedelta(days=1), today, today + timedelta(days=1)), strict=True):
            session.execute(update(Document).where(Document.id == doc).values(due_on=due))
    outcome = sync_object_locks(archive)
    assert outcome.ok  # the double refuses past dates as RadosGW does: none was sent
    assert store_of(archive).retained == [key_of(archive, d) for d in sorted(docs[1:])]


def test_a_refused_date_the_store_already_keeps_longer_counts_as_told(
    archive: Archive, stored: Callable[..., uuid.UUID]
) -> None:
    doc = stored()
    key = key_of(archive, doc)
    store_of(archive).until[key] = retain_until(date(2040, 12, 31))  # e.g. the bucket's default retention
    done = close_case(archive, RECORDS, CASE, date.today())  # due in ten years: shorter, so refused
    assert done.objects.ok and done.objects.changed == 1
    with archive.reading() as session:
        assert session.scalar(select(Document.locked_until).where(Document.id == doc)) is not None


def test_a_legal_hold_the_store_acknowledges_but_does_not_apply_is_a_refusal(
    archive: Archive, stored: Callable[..., uuid.UUID]
) -> None:
    doc = stored()
    store_of(archive).ignore_holds = True
    hold = add_hold(archive, RECORDS, case_number=CASE, reason="SG Köln S 12 AS 345/25")
    assert hold.objects is not None and hold.objects.changed == 0
    (refusal,) = hold.objects.refused
    assert refusal.document_id == doc and "reports the legal hold OFF" in refusal.reason
    with archive.reading() as session:
        assert session.scalar(select(Document.object_hold).where(Document.id == doc)) is False  # retried


def test_a_delete_refused_without_a_lock_is_a_problem_not_kept_by_the_store(
    archive: Archive, stored: Callable[..., uuid.UUID]
) -> None:
    locked, refused = stored(), stored()
    close_case(archive, RECORDS, CASE, date(2015, 3, 10))  # due 2025-12-31: nothing sent
    store_of(archive).until[key_of(archive, locked)] = datetime.now(UTC) + timedelta(days=1)
    store_of(archive).refuse_delete.add(key_of(archive, refused))
    report = sweep(archive, RECORDS)
    assert [k.document_id for k in report.kept] == [locked] and "retained until" in report.kept[0].reason
    assert len(report.problems) == 1 and str(refused) in report.problems[0] and not report.complete


def test_gc_keeps_what_a_lock_protects_and_stops_on_any_other_refusal(archive: Archive) -> None:
    import hashlib
    import io

    body = b"orphan"
    digest = hashlib.sha256(body).hexdigest()
    locked, refused = (f"{ORIGINALS_PREFIX}00/00/{uuid.uuid4()}" for _ in range(2))
    for key in (locked, refused):
        archive.store.put(key, io.BytesIO(body), len(body), digest, "x")
    store_of(archive).until[locked] = datetime.now(UTC) + timedelta(days=1)
    store_of(archive).refuse_delete.add(refused)
    with pytest.raises(StoreRefused, match="refused to delete"):
        gc(archive, ADMIN, grace_hours=0)
    store_of(archive).refuse_delete.clear()
    report = gc(archive, ADMIN, grace_hours=0)
    assert [o.key for o in report.removed] == [refused]
    assert [o.key for o, _ in report.kept_locked] == [locked]


def test_verify_names_a_due_date_or_hold_the_store_was_never_told(
    archive: Archive, stored: Callable[..., uuid.UUID]
) -> None:
    due, held = stored(), stored()
    store_of(archive).refuse_retention.add(key_of(archive, due))
    store_of(archive).ignore_holds = True
    close_case(archive, RECORDS, CASE, date.today())
    add_hold(archive, RECORDS, document_id=held, reason="Widerspruch W-2026-0815")
    report = verify(archive, ADMIN)
    problems = {p.document_id: p.detail for p in report.problems if p.kind == "lock"}
    assert not report.ok and set(problems) == {str(due), str(held)}
    assert "was not yet told to keep it until" in problems[str(due)]
    assert "no legal hold (the store was not yet told)" in problems[str(held)]

    store_of(archive).refuse_retention.clear()
    store_of(archive).ignore_holds = False
    assert sweep(archive, RECORDS).complete  # its first step tells the store
    assert verify(archive, ADMIN).ok


def test_a_team_lead_closing_a_case_learns_nothing_of_its_restricted_documents(
    archive: Archive, stored: Callable[..., uuid.UUID]
) -> None:
    plain, restricted = stored("Antrag"), stored("Gutachten")
    store = store_of(archive)
    store.refuse_retention.update(key_of(archive, d) for d in (plain, restricted))
    done = close_case(archive, LEAD, CASE, date.today())
    assert done.changed == 1 and [r.document_id for r in done.objects.refused] == [plain]
    assert str(restricted) not in (done.objects.problem() or "")
    seen = close_case(archive, RECORDS, CASE, date(date.today().year - 1, 6, 30))  # another due date
    assert seen.changed == 2 and {r.document_id for r in seen.objects.refused} == {plain, restricted}


def test_an_import_the_store_refuses_a_lock_for_is_stored_and_says_so(
    archive: Archive, stored: Callable[..., uuid.UUID], tmp_path: Path
) -> None:
    stored()
    close_case(archive, RECORDS, CASE, date.today())
    store_of(archive).ignore_holds = True
    add_hold(archive, RECORDS, case_number=CASE, reason="SG Köln S 12 AS 345/25")
    path = tmp_path / "late.pdf"
    path.write_bytes(scans.pdf_bytes([["Nachgereicht"]], dpi=50, seed=99))
    result = import_document(archive, OPERATOR, path, DocumentMeta(CASE, "Nachweis", date(2014, 5, 1)))
    assert result.status == "stored" and result.lock_problem is not None
    assert "legal hold" in result.lock_problem and result.as_json()["lock_problem"] == result.lock_problem
