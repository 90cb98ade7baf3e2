"""SIGKILL at random moments, on both stacks: an import batch, an OCR worker, a retention sweep.

Each kind runs FAULT_TRIALS seeded trials (EKAKTE_FAULT_TRIALS, default 20). A trial starts the real
CLI process, kills its whole process group with SIGKILL after a random delay drawn between the CLI's
start-up time and the length of an uninterrupted run (measured first), then checks:
  - `verify`: no object missing or corrupt (unreferenced objects are allowed: `gc` removes them);
  - everything the killed process reported as done (a file moved to done/, a page `done`, a protocol
    entry) is there and intact;
  - a re-run finishes the work, exactly once: no duplicate document, page read twice, or protocol entry.
Each test prints how many kills landed in the middle of the work (see docs/reliability.md).
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ekakte import audit
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.db.models import DeletionRecord, Document, Page
from ekakte.documents import export_original
from ekakte.hotfolder import import_directory
from ekakte.ingest import DocumentMeta, import_document
from ekakte.integrity import gc, verify
from ekakte.ocr import engine
from ekakte.ocr.worker import run_ocr
from ekakte.principals import add_user
from ekakte.retention.schedule import close_case, load_rules
from ekakte.retention.sweep import sweep
from tests.conftest import ADMIN, CASE, OPERATOR, READER, TEN_YEARS_RULES, ekakte_process, scans

FAULT_TRIALS = int(os.environ.get("EKAKTE_FAULT_TRIALS", "20"))
SWEEP_DAY = date(2026, 1, 1)


def pdf(seed: int, pages: int = 1) -> bytes:
    return scans.pdf_bytes([[f"Seite {i + 1}", f"Muster {seed}"] for i in range(pages)], dpi=50, seed=seed)


def me(archive: Archive) -> Actor:
    """The CLI acts as the OS user of this test process: it may import, OCR and sweep."""
    actor = Actor.from_os()
    add_user(archive, ADMIN, actor.name, ["scan_operator", "service", "records_manager"])
    return actor


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    # Its own process group: the kill takes the OCR pool's processes too.
    return ekakte_process({**env, "PYTHONUNBUFFERED": "1"}, *args, start_new_session=True)


def timed_run(env: dict[str, str], *args: str) -> float:
    began = time.monotonic()
    proc = start(env, *args)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode in (0, 12), (out, err)
    return time.monotonic() - began


def kill_after(proc: subprocess.Popen[str], delay: float) -> str:
    time.sleep(delay)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    out, _err = proc.communicate(timeout=60)
    return out


def delays(env: dict[str, str], seed: int, full_run: float) -> list[float]:
    """Kill delays: from the CLI's start-up time (libraries loaded, database opened) to just past an
    uninterrupted run; a kill before the start-up is over would only test that nothing had begun."""
    startup = timed_run(env, "db", "status")  # the libraries loaded and the database opened
    rng = random.Random(seed)
    print(f"\nstart-up {startup:.2f} s, whole run {full_run:.2f} s", file=sys.stderr)
    return [rng.uniform(startup, 1.02 * full_run) for _ in range(FAULT_TRIALS)]


def no_damage(archive: Archive) -> None:
    """Nothing missing, nothing of the wrong size or digest, the audit chain whole. (Sizes and recorded
    digests only, to keep trials quick: every test ends with a full verify that re-reads each object.)"""
    report = verify(archive, ADMIN, checksums=False)
    assert report.ok, report.problems
    assert audit.verify_chain(archive.reading).ok


def report_hits(kind: str, hits: int) -> None:
    print(f"\n{kind}: {FAULT_TRIALS} SIGKILLs, {hits} in the middle of the work", file=sys.stderr)
    # Trials that all landed before or after the work would test nothing (a tenth: the sweep of a
    # trial takes less time than the CLI takes to start, so many kills land before it begins).
    # (With a handful of trials, for a quick look, all may land outside it by chance: not judged.)
    if FAULT_TRIALS >= 10:
        assert hits >= FAULT_TRIALS // 10, f"only {hits} kills landed mid-work"


def test_killed_imports_lose_nothing_and_a_rerun_stores_each_file_once(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    files_per_batch = 30
    with Archive.open(load_settings(stack_env)) as archive:
        actor = me(archive)

        def batch(trial: int) -> tuple[Path, dict[str, str]]:
            inbox = tmp_path / f"inbox-{trial}"
            inbox.mkdir()
            digests = {}
            for i in range(files_per_batch):
                data = pdf(10_000 * (trial + 1) + i)
                (inbox / f"scan-{i:02d}.pdf").write_bytes(data)
                digests[f"scan-{i:02d}.pdf"] = hashlib.sha256(data).hexdigest()
            return inbox, digests

        args = ("import", "--batch", "--allow-root", "--case", CASE, "--type", "Antrag")
        inbox, _ = batch(-1)
        full = timed_run(stack_env, *args[:2], str(inbox), *args[2:])
        hits = 0
        for trial, delay in enumerate(delays(stack_env, 1, full)):
            inbox, digests = batch(trial)
            kill_after(start(stack_env, *args[:2], str(inbox), *args[2:]), delay)
            no_damage(archive)
            done = sorted(p.name for p in (inbox / "done").glob("*.pdf")) if (inbox / "done").exists() else []
            hits += 0 < len(done) < files_per_batch
            # What the station was told is stored (moved to done/) is stored, byte for byte.
            for name in done:
                doc = _document_with(archive, digests[name])
                assert doc is not None, f"trial {trial}: {name} in done/ but not stored"
                target = tmp_path / f"back-{trial}-{name}"
                export_original(archive, READER, doc, target)
                assert hashlib.sha256(target.read_bytes()).hexdigest() == digests[name]
            rerun = import_directory(
                archive, actor, inbox, defaults=DocumentMeta(CASE, "Antrag"), allow_root=True
            )
            assert not rerun.rejected and rerun.aborted is None
            assert sorted(p.name for p in (inbox / "done").glob("*.pdf")) == sorted(digests)
            assert [p for p in inbox.iterdir() if p.is_file()] == []
            for digest in digests.values():
                assert _count_with(archive, digest) == 1
        gc(archive, ADMIN, grace_hours=0)  # what killed imports left between object and row
        assert verify(archive, ADMIN).problems == []
    report_hits("import", hits)


def _document_with(archive: Archive, sha256: str) -> uuid.UUID | None:
    with archive.reading() as session:
        return session.scalar(select(Document.id).where(Document.sha256 == sha256))


def _count_with(archive: Archive, sha256: str) -> int:
    with archive.reading() as session:
        return int(
            session.scalar(select(func.count()).select_from(Document).where(Document.sha256 == sha256))
        )


def _pages(archive: Archive, docs: list[uuid.UUID]) -> list[Page]:
    with archive.reading() as session:
        return list(session.scalars(select(Page).where(Page.document_id.in_(docs)).order_by(Page.id)))


@pytest.mark.skipif(
    not engine.available() and os.environ.get("CI") != "true", reason="tesseract is not installed"
)
def test_killed_ocr_workers_lose_no_page_and_a_rerun_reads_each_once(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**stack_env, "EKAKTE_OCR_LEASE_SECONDS": "1"}
    with Archive.open(load_settings(env)) as archive:
        actor = me(archive)
        counter = iter(range(10**6))

        def documents(trial: int) -> list[uuid.UUID]:
            ids = []
            for i in range(2):
                path = tmp_path / f"ocr-{trial}-{i}.pdf"
                path.write_bytes(pdf(20_000 * (trial + 2) + next(counter), pages=2))
                ids.append(import_document(archive, OPERATOR, path, DocumentMeta(CASE, "Antrag")).document_id)
            return ids

        work = ("ocr", "work", "--once", "--workers", "2")
        documents(-1)
        full = timed_run(env, *work)
        hits = 0
        for trial, delay in enumerate(delays(env, 2, full)):
            docs = documents(trial)
            kill_after(start(env, *work), delay)
            after_kill = _pages(archive, docs)
            done_before = {p.id for p in after_kill if p.ocr_state == "done"}
            hits += 0 < len(done_before) < len(after_kill) or any(p.lease_owner for p in after_kill)
            assert all(p.ocr_state in ("pending", "done") for p in after_kill)
            no_damage(archive)
            time.sleep(1.1)  # the dead worker's leases run out
            run_ocr(archive, actor, document_ids=docs)
            pages = _pages(archive, docs)
            assert [p.ocr_state for p in pages] == ["done"] * len(pages), [
                (p.ocr_state, p.reason) for p in pages
            ]
            # Recorded before the kill: not read again. Killed mid-page: read once more, no more.
            assert all(p.attempts == 1 for p in pages if p.id in done_before)
            assert all(p.attempts <= 2 and p.lease_owner is None for p in pages)
        assert verify(archive, ADMIN).ok
    report_hits("OCR worker", hits)


def test_killed_sweeps_delete_each_due_document_once_with_one_protocol_entry(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    per_trial = 80
    with Archive.open(load_settings(stack_env)) as archive:
        actor = me(archive)
        rules = tmp_path / "rules.toml"
        rules.write_text(TEN_YEARS_RULES)
        load_rules(archive, actor, rules)
        cases: list[tuple[str, list[uuid.UUID]]] = []
        for trial in range(-1, FAULT_TRIALS):
            case = f"{90_000 + trial + 1:05d}BG0000001"
            ids = []
            for i in range(per_trial):
                path = tmp_path / f"due-{trial}-{i}.pdf"
                path.write_bytes(pdf(30_000 * (trial + 2) + i))
                meta = DocumentMeta(case, "Antrag", date(2014, 5, 1))
                ids.append(import_document(archive, OPERATOR, path, meta).document_id)
            cases.append((case, ids))
        keys = _keys(archive)

        args = ("retention", "sweep", "--as-of", SWEEP_DAY.isoformat())
        close_case(archive, actor, cases[0][0], date(2015, 3, 10))
        full = timed_run(stack_env, *args)
        hits = 0
        for trial, delay in enumerate(delays(stack_env, 3, full)):
            case, ids = cases[trial + 1]
            close_case(archive, actor, case, date(2015, 3, 10))
            if trial % 2 == 0:
                kill_after(start(stack_env, *args), delay)
            else:
                # The deletions themselves take a small part of a run (a local store: tens of ms out of
                # a second and a half), so half the kills are aimed: once the documents are marked,
                # after a seeded pause of up to 50 ms.
                kill_once_marked(archive, start(stack_env, *args), ids, (delay - full / 2) % 0.05)
            no_damage(archive)
            left = _states(archive, ids)
            protocolled = _protocolled(archive, ids)
            hits += 0 < len(left) < per_trial or "deleting" in left.values()
            # Deleted means: in the protocol, once. Not deleted yet means: still whole (verify above).
            assert set(protocolled) == set(ids) - set(left) and all(n == 1 for n in protocolled.values())
            report = sweep(archive, actor, as_of=SWEEP_DAY)
            assert report.problems == []
            assert _states(archive, ids) == {}
            assert sorted(_protocolled(archive, ids).values()) == [1] * per_trial
            for doc in ids:
                assert archive.store.stat(keys[doc]) is None
            # Nothing else was touched: the cases not closed yet keep all their documents.
            assert _stored_count(archive) == per_trial * (FAULT_TRIALS - trial - 1)
        no_damage(archive)
        assert verify(archive, ADMIN).ok
    report_hits("retention sweep", hits)


def kill_once_marked(
    archive: Archive, proc: subprocess.Popen[str], ids: list[uuid.UUID], pause: float
) -> None:
    """SIGKILL the sweep `pause` seconds after it has marked any of `ids` `deleting` (or when it ends)."""
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if "deleting" in _states(archive, ids).values():
            time.sleep(pause)
            break
        time.sleep(0.002)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)


def _stored_count(archive: Archive) -> int:
    with archive.reading() as session:
        return int(
            session.scalar(select(func.count()).select_from(Document).where(Document.state == "stored"))
        )


def _keys(archive: Archive) -> dict[uuid.UUID, str]:
    with archive.reading() as session:
        return {doc: key for doc, key in session.execute(select(Document.id, Document.storage_key))}


def _states(archive: Archive, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    with archive.reading() as session:
        rows = session.execute(select(Document.id, Document.state).where(Document.id.in_(ids)))
        return {doc: state for doc, state in rows}


def _protocolled(archive: Archive, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    wanted = {str(i): i for i in ids}
    with archive.reading() as session:
        rows = session.execute(
            select(DeletionRecord.document_id, func.count()).group_by(DeletionRecord.document_id)
        ).all()
    return {wanted[str(d)]: n for d, n in rows if str(d) in wanted}
