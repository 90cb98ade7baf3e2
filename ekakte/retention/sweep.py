"""The nightly cleanup: what is due (plan), and deleting it for real (sweep) with a Löschprotokoll entry each.

Order of a document's deletion, so that a sweep killed at any point leaves nothing visible whose object
is gone, and the next sweep finishes what it began:
  1. mark     one transaction: state stored → deleting, only if still due and under no active hold;
              from here on no reader sees the document (every read path asks for state = stored);
  2. objects  the original (and any derived object) removed from the store, all versions, in batches;
              a store that refuses (S3 Object Lock: retention not yet over) puts the document back
              to `stored`: for the store it is not yet due;
  3. purge    one transaction: the deletion-protocol entry, the audit entry, pages and the document row.
A sweep starts by finishing documents left `deleting` by an earlier one (re-checking their holds).
Two sweeps never run at once (exclusive_job: an advisory lock on PostgreSQL, a lock file on SQLite).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select, update

from ekakte import audit
from ekakte.access import About, Action, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.chunks import in_chunks
from ekakte.db.dialect import exclusive_job, insert_or_ignore
from ekakte.db.models import (
    Case,
    DeletionRecord,
    DisposalRecord,
    Document,
    DocumentState,
    LegalHold,
    Page,
    PostkorbReturn,
)
from ekakte.derived import derived_keys
from ekakte.errors import Busy, InvalidInput, StorageError
from ekakte.jsonable import AsJson
from ekakte.progress import ShouldStop, never
from ekakte.retention.disposal import OfferedAs, Releases, releases
from ekakte.retention.held import active_on, is_held
from ekakte.retention.locks import SWEEP_LOCK, lock_file, no_aussonderung_step
from ekakte.retention.protocol import archive_protocol_key, case_hash
from ekakte.retention.worm import LockOutcome, LockRefusal, sync_object_locks

BATCH = 200
PROTOCOL_KEY_FILE = "protocol.key"

Step = Callable[[str, list[uuid.UUID]], None]


# --- the plan ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanItem(AsJson):
    json_omit = frozenset({"held_by"})

    document_id: uuid.UUID
    case_number: str
    document_type: str
    received_on: date
    due_on: date
    rule: str | None
    rule_version: int | None
    held_by: tuple[tuple[int, str], ...]  # (hold id, reason) of the active holds that keep it
    # None when the archive's right to it is met (the sweep may delete it); else what it waits for.
    archive: str | None = None

    @property
    def since(self) -> date:
        """The first day a sweep may delete it."""
        return self.due_on + timedelta(days=1)

    def json_extra(self) -> dict[str, Any]:
        return {
            "deletable_since": self.since.isoformat(),
            "held_by": [{"hold": h, "reason": r} for h, r in self.held_by],
        }


def _as_of(as_of: date | None) -> date:
    return as_of or date.today()


def plan(archive: Archive, actor: Actor, *, as_of: date | None = None) -> Iterator[PlanItem]:
    """What a sweep as of `as_of` would delete (held_by empty) or hold back (held_by names the holds),
    oldest due date first. Decided (and audited) when called, before the first item is asked for;
    the items are then read in chunks, each from a short read, so a plan over millions of documents is
    neither held in memory nor one long transaction while the caller writes it out."""
    day = _as_of(as_of)
    about = About(detail=f"retention plan as of {day}")
    decided(archive, actor, Action.RETENTION, "retention plan", about=about)
    return _plan_items(archive, day)


_PLAN_CHUNK = 5000
_PLAN = (
    select(
        Document.id, Case.case_number, Document.document_type, Document.received_on, Document.due_on,
        Document.retention_rule, Document.retention_version, Document.case_id,
        DisposalRecord.state, DisposalRecord.process_id, DisposalRecord.offered_on,
    )
    .join(Case, Case.id == Document.case_id)
    .outerjoin(DisposalRecord, DisposalRecord.document_id == Document.id)  # offered to the archive?
)  # fmt: skip
_PLAN_ORDER = (Document.due_on, Document.id)


def _plan_items(archive: Archive, day: date) -> Iterator[PlanItem]:
    with archive.reading() as session:
        holds = list(session.execute(select(LegalHold).where(active_on(day))).scalars())
        rel = releases(session, archive.settings, day)
    by_case: dict[int, list[tuple[int, str]]] = {}
    by_doc: dict[uuid.UUID, list[tuple[int, str]]] = {}
    for h in holds:
        if h.case_id is not None:
            by_case.setdefault(h.case_id, []).append((h.id, h.reason))
        if h.document_id is not None:
            by_doc.setdefault(h.document_id, []).append((h.id, h.reason))
    for rows in in_chunks(archive.reading, _PLAN.where(Document.due_on < day), _PLAN_ORDER, _PLAN_CHUNK):
        for doc_id, number, doc_type, received, due, rule, version, case_id, *offered in rows:
            held = tuple(by_doc.get(doc_id, []) + by_case.get(case_id, []))
            assert due is not None  # the WHERE asks for due_on < day
            record = OfferedAs(*offered) if offered[0] is not None else None
            waits = rel.waits_for(rule, version, record)
            yield PlanItem(doc_id, number, doc_type, received, due, rule, version, held, waits)


# --- the sweep -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeptByStore(AsJson):
    """A due document the store refused to delete (Object Lock): for the store it is not yet due."""

    document_id: uuid.UUID
    reason: str  # what the store says protects it, e.g. "retained until 2031-01-01 00:00 UTC (COMPLIANCE)"


@dataclass
class SweepReport:
    sweep_id: str
    as_of: date
    dry_run: bool = False
    deleted: int = 0
    finished: int = 0  # of those, documents an earlier, interrupted sweep had begun
    held_back: int = 0
    awaiting_archive: int = 0  # due, not held, but the archive's right to them is not met yet
    kept: list[KeptByStore] = field(default_factory=list)
    would_delete: list[uuid.UUID] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Retain-until dates and legal holds the store did not take when the sweep told it (before deleting).
    lock_refusals: list[LockRefusal] = field(default_factory=list)
    # Documents the store refused to delete (kept, or refused for another reason): not tried again.
    refused: set[uuid.UUID] = field(default_factory=set)
    stopped: bool = False  # asked to stop: what is still due waits for the next run

    @property
    def kept_by_store(self) -> int:
        return len(self.kept)

    @property
    def complete(self) -> bool:
        return not self.problems and not self.lock_refusals

    def summary(self) -> str:
        if self.dry_run:
            text = f"retention sweep as of {self.as_of} (dry run): would delete {len(self.would_delete)}"
        else:
            text = f"retention sweep as of {self.as_of}: {self.deleted} deleted"
            if self.finished:
                text += f" ({self.finished} finished from an interrupted sweep)"
            if self.stopped:
                text += " before it was stopped"
        text += f", {self.held_back} held back, {self.kept_by_store} kept by the store's retention lock"
        if self.awaiting_archive:
            text += f", {self.awaiting_archive} awaiting the archive (retention plan says why)"
        if self.problems:
            text += f"; NOT DELETED, retried next run: {len(self.problems)} ({self.problems[0]})"
        if self.lock_refusals:
            text += (
                f"; LOCKS NOT TAKEN by the store, retried next run: {len(self.lock_refusals)}"
                f" ({self.lock_refusals[0].text()})"
            )
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "sweep_id": self.sweep_id,
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "deleted": self.deleted,
            "finished_from_earlier_sweep": self.finished,
            "held_back": self.held_back,
            "awaiting_archive": self.awaiting_archive,
            "kept_by_store": self.kept_by_store,
            "kept": [k.as_json() for k in self.kept],
            "would_delete": [str(d) for d in self.would_delete],
            "problems": self.problems,
            "lock_refusals": [r.as_json() for r in self.lock_refusals],
            "stopped": self.stopped,
        }


def sweep(
    archive: Archive,
    actor: Actor,
    *,
    as_of: date | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    on_step: Step | None = None,
    should_stop: ShouldStop = never,
) -> SweepReport:
    """Delete what is due as of `as_of` (default today) and not held; at most `limit` documents.

    `on_step(step, document_ids)` is called after each step of each batch ("mark", "objects", "purge"):
    progress for a caller, and the place where the crash tests stop a sweep between steps.
    `should_stop()` is asked before each batch is marked: a stopped sweep finishes the batch it began
    and reports `stopped`; what it left is deleted by the next run.
    Raises Busy when another sweep runs, ConfigError without a protocol key.
    """
    day = _as_of(as_of)
    if day > date.today() and not dry_run:
        raise InvalidInput(
            f"the sweep's day {day} lies in the future: only a dry run may look ahead", field="as_of"
        )
    if limit is not None and limit < 1:
        raise InvalidInput("a sweep deletes at least 1 document", field="limit")
    report = SweepReport(str(uuid.uuid4()), day, dry_run)
    decided(
        archive,
        actor,
        Action.RETENTION,
        "retention sweep",
        about=About(detail=f"retention sweep as of {day}"),
    )
    key = archive_protocol_key(archive)
    step: Step = on_step or (lambda _step, _ids: None)
    with (
        exclusive_job(archive.engine, SWEEP_LOCK, lock_file(archive, "sweep")) as alone,
        no_aussonderung_step(archive) if alone else nullcontext(),
    ):
        if not alone:
            raise Busy("another retention sweep is running; this one did nothing")
        if not dry_run:
            # What an earlier call could not tell the store (Object Lock), and holds that have ended.
            # One object's refusal is reported and leaves the rest alone; a store that cannot be reached
            # now would not delete anything either: stop before marking.
            report.lock_refusals = _told(sync_object_locks(archive))
        with archive.reading() as session:
            report.held_back = int(
                session.scalar(
                    select(func.count()).select_from(Document).where(Document.due_on < day, is_held(day))
                )
                or 0
            )
            rel = releases(session, archive.settings, day)
            report.awaiting_archive = int(
                session.scalar(
                    select(func.count())
                    .select_from(Document)
                    .where(
                        Document.state == DocumentState.STORED,
                        Document.due_on < day,
                        ~is_held(day),
                        ~rel.clause(),
                    )
                )
                or 0
            )
        if dry_run:
            with archive.reading() as session:
                report.would_delete = list(
                    session.scalars(_candidates(day, DocumentState.STORED, limit, rel))
                )
            return report
        _finish_returns(archive, actor, key, report)
        _finish_interrupted(archive, actor, key, report, step, rel)
        budget = limit
        while budget is None or budget > 0:
            if should_stop():
                report.stopped = True
                break
            size = BATCH if budget is None else min(BATCH, budget)
            marked = _mark(archive, day, size, rel, skip=report.refused)
            if not marked:
                break
            step("mark", [d.id for d in marked])
            if not _delete(archive, actor, key, marked, report, step):
                break  # the store is away: marking more would only hide more documents until it is back
            if budget is not None:
                budget -= len(marked)
    return report


def _told(locks: LockOutcome) -> list[LockRefusal]:
    """The store's refusals of a sync; a store that cannot be reached stops the sweep before it deletes
    (it could not delete anything either)."""
    if locks.unreachable is not None:
        raise StorageError(locks.unreachable)
    return locks.refused


def _candidates(
    day: date, state: str, limit: int | None, rel: Releases, skip: set[uuid.UUID] | None = None
) -> Any:
    stmt = (
        select(Document.id)
        .where(Document.state == state, Document.due_on < day, ~is_held(day), rel.clause())
        .order_by(Document.due_on, Document.id)
    )
    if skip:
        stmt = stmt.where(Document.id.not_in(skip))
    return stmt.limit(limit) if limit is not None else stmt


@dataclass(frozen=True)
class _Doomed:
    id: uuid.UUID
    case_number: str
    document_type: str
    storage_key: str
    sha256: str
    due_on: date
    rule: str
    rule_version: int
    disposal: str  # how the archive's right to it was met, for the protocol
    derived: tuple[str, ...] = ()  # the keys of its derived objects (renditions: ekakte.derived)


def _doomed(session: Any, ids: list[uuid.UUID], rel: Releases) -> list[_Doomed]:
    rows = session.execute(
        select(
            Document.id, Case.case_number, Document.document_type, Document.storage_key, Document.sha256,
            Document.due_on, Document.retention_rule, Document.retention_version,
        )
        .join(Case, Case.id == Document.case_id)
        .where(Document.id.in_(ids))
        .order_by(Document.id)
    ).all()  # fmt: skip
    records = {
        r.document_id: r
        for r in session.scalars(select(DisposalRecord).where(DisposalRecord.document_id.in_(ids)))
    }
    # Read in the transaction that marks them `deleting`: a rendition recorded before the mark is seen
    # here, and none is recorded after it (ekakte.ocr.rendition records only for a `stored` document).
    derived = derived_keys(session, ids)
    doomed = []
    for r in rows:
        rule, version = r[6] or "?", r[7] or 0
        why = rel.why(rule, version, records.get(r[0]))
        keys = tuple(derived.get(r[0], ()))
        doomed.append(_Doomed(r[0], r[1], r[2], r[3], r[4], r[5], rule, version, why, keys))
    return doomed


def _mark(archive: Archive, day: date, size: int, rel: Releases, skip: set[uuid.UUID]) -> list[_Doomed]:
    """Step 1: the next batch of due, unheld documents the archive has released becomes `deleting`, in
    one transaction (leaving out those the store refused to delete earlier in this run)."""
    with archive.transaction() as session:
        ids = list(session.scalars(_candidates(day, DocumentState.STORED, size, rel, skip)))
        if not ids:
            return []
        # The WHERE repeats the conditions: a hold or reopened case that arrived since the SELECT wins.
        marked = list(
            session.scalars(
                update(Document)
                .where(
                    Document.id.in_(ids),
                    Document.state == DocumentState.STORED,
                    Document.due_on < day,
                    ~is_held(day),
                    rel.clause(),
                )
                .values(state=DocumentState.DELETING)
                .returning(Document.id)
                .execution_options(synchronize_session=False)
            )
        )
        return _doomed(session, marked, rel)


def _finish_returns(archive: Archive, actor: Actor, key: bytes, report: SweepReport) -> None:
    """Documents the triage role sent back to the station whose deletion was interrupted (they are
    `deleting` with an unfinished return): finished as the return would have finished them."""
    from ekakte.mailroom.returns import finish_returns

    for document_id, problem in finish_returns(archive, actor, key=key).items():
        report.problems.append(f"document {document_id} (returned to the station): {problem}")


def _finish_interrupted(
    archive: Archive, actor: Actor, key: bytes, report: SweepReport, step: Step, rel: Releases
) -> None:
    """Documents an earlier sweep left `deleting`: finish them, unless a hold came meanwhile."""
    today = date.today()
    while True:
        with archive.transaction() as session:
            # A hold put on a half-deleted document: its object may be gone already (then the document
            # is lost whatever happens); if it is still there, the hold wins and it becomes visible again.
            held = list(
                session.scalars(
                    select(Document.id).where(
                        Document.state == DocumentState.DELETING, is_held(today), ~_returning()
                    )
                )
            )
            restored = []
            for doc in _doomed(session, held, rel):
                if archive.store.stat(doc.storage_key) is not None:
                    session.execute(
                        update(Document).where(Document.id == doc.id).values(state=DocumentState.STORED)
                    )
                    restored.append(doc.id)
                else:
                    report.problems.append(f"document {doc.id}: held, but its sweep had already removed it")
            ids = list(
                session.scalars(
                    select(Document.id)
                    .where(Document.state == DocumentState.DELETING, ~is_held(today), ~_returning())
                    .order_by(Document.id)
                    .limit(BATCH)
                )
            )
            doomed = _doomed(session, ids, rel)
        if restored:  # stored again under a hold the sync before could not see: the store learns it now
            report.lock_refusals += _told(sync_object_locks(archive, restored))
        if not doomed:
            return
        before = report.deleted
        _delete(archive, actor, key, doomed, report, step)
        report.finished += report.deleted - before
        if report.deleted == before:
            return  # nothing could be finished (refusals or problems): leave it to the next run


def _returning() -> Any:
    """A document being sent back to the station (the return's own steps finish it: `_finish_returns`)."""
    return exists().where(PostkorbReturn.document_id == Document.id, PostkorbReturn.deleted_at.is_(None))


def _object_keys(doc: _Doomed) -> list[str]:
    """The original and every derived object of a document (its renditions; OCR text lives in the
    database, in its pages). The protocol's `objects` counts them."""
    return [doc.storage_key, *doc.derived]


def _delete(
    archive: Archive, actor: Actor, key: bytes, doomed: list[_Doomed], report: SweepReport, step: Step
) -> bool:
    """Steps 2 and 3 for documents already marked `deleting`; False when the store could not be reached."""
    keys = {doc.id: _object_keys(doc) for doc in doomed}
    try:
        refused = archive.store.delete_many([k for ks in keys.values() for k in ks])
    except StorageError as exc:
        report.problems.append(str(exc))
        return False  # they stay `deleting`: invisible, and the next sweep finishes them
    step("objects", [d.id for d in doomed])
    # Kept is what the store keeps the original of. A rendition it refuses to delete (a bucket's default
    # retention) does not keep a document whose original is gone: its object is named as a problem, no
    # row refers to it any more, and gc removes it once the store lets go.
    kept = [d for d in doomed if d.storage_key in refused]
    gone = [d for d in doomed if d not in kept]
    for doc in gone:
        for key_left in (k for k in doc.derived if k in refused):
            report.problems.append(
                f"document {doc.id}: deleted, but the store kept its rendition {key_left}:"
                f" {refused[key_left]}"
            )
    now = datetime.now(UTC)
    with archive.transaction() as session:
        if kept:
            session.execute(
                update(Document)
                .where(Document.id.in_([d.id for d in kept]))
                .values(state=DocumentState.STORED)
                .execution_options(synchronize_session=False)
            )
        for doc in gone:
            session.execute(
                insert_or_ignore(session, DeletionRecord, ["document_id"]).values(
                    document_id=str(doc.id),
                    document_type=doc.document_type,
                    case_hash=case_hash(key, doc.case_number),
                    rule=doc.rule,
                    rule_version=doc.rule_version,
                    due_on=doc.due_on,
                    deleted_at=now,
                    deleted_by=actor.effective,
                    sweep_id=report.sweep_id,
                    sha256=doc.sha256,
                    objects=sum(1 for k in keys[doc.id] if k not in refused),
                    disposal=doc.disposal[:500],
                )
            )
            audit.append(
                session, actor, "retention.delete", "allowed", document_id=str(doc.id),
                reason=f"due {doc.due_on}, rule {doc.rule!r} v{doc.rule_version}, sweep {report.sweep_id};"
                f" {doc.disposal}"[:1000],
            )  # fmt: skip
        ids = [d.id for d in gone]
        if ids:
            session.execute(delete(Page).where(Page.document_id.in_(ids)))
            session.execute(delete(Document).where(Document.id.in_(ids)))
    step("purge", [d.id for d in gone])
    report.deleted += len(gone)
    for doc in kept:
        report.refused.add(doc.id)
        lock = _protection(archive, doc)
        if lock is not None:
            report.kept.append(KeptByStore(doc.id, lock))
        else:  # refused, but not for a lock: that is a problem, not "not yet due"
            said = "; ".join(refused[k] for k in keys[doc.id] if k in refused)
            report.problems.append(f"document {doc.id}: the store refused to delete it: {said}")
    return True


def _protection(archive: Archive, doc: _Doomed) -> str | None:
    """What keeps a document the store refused to delete, as the store reports its lock; None when no
    lock protects it (then the refusal had another cause)."""
    try:
        info = archive.store.stat(doc.storage_key)
    except StorageError:
        return None
    if info is not None and info.lock is not None and info.lock.protects(datetime.now(UTC)):
        return info.lock.describe()
    return None
