"""S3 Object Lock (WORM): on moto, and on a real Object Lock server (Ceph's RadosGW) in COMPLIANCE and in
GOVERNANCE mode, which refuses what moto accepts. Retain-until dates and legal holds on the objects, the
sweep yielding to them, the store's answers checked, verify and gc comparing what the store says."""

from __future__ import annotations

import hashlib
import io
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import Document
from ekakte.errors import ChecksumMismatch
from ekakte.integrity import gc, verify
from ekakte.principals import add_user
from ekakte.retention.holds import add_hold, release_hold
from ekakte.retention.protocol import protocol
from ekakte.retention.schedule import close_case, load_rules
from ekakte.retention.sweep import plan, sweep
from ekakte.retention.worm import retain_until
from ekakte.storage.base import ORIGINALS_PREFIX, ObjectLock
from tests.conftest import ADMIN, CASE, OTHER_CASE
from tests.integration.test_cli import Cli
from tests.integration.test_retention import RECORDS, RULES, SWEEP_DAY, Crash, stored, visible

pytestmark = pytest.mark.server

MOTO = pytest.param(("s3", "COMPLIANCE"), id="moto")
RGW = [
    pytest.param(("rgw", "COMPLIANCE"), id="rgw-compliance", marks=pytest.mark.rgw),
    pytest.param(("rgw", "GOVERNANCE"), id="rgw-governance", marks=pytest.mark.rgw),
]


@pytest.fixture(params=[MOTO, *RGW])
def locked_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """PostgreSQL + an S3 bucket created with Object Lock by `ekakte init`, in the parameter's lock mode,
    with rules loaded and a records manager."""
    from ekakte.config import load_settings
    from tests.conftest import fresh_server_env

    server, mode = request.param
    env = fresh_server_env(
        tmp_path / "home",
        request.getfixturevalue("pg_url"),
        request.getfixturevalue(server),
        bucket="worm",
        EKAKTE_S3_OBJECT_LOCK="true",
        EKAKTE_S3_LOCK_MODE=mode,
    )
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    with Archive.open(load_settings(env)) as archive:
        add_user(archive, ADMIN, RECORDS.name, ["records_manager"])
        load_rules(archive, RECORDS, rules)
    return env


@pytest.fixture
def locked(locked_env: dict[str, str], request: pytest.FixtureRequest) -> Archive:
    from ekakte.config import load_settings

    archive = Archive.open(load_settings(locked_env))
    request.addfinalizer(archive.close)
    return archive


def key_of(archive: Archive, doc: uuid.UUID) -> str:
    with archive.reading() as session:
        key = session.scalar(select(Document.storage_key).where(Document.id == doc))
    assert key is not None
    return key


def lock_of(archive: Archive, doc: uuid.UUID) -> ObjectLock:
    info = archive.store.stat(key_of(archive, doc))
    assert info is not None and info.lock is not None
    return info.lock


def client(archive: Archive) -> Any:
    return archive.store.client  # type: ignore[attr-defined]


def bucket(archive: Archive) -> str:
    return archive.store.bucket  # type: ignore[attr-defined]


def versions(archive: Archive, key: str) -> list[str]:
    return [
        o.version_id
        for o in client(archive).list_objects(bucket(archive), prefix=key, include_version=True)
        if o.object_name == key
    ]


def remove_behind_ekaktes_back(archive: Archive, doc: uuid.UUID) -> None:
    """Someone with the bucket's keys deletes an object that nothing locks yet (every version)."""
    key = key_of(archive, doc)
    for version in versions(archive, key):
        client(archive).remove_object(bucket(archive), key, version_id=version)
    assert archive.store.stat(key) is None


def recorded(archive: Archive, doc: uuid.UUID) -> tuple[date | None, bool]:
    with archive.reading() as session:
        row = session.execute(
            select(Document.locked_until, Document.object_hold).where(Document.id == doc)
        ).one()
    return row[0], row[1]


