"""The OCR queue: claim pending pages under a lease, read them (one tesseract per core), record the results.

Any number of workers, on any number of machines, share the queue through the database:
  - a claim is one UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) that sets the lease, so two
    workers never claim the same page (SQLite: its single writer does the same);
  - a worker renews the leases of the pages it holds while it lives; a killed worker's leases expire
    and its pages are claimed again (each claim counts an attempt; after `ocr_max_attempts` a page is
    left `failed` with its reason);
  - a result is recorded only by the holder of the page's lease, so each page is recorded once;
  - pages are claimed in turns of `TURN_PAGES` pages per document: every pending document's first turn
    before any document's second, so a small document waits for one turn of each document ahead of it,
    not for all the pages of a huge one.
The original is fetched once per document and worker, verified against its SHA-256, into the worker's
temporary folder (`ekakte-ocr-<pid>-…`), and opened once for all the pages read from it; it is deleted
once its last page was claimed and read, or when more than `IDLE_ORIGINALS` others wait for their next
turn. A killed worker's folder is removed by the next worker started on the same machine.

Pages are read by threads, one per tesseract running at a time: tesseract is a process of its own, so a
thread only takes the page's image out of the original and waits for tesseract (without the GIL). What
reads the images is an OcrEngine (ekakte.ocr.base), tesseract unless the caller passes another. Worker
processes would each hold a Python with pypdf, Pillow and PDFium (~75 MiB) for nothing more; see
docs/benchmarks.md, "peak RSS".
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import re
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, literal_column, or_, select, update
from sqlalchemy.orm import Session

from ekakte.access import About, Action, Decision, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import Settings
from ekakte.db.models import Document, DocumentState, OcrState, Page, table_of
from ekakte.errors import STOPS_A_BATCH, EkakteError, IntegrityError
from ekakte.ocr.base import OcrEngine
from ekakte.ocr.engine import TesseractEngine
from ekakte.ocr.pages import Original
from ekakte.ocr.rendition import MADE, finish_renditions, make_rendition
from ekakte.ocr.task import CODE_PAGES, DONE, ERROR, SKIPPED, PageJob, PageOutcome, read_page
from ekakte.storage import read_verified

log = logging.getLogger(__name__)

# Pages of one document claimed before the pages of the next document's turn come first.
TURN_PAGES = 20
# The claim's turn, as SQL literals: the partial index ix_pages_pending_turns (migration 0012) is over
# exactly this expression, and neither planner matches it against bound parameters. Both dialects divide
# integers to an integer.
_TURN: ColumnElement[int] = literal_column(f"(pages.number - 1) / {TURN_PAGES}")
# Originals kept (copied and opened) between their turns, besides those being read.
IDLE_ORIGINALS = 4
# The worker's temporary folder: the pid tells a later worker on the same machine whether it is left over.
_WORKDIR_PREFIX = "ekakte-ocr-"
_WORKDIR_NAME = re.compile(re.escape(_WORKDIR_PREFIX) + r"(\d+)-[^/]+")


@dataclass
class OcrReport:
    worker: str
    done: int = 0
    skipped: int = 0
    failed: int = 0  # pages given up on in this run (after their last attempt)
    retried: int = 0  # attempts that failed and will be tried again
    lost: int = 0  # results not recorded because another worker had taken the page over
    renditions: int = 0  # searchable PDFs made (ekakte.ocr.rendition)
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return self.done + self.skipped + self.failed

    def summary(self) -> str:
        rate = f", {self.done / self.seconds:.2f} pages/s" if self.seconds and self.done else ""
        pages = "page" if self.done == 1 else "pages"
        text = f"OCR: {self.done} {pages} read, {self.skipped} skipped, {self.failed} failed"
        if self.retried:
            text += f", {self.retried} to be retried"
        if self.lost:
            text += f", {self.lost} taken over by another worker"
        if self.renditions:
            text += f", {self.renditions} searchable PDF{'' if self.renditions == 1 else 's'} made"
        return text + f" in {self.seconds:.1f} s{rate}"

    def as_json(self) -> dict[str, Any]:
        return {
            "worker": self.worker,
            "done": self.done,
            "skipped": self.skipped,
            "failed": self.failed,
            "retried": self.retried,
            "lost": self.lost,
            "renditions": self.renditions,
            "seconds": round(self.seconds, 3),
            "errors": self.errors,
        }


@dataclass
class _Claim:
    page_id: int
    document_id: uuid.UUID
    number: int


@dataclass
class _Original:
    source: Original
    page_count: int | None
    holders: int = 0  # claimed pages being read from it
    last_page_claimed: bool = False  # its pages are (as good as) all read: not kept once idle


def run_ocr(
    archive: Archive,
    actor: Actor,
    *,
    workers: int | None = None,
    once: bool = True,
    document_ids: Iterable[uuid.UUID] | None = None,
    poll_seconds: float = 5.0,
    progress: Callable[[PageOutcome], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    engine: OcrEngine | None = None,
) -> OcrReport:
    """Read pending pages until none are left (`once`) or until `should_stop()` (a long-running worker).

    `document_ids` limits the work to those documents (`ekakte import --ocr`). `engine` reads the page
    images; by default tesseract as the settings say (TesseractEngine.from_settings). Raises NotPermitted
    unless the actor may run OCR, ConfigError when the engine or a language model is missing.
    """
    settings = archive.settings
    decided(archive, actor, Action.OCR_WORK, "ocr work", about=About(detail="ocr work"))
    engine = engine or TesseractEngine.from_settings(settings)
    check_ready(settings, engine)

    processes = workers or settings.ocr_workers or os.cpu_count() or 1
    queue = _Queue(archive, f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}", document_ids)
    report = OcrReport(queue.worker)
    started = time.monotonic()
    remove_leftover_workdirs()
    workdir = Path(tempfile.mkdtemp(prefix=f"{_WORKDIR_PREFIX}{os.getpid()}-"))
    # What a killed worker (or a failed making) left half-made: at the start, and in a long-running
    # worker again whenever it is idle, at most once per lease.
    finish_at = time.monotonic()
    originals: dict[uuid.UUID, _Original] = {}
    inflight: dict[cf.Future[PageOutcome], _Claim] = {}
    pool = cf.ThreadPoolExecutor(processes, thread_name_prefix="ekakte-ocr")
    try:
        renew_at = time.monotonic() + settings.ocr_lease_seconds / 3
        while True:
            stopping = should_stop()
            if stopping:
                # Pages not started yet go back to the queue at once; the ones being read are finished.
                queue.release([inflight.pop(f).page_id for f in list(inflight) if f.cancel()])
            # Keep every tesseract busy with one page and one waiting; claim no more than that, so
            # other workers get the rest.
            while len(inflight) < 2 * processes and not stopping:
                claims = queue.claim(2 * processes - len(inflight))
                if not claims:
                    break
                for index, claim in enumerate(claims):
                    try:
                        job = _job(archive, queue, claim, originals, workdir, report)
                    except STOPS_A_BATCH:
                        # The object store or database is away: no page's fault. Give the claimed pages
                        # back (their attempts do not count) and stop with the error.
                        queue.release([c.page_id for c in claims[index:]])
                        raise
                    if job is not None:
                        inflight[pool.submit(read_page, job, engine)] = claim
            if not inflight and not stopping and settings.searchable_pdf and time.monotonic() >= finish_at:
                report.renditions += finish_renditions(archive, document_ids=queue.document_ids)
                finish_at = time.monotonic() + settings.ocr_lease_seconds
            if not inflight:
                if once or stopping:
                    break
                time.sleep(poll_seconds)
                continue
            finished, _ = cf.wait(inflight, timeout=5.0, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                claim = inflight.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:  # read_page turns every failure into an outcome: a bug
                    outcome = PageOutcome(claim.page_id, ERROR, reason=f"OCR failed: {exc!r}"[:500])
                if outcome.status == ERROR and (stopping or should_stop()):
                    # A stop sent to the whole process group (Ctrl-C, `kill -TERM -PGID`) ends the
                    # tesseract runs too: the page was not tried through, it goes back uncounted.
                    _release(originals, claim)
                    queue.release([claim.page_id])
                    continue
                last = queue.record(claim, outcome, report)
                if last and settings.searchable_pdf:
                    _render(archive, claim.document_id, originals, workdir, report)
                _release(originals, claim)
                if progress is not None:
                    progress(outcome)
            if time.monotonic() >= renew_at and inflight:
                queue.renew([c.page_id for c in inflight.values()])
                renew_at = time.monotonic() + settings.ocr_lease_seconds / 3
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        queue.release([c.page_id for c in inflight.values()])
        for original in originals.values():
            original.source.close()
        shutil.rmtree(workdir, ignore_errors=True)
        report.seconds = time.monotonic() - started
    return report


def retry_failed(archive: Archive, actor: Actor, document_id: uuid.UUID | None = None) -> int:
    """Queue the `failed` pages again (of one document, or of all) with their attempts counted from 0:
    for after their cause was mended (a language model installed, an original restored). Pages of
    documents being deleted stay as they are; `skipped` pages can never be read and stay too.

    Audited once (action `ocr.retry`), with the number of pages. Returns that number; raises
    NotPermitted unless the actor may run OCR.
    """
    stored = select(Document.id).where(Document.state == DocumentState.STORED)
    if document_id is not None:
        stored = stored.where(Document.id == document_id)

    def queue_again(session: Session, _decision: Decision) -> int:
        return len(
            session.execute(
                update(Page)
                .where(Page.ocr_state == OcrState.FAILED, Page.document_id.in_(stored.scalar_subquery()))
                .values(
                    ocr_state=OcrState.PENDING, attempts=0, reason=None, lease_owner=None, lease_expires=None
                )
                .returning(Page.id)
                .execution_options(synchronize_session=False)
            ).all()
        )

    about = About(document_id=str(document_id) if document_id else None, detail="ocr retry")
    queued = decided(
        archive, actor, Action.OCR_RETRY, "ocr retry", queue_again, about=about,
        detail_after=lambda n: f"ocr retry: {n} failed page(s) queued again",
    )  # fmt: skip
    return queued


def check_ready(settings: Settings, engine: OcrEngine | None = None) -> None:
    """ConfigError unless the engine (by default the configured tesseract) and its language models are
    there; `import --ocr` asks before it stores anything, so that a missing tesseract is said up front."""
    (engine or TesseractEngine.from_settings(settings)).check(settings.ocr_languages)


def _job(
    archive: Archive,
    queue: _Queue,
    claim: _Claim,
    originals: dict[uuid.UUID, _Original],
    workdir: Path,
    report: OcrReport,
) -> PageJob | None:
    """The job for a claimed page; fetches the original on first use. None if it cannot be read."""
    original = originals.get(claim.document_id)
    if original is None:
        try:
            original = _fetch(archive, claim.document_id, workdir)
        except IntegrityError as exc:
            # This document's original is missing or corrupt (`ekakte verify` reports it too): its
            # pages fail after their attempts, with the reason.
            queue.record(claim, PageOutcome(claim.page_id, ERROR, reason=str(exc)[:500]), report)
            return None
        if original is None:  # being deleted by the retention sweep: its pages go with it
            return None
    else:
        del originals[claim.document_id]  # put back last: the most recently used
    originals[claim.document_id] = original
    original.holders += 1
    if claim.number == original.page_count:
        original.last_page_claimed = True
    settings = archive.settings
    source = original.source
    return PageJob(
        claim.page_id, claim.number, source.media_type, str(source.path), settings.ocr_languages,
        source=source, workdir=str(workdir), codes=claim.number <= CODE_PAGES, layer=settings.searchable_pdf,
    )  # fmt: skip


def _render(
    archive: Archive,
    document_id: uuid.UUID,
    originals: dict[uuid.UUID, _Original],
    workdir: Path,
    report: OcrReport,
) -> None:
    """The document's last page was recorded by this worker: make its searchable PDF, from the original
    this worker has at hand. A failure leaves the layers for the next run (finish_renditions)."""
    original = originals.get(document_id)
    try:
        made = make_rendition(archive, document_id, original.source.path if original else None, workdir)
    except STOPS_A_BATCH:
        raise
    except Exception as exc:  # a rendition that cannot be made is no page's failure
        log.warning("could not make the searchable PDF of document %s: %s", document_id, exc)
        report.errors.append(f"document {document_id}: no searchable PDF: {str(exc)[:300]}")
        return
    report.renditions += made == MADE


def _fetch(archive: Archive, document_id: uuid.UUID, workdir: Path) -> _Original | None:
    with archive.reading() as session:
        doc = session.get(Document, document_id)
        if doc is None or doc.state != DocumentState.STORED:
            return None
        key, sha256, size, media_type = doc.storage_key, doc.sha256, doc.size_bytes, doc.media_type
        page_count = doc.page_count
    path = workdir / str(document_id)
    with path.open("wb") as out:
        for chunk in read_verified(archive.store, key, sha256, size):
            out.write(chunk)
    return _Original(Original(path, media_type), page_count)


def _release(originals: dict[uuid.UUID, _Original], claim: _Claim) -> None:
    """One page of the claim's document read: delete the original once it is not needed any more.

    An original whose last page was not claimed yet stays (idle) for the document's next turn, up to
    IDLE_ORIGINALS of them, the least recently used going first: fetching a large original again for
    every turn would cost more than the disk it takes meanwhile.
    """
    original = originals.get(claim.document_id)
    if original is None:
        return
    original.holders -= 1
    if original.holders <= 0 and original.last_page_claimed:
        _drop(originals, claim.document_id)
    idle = [doc for doc, o in originals.items() if o.holders <= 0]  # in order of last use
    for document_id in idle[: max(0, len(idle) - IDLE_ORIGINALS)]:
        _drop(originals, document_id)


def _drop(originals: dict[uuid.UUID, _Original], document_id: uuid.UUID) -> None:
    original = originals.pop(document_id)
    original.source.close()
    original.source.path.unlink(missing_ok=True)


def _last(session: Session, document_id: uuid.UUID) -> bool:
    """In the transaction that recorded a page of the document: whether no page of it is pending now.

    The document's row is locked first, after the page's: the transactions recording its pages pass here
    one after the other, and each counts what those before it committed (READ COMMITTED: every statement
    sees what was committed when it began). Of two workers recording the last two pages at once, the
    first still counts the second's page as pending; the second counts none: exactly one of them is
    told. (SQLite has one writer at a time anyway.) Pages are locked before the document here as in the
    sweep, which deletes a document's pages before its row.
    """
    session.execute(select(Document.id).where(Document.id == document_id).with_for_update())
    pending = session.scalar(
        select(Page.id).where(Page.document_id == document_id, Page.ocr_state == OcrState.PENDING).limit(1)
    )
    return pending is None


def remove_leftover_workdirs(tmp: Path | None = None) -> list[Path]:
    """Remove the temporary folders of OCR workers that are no longer running on this machine.

    A killed worker (SIGKILL, power loss) cannot delete its copies of the originals it was reading:
    health documents among them. Folders are told by their name, `ekakte-ocr-<pid>-…`: one whose pid
    is no process on this machine any more is removed; one of a live process (another worker, or a
    process that has since got the dead one's pid) stays, as do folders of other OS accounts and
    anything that is not a plain folder. Returns the folders removed.
    """
    tmp = Path(tempfile.gettempdir()) if tmp is None else tmp
    removed: list[Path] = []
    try:
        entries = list(os.scandir(tmp))
    except OSError:
        return removed
    for entry in entries:
        match = _WORKDIR_NAME.fullmatch(entry.name)
        if match is None or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_uid != os.getuid() or _alive(int(match[1])):
                continue
            shutil.rmtree(entry.path)  # on Linux through directory descriptors: symlinks are not followed
        except FileNotFoundError:  # another worker starting at the same time removed it first
            continue
        except OSError as exc:
            log.warning("could not remove the leftover OCR folder %s: %s", entry.path, exc)
            continue
        removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another account
        return True
    except (OverflowError, ValueError):  # not a pid this system can have
        return False
    return True


_PAGES = table_of(Page)


class _Queue:
    """The pages table as a work queue, for one worker."""

    def __init__(self, archive: Archive, worker: str, document_ids: Iterable[uuid.UUID] | None) -> None:
        self.archive = archive
        self.worker = worker
        self.document_ids = list(document_ids) if document_ids is not None else None
        self.lease = timedelta(seconds=archive.settings.ocr_lease_seconds)
        self.max_attempts = archive.settings.ocr_max_attempts

    def _claimable(self, now: datetime) -> Any:
        condition = and_(
            Page.ocr_state == OcrState.PENDING,
            or_(Page.lease_expires.is_(None), Page.lease_expires < now),
        )
        if self.document_ids is not None:
            condition = and_(condition, Page.document_id.in_(self.document_ids))
        return condition

    def candidates(self, now: datetime, limit: int) -> Select[int]:
        """The claim's choice: the next `limit` claimable pages in turns, read from the partial index
        ix_pages_pending_turns (migration 0012) in that order, skipping those another worker is claiming."""
        return (
            select(Page.id)
            .where(self._claimable(now))
            .order_by(_TURN, Page.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

    def claim(self, limit: int) -> list[_Claim]:
        if self.document_ids == []:
            return []
        now = datetime.now(UTC)
        with self.archive.transaction() as session:
            # Pages whose every attempt ended with a dead worker (or an error) are given up first.
            session.execute(
                update(Page)
                .where(self._claimable(now), Page.attempts >= self.max_attempts)
                .values(
                    ocr_state=OcrState.FAILED,
                    reason=f"gave up after {self.max_attempts} attempts",
                    lease_owner=None,
                    lease_expires=None,
                    ocr_at=now,
                )
            )
            # In turns: the first TURN_PAGES pages of every pending document, then the next ones, …
            # Within a turn in id order, i.e. a document's pages together (its original is fetched
            # once per turn at most). Both dialects divide integers to an integer.
            candidates = self.candidates(now, limit)
            rows = session.execute(
                update(Page)
                .where(Page.id.in_(candidates.scalar_subquery()))
                .values(lease_owner=self.worker, lease_expires=now + self.lease, attempts=Page.attempts + 1)
                .returning(Page.id, Page.document_id, Page.number)
                .execution_options(synchronize_session=False)
            ).all()
        return sorted((_Claim(r[0], r[1], r[2]) for r in rows), key=lambda c: c.page_id)

    def record(self, claim: _Claim, outcome: PageOutcome, report: OcrReport) -> bool:
        """Write a page's result, if this worker still holds its lease. True when it was the document's
        last page to be read: this worker then makes the document's rendition (exactly one worker is
        told so: see `_last`)."""
        now = datetime.now(UTC)
        mine = and_(
            Page.id == outcome.page_id, Page.lease_owner == self.worker, Page.ocr_state == OcrState.PENDING
        )
        if outcome.status in (DONE, SKIPPED):
            values: dict[str, Any] = {
                "ocr_state": OcrState.DONE if outcome.status == DONE else OcrState.SKIPPED,
                "text": outcome.text,
                "confidence": outcome.confidence,
                "engine": outcome.engine,
                "language": outcome.language,
                "rotation": outcome.rotation,
                "reason": outcome.reason,
                "codes": outcome.codes,
                "layer": outcome.layer,
                "blank": outcome.blank,
            }
        else:
            values = {
                "ocr_state": case(
                    (Page.attempts >= self.max_attempts, OcrState.FAILED), else_=OcrState.PENDING
                ),
                "reason": outcome.reason,
            }
        with self.archive.transaction() as session:
            row = session.execute(
                update(Page)
                .where(mine)
                .values(**values, lease_owner=None, lease_expires=None, ocr_at=now)
                .returning(Page.ocr_state)
                .execution_options(synchronize_session=False)
            ).first()
            last = (
                self.archive.settings.searchable_pdf
                and row is not None
                and row[0] != OcrState.PENDING
                and _last(session, claim.document_id)
            )
        if row is None:
            report.lost += 1
        elif row[0] == OcrState.DONE:
            report.done += 1
        elif row[0] == OcrState.SKIPPED:
            report.skipped += 1
        elif row[0] == OcrState.FAILED:
            report.failed += 1
            report.errors.append(f"document {claim.document_id} page {claim.number}: {outcome.reason}")
        else:
            report.retried += 1
        return last

    def renew(self, page_ids: list[int]) -> None:
        with self.archive.transaction() as session:
            session.execute(
                _PAGES.update()
                .where(_PAGES.c.id.in_(bindparam("ids", expanding=True)))
                .where(_PAGES.c.lease_owner == self.worker)
                .values(lease_expires=datetime.now(UTC) + self.lease),
                {"ids": page_ids},
            )

    def release(self, page_ids: list[int]) -> None:
        """Give back pages at once (on a stop, Ctrl-C, or an outage), instead of letting leases expire.
        The claim's attempt is taken back: the page was not (completely) tried."""
        if not page_ids:
            return
        try:
            with self.archive.transaction() as session:
                session.execute(
                    _PAGES.update()
                    .where(_PAGES.c.id.in_(bindparam("ids", expanding=True)))
                    .where(_PAGES.c.lease_owner == self.worker)
                    .values(lease_owner=None, lease_expires=None, attempts=_PAGES.c.attempts - 1),
                    {"ids": page_ids},
                )
        except EkakteError as exc:  # the leases expire by themselves
            log.warning("could not release OCR leases: %s", exc)