def test_object_lock_keeps_what_ekakte_says_is_kept_and_the_sweep_yields_to_it(
    locked: Archive, locked_env: dict[str, str], make_scan: Any, tmp_path: Path
) -> None:
    assert locked.store.object_lock()
    doc = stored(locked, make_scan)
    key = key_of(locked, doc)
    close_case(locked, RECORDS, CASE, date(2020, 6, 30))  # due 2030-12-31: the store retains it until 2031
    assert recorded(locked, doc)[0] == date(2030, 12, 31)
    lock = lock_of(locked, doc)
    assert (lock.retain_until, lock.mode) == (
        retain_until(date(2030, 12, 31)),
        locked_env["EKAKTE_S3_LOCK_MODE"],
    )
    assert locked.store.delete_many([key])  # not even someone with the bucket's keys can delete it now

    # A new rule set shortens the period: ekakte's due date moves into the past, the store's lock stays.
    rules = tmp_path / "shorter.toml"
    rules.write_text(RULES.replace('keep = "10y"', 'keep = "1y"'))
    load_rules(locked, RECORDS, rules)
    report = sweep(locked, RECORDS)
    assert (report.deleted, report.kept_by_store, report.complete) == (0, 1, True)
    (kept,) = report.kept
    assert kept.document_id == doc and "retained until 2031-01-01 00:00 UTC" in kept.reason
    assert visible(locked, doc) and locked.store.stat(key) is not None  # kept, and readable again


def test_legal_holds_are_mirrored_onto_the_objects_and_deletion_removes_every_version(
    locked: Archive, make_scan: Any
) -> None:
    doc = stored(locked, make_scan)
    key = key_of(locked, doc)
    hold = add_hold(locked, RECORDS, case_number=CASE, reason="SG Köln S 12 AS 345/25")
    assert hold.objects is not None and hold.objects.ok and hold.objects.changed == 1
    assert recorded(locked, doc)[1] is True and lock_of(locked, doc).legal_hold
    assert locked.store.delete_many([key])  # refused: S3 legal hold
    released = release_hold(locked, RECORDS, hold.id)
    assert released.objects is not None and released.objects.ok and not lock_of(locked, doc).legal_hold
    close_case(locked, RECORDS, CASE, date(2015, 3, 10))  # due 2025-12-31: the lock has run out
    assert sweep(locked, RECORDS).deleted == 1
    assert versions(locked, key) == []  # gone for real, not hidden behind a delete marker


def test_the_sweep_deletes_what_is_due_and_never_sends_a_date_in_the_past(
    locked: Archive, make_scan: Any
) -> None:
    old = stored(locked, make_scan)  # of a case closed long ago: due 2025-12-31
    recent = stored(locked, make_scan, case=OTHER_CASE)  # of a case closed today: due in ten years
    done = close_case(locked, RECORDS, CASE, date(2015, 3, 10))
    assert (done.changed, done.objects.ok, done.objects.changed) == (1, True, 0)
    assert recorded(locked, old) == (None, False) and lock_of(locked, old).retain_until is None
    close_case(locked, RECORDS, OTHER_CASE, date.today())
    due = date(date.today().year + 10, 12, 31)
    assert lock_of(locked, recent).retain_until == retain_until(due)

    report = sweep(locked, RECORDS)
    assert (report.deleted, report.kept_by_store, report.lock_refusals, report.complete) == (1, 0, [], True)
    assert not visible(locked, old) and visible(locked, recent)
    assert locked.store.delete_many([key_of(locked, recent)])  # the store still refuses the recent one


# moto answers a lock request for a missing object with an internal error (500), not a refusal.
@pytest.mark.parametrize("locked_env", RGW, indirect=True)
def test_one_objects_refusal_is_that_documents_outcome_never_the_runs(
    locked: Archive, make_scan: Any
) -> None:
    due_doc = stored(locked, make_scan)
    fine, gone = stored(locked, make_scan, case=OTHER_CASE), stored(locked, make_scan, case=OTHER_CASE)
    remove_behind_ekaktes_back(locked, gone)
    close_case(locked, RECORDS, CASE, date(2015, 3, 10))
    done = close_case(locked, RECORDS, OTHER_CASE, date.today())
    assert done.objects.changed == 1 and [r.document_id for r in done.objects.refused] == [gone]
    assert done.objects.unreachable is None
    assert recorded(locked, fine)[0] is not None and recorded(locked, gone)[0] is None  # retried later

    report = sweep(locked, RECORDS)
    assert report.deleted == 1 and not visible(locked, due_doc)  # the refusal stopped nothing
    assert [r.document_id for r in report.lock_refusals] == [gone] and not report.complete
    assert "LOCKS NOT TAKEN" in report.summary() and str(gone) in report.summary()


def test_a_hold_on_a_case_closed_long_ago_reaches_its_objects_and_leaves_them_on_release(
    locked: Archive, make_scan: Any
) -> None:
    # The case's documents are due already: telling the store their (past) retain-until date used to
    # fail first, and that failure, swallowed, kept the legal holds from ever reaching the objects.
    docs = [stored(locked, make_scan) for _ in range(2)]
    close_case(locked, RECORDS, CASE, date(2015, 3, 10))
    hold = add_hold(locked, RECORDS, case_number=CASE, reason="SG Köln S 12 AS 345/25")
    assert hold.objects is not None and (hold.objects.ok, hold.objects.changed) == (True, 2)
    assert all(lock_of(locked, d).legal_hold for d in docs)
    assert all(i.held_by for i in plan(locked, RECORDS))
    report = sweep(locked, RECORDS)
    assert (report.deleted, report.held_back, report.complete) == (0, 2, True)

    released = release_hold(locked, RECORDS, hold.id)
    assert released.objects is not None and (released.objects.ok, released.objects.changed) == (True, 2)
    assert not any(lock_of(locked, d).legal_hold for d in docs)
    assert sweep(locked, RECORDS).deleted == 2


@pytest.fixture
def records_cli(
    locked: Archive, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[[dict[str, str]], Cli]:
    """The CLI in an environment given, run by this OS user as a records manager."""
    add_user(locked, ADMIN, Actor.from_os().name, ["records_manager"])
    return lambda env: Cli(env, monkeypatch, capsys)


@pytest.mark.parametrize("locked_env", RGW, indirect=True)
def test_hold_add_says_which_objects_the_store_did_not_take(
    locked: Archive, locked_env: dict[str, str], make_scan: Any, records_cli: Callable[[dict[str, str]], Cli]
) -> None:
    kept, gone = stored(locked, make_scan), stored(locked, make_scan)
    remove_behind_ekaktes_back(locked, gone)
    cli = records_cli(locked_env)
    code, out, err = cli("hold", "add", "--case", CASE, "--reason", "SG Köln S 12 AS 345/25")
    assert code == 12 and out.startswith("hold 1 on case")
    assert str(gone) in err and "legal hold" in err and "in force in ekakte" in err
    assert lock_of(locked, kept).legal_hold  # the others got theirs
    code, out, _ = cli("hold", "list")
    assert code == 0 and "active" in out  # in force in ekakte all the same


def test_verify_compares_each_objects_lock_with_its_due_date_and_holds(
    locked: Archive, make_scan: Any
) -> None:
    held, told = stored(locked, make_scan, case=OTHER_CASE), stored(locked, make_scan, case=OTHER_CASE)
    add_hold(locked, RECORDS, document_id=held, reason="Widerspruch W-2026-0815")
    close_case(locked, RECORDS, OTHER_CASE, date.today())
    first = verify(locked, ADMIN)
    assert first.ok and first.locks_checked

    # Behind ekakte's back: the legal hold taken off; and a later due date recorded as told that the
    # store never got (as a lost answer would leave it).
    client(locked).disable_object_legal_hold(bucket(locked), key_of(locked, held))
    later = date(2099, 12, 31)
    with locked.transaction() as session:
        session.execute(update(Document).where(Document.id == told).values(due_on=later, locked_until=later))
    report = verify(locked, ADMIN, sample=10)
    assert not report.ok and report.locks_checked
    problems = {p.document_id: p.detail for p in report.problems if p.kind == "lock"}
    assert set(problems) == {str(held), str(told)}
    assert "no legal hold" in problems[str(held)]
    assert "ekakte told the store to keep it until 2100-01-01" in problems[str(told)]
    assert recorded(locked, held)[1] is False and recorded(locked, told)[0] is None  # sent again next

    assert sweep(locked, RECORDS).complete  # its first step tells the store again
    assert lock_of(locked, held).legal_hold
    assert verify(locked, ADMIN).ok


@pytest.mark.parametrize("locked_env", RGW, indirect=True)
def test_a_corrupt_upload_the_store_must_keep_is_named_and_gc_removes_such_objects_once_free(
    locked: Archive, locked_env: dict[str, str]
) -> None:
    from minio.commonconfig import COMPLIANCE, GOVERNANCE
    from minio.objectlockconfig import DAYS, ObjectLockConfig
    from minio.retention import Retention

    mode = COMPLIANCE if locked_env["EKAKTE_S3_LOCK_MODE"] == "COMPLIANCE" else GOVERNANCE
    # An object no document refers to, locked for a few seconds (as a crashed import under a bucket's
    # default retention would leave one, only sooner free): gc keeps it while the lock lasts.
    brief = f"{ORIGINALS_PREFIX}00/00/{uuid.uuid4()}"
    free_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)
    client(locked).put_object(bucket(locked), brief, io.BytesIO(b"x"), 1, retention=Retention(mode, free_at))
    first = gc(locked, ADMIN, grace_hours=0)
    assert first.removed == [] and [o.key for o, _ in first.kept_locked] == [brief]
    assert "retained until" in first.kept_locked[0][1]

    # RadosGW ignores a wrong x-amz-checksum-sha256: ekakte's own hash finds it, and under the bucket's
    # default retention the store refuses to delete what it took.
    client(locked).set_object_lock_config(bucket(locked), ObjectLockConfig(mode, 1, DAYS))
    corrupt = f"{ORIGINALS_PREFIX}ff/ff/{uuid.uuid4()}"
    with pytest.raises(ChecksumMismatch, match="keeps the wrong bytes under its lock"):
        locked.store.put(corrupt, io.BytesIO(b"changed"), 7, hashlib.sha256(b"scanned").hexdigest(), "x")
    assert locked.store.stat(corrupt) is not None
    report = verify(locked, ADMIN)
    unreferenced = {p.key: p.detail for p in report.problems if p.kind == "unreferenced"}
    assert corrupt in unreferenced and "retained until" in unreferenced[corrupt] and report.ok  # not damage

    time.sleep(max(0.0, (free_at - datetime.now(UTC)).total_seconds()) + 1)
    later = gc(locked, ADMIN, grace_hours=0)
    assert [o.key for o in later.removed] == [brief] and [o.key for o, _ in later.kept_locked] == [corrupt]
    assert versions(locked, brief) == []


def test_commands_that_change_locks_end_with_exit_8_when_the_store_cannot_be_reached(
    locked: Archive, locked_env: dict[str, str], make_scan: Any, records_cli: Callable[[dict[str, str]], Cli]
) -> None:
    from tests.services import free_port

    stored(locked, make_scan)
    away = {**locked_env, "EKAKTE_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}"}  # nothing listens
    cli = records_cli(away)
    code, out, err = cli("hold", "add", "--case", CASE, "--reason", "SG Köln S 12 AS 345/25")
    assert code == 8 and out.startswith("hold 1 on case") and "could not be told" in err
    code, _, err = cli("case", "close", CASE, "--date", date.today().isoformat())
    assert code == 8 and "in force in ekakte" in err
    code, out, _ = cli("hold", "list")
    assert code == 0 and "active" in out  # in force in ekakte all the same
    assert sweep(locked, RECORDS).complete  # the store back: the sweep tells it first
    assert verify(locked, ADMIN).ok


@pytest.mark.parametrize("crash_after", ["mark", "objects", "purge"])
def test_a_sweep_killed_between_its_steps_on_an_object_lock_bucket(
    locked: Archive, make_scan: Any, crash_after: str
) -> None:
    kept = stored(locked, make_scan, case=OTHER_CASE)  # open case: retained by nothing, due never
    doomed = [stored(locked, make_scan) for _ in range(2)]
    close_case(locked, RECORDS, CASE, date(2015, 3, 10))  # due 2025-12-31: the locks ran out 2026-01-01

    def crash(step: str, _ids: list[uuid.UUID]) -> None:
        if step == crash_after:
            raise Crash(step)

    with pytest.raises(Crash):
        sweep(locked, RECORDS, as_of=SWEEP_DAY, on_step=crash)
    assert verify(locked, ADMIN).ok
    report = sweep(locked, RECORDS, as_of=SWEEP_DAY)
    assert report.complete and not any(visible(locked, d) for d in doomed) and visible(locked, kept)
    assert sorted(e.document_id for e in protocol(locked, RECORDS)) == sorted(str(d) for d in doomed)
    final = verify(locked, ADMIN)
    assert final.ok and final.count("unreferenced") == 0
