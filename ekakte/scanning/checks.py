"""The second person's check of a scanned batch: taking it on (the sample drawn then, and only the taker
sees its pages until the check is recorded), recording it, and the seal it ends with.

Order of writes when a batch's check is recorded (one transaction, under the audit chain's lock, which
also serialises the seals' chain): the check's result, its audit entry, the seal over the manifest
chained to the last seal. Before it, outside any transaction, every document of the batch is read back
from the object store and hashed: a check passes only over scans that are there and whole. A crash leaves
either nothing or all three. A refusal after the access decision (the batch's own operator, a batch
checked already, …) is audited as `failed`, with its code.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ekakte import audit
from ekakte.access import About, Action, Decision, decide, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.dialect import serialize_writers
from ekakte.db.models import Document, DocumentState, ImportBatch, ScanCheck, ScanRecord, Stack
from ekakte.errors import EkakteError, InvalidInput, NotFound, NotPermitted
from ekakte.jsonable import AsJson
from ekakte.scanning.records import compact
from ekakte.scanning.sealing import seal_batch
from ekakte.scanning.seals import private_key

PASSED, FAILED = "passed", "failed"


def sample_size(setting: str, documents: int) -> int:
    """How many of a batch's documents the check looks at: all, a number, or a share (at least one)."""
    if documents == 0:
        return 0
    if setting == "all":
        return documents
    if setting.endswith("%"):
        return min(documents, max(1, math.ceil(documents * int(setting[:-1]) / 100)))
    return min(documents, int(setting))


def draw_sample(batch_id: uuid.UUID, document_ids: list[uuid.UUID], size: int) -> list[uuid.UUID]:
    """The documents the check looks at: the same for everyone who asks (ordered by a hash of the batch
    and the document, so that neither the operator nor the order of scanning decides which)."""

    def rank(doc_id: uuid.UUID) -> str:
        return hashlib.sha256(batch_id.bytes + doc_id.bytes).hexdigest()

    return sorted(sorted(document_ids, key=rank)[:size], key=str)


# How long a check taken on stays the taker's: after it, another may take it over, and the taker no
# longer sees the sample's pages (a working day).
CLAIM_HOURS = 8


@dataclass(frozen=True)
class Sample(AsJson):
    batch_id: str
    documents: int
    sample: list[str]  # document ids: the drawn sample, or the one drawn when the check was taken on
    operators: list[str]  # who scanned the batch: they may not check it
    checked: bool  # the check is recorded
    checker: str | None  # who took the check on (while it is under way or once recorded)
    yours: bool  # the caller has taken it on and may look at the sample's pages now
    may_check: bool  # the caller may take the check on (or has)


def check_sample(archive: Archive, actor: Actor, batch_id: uuid.UUID) -> Sample:
    """The documents of a batch its check looks at (`check_sample` of the settings; once the check is
    taken on, the sample drawn then), who checks it, and whether the caller may."""

    def read(session: Session, decision: Decision) -> Sample:
        may = decision.subject is not None and decide(decision.subject, Action.SCAN_CHECK).allowed
        return _sample(session, archive, batch_id, actor.effective, may)

    return decided(
        archive, actor, Action.SCAN_PROTOCOL, f"batch {batch_id}", read,
        about=About(detail=f"check sample of batch {batch_id}"), reads_only=True,
    )  # fmt: skip


def _sample(session: Session, archive: Archive, batch_id: uuid.UUID, name: str, may: bool) -> Sample:
    batch = session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFound(f"no batch {batch_id}")
    ids = _stored_documents(session, batch_id)
    check = session.get(ScanCheck, batch_id)
    operators = _operators(session, batch)
    if check is not None:
        chosen, documents = list(json.loads(check.sample)), check.documents
    else:
        drawn = draw_sample(batch_id, ids, sample_size(archive.settings.check_sample, len(ids)))
        chosen, documents = [str(i) for i in drawn], len(ids)
    recorded = check is not None and check.result is not None
    open_to = _open_to(check)
    yours = not recorded and open_to == name
    may_check = (
        may and not recorded and name not in operators and batch.finished_at is not None and bool(ids)
        and open_to in (None, name)
    )  # fmt: skip
    return Sample(
        str(batch_id), documents, chosen, operators, recorded, check.checked_by if check else None, yours,
        may_check,
    )  # fmt: skip


def _open_to(check: ScanCheck | None) -> str | None:
    """Who has the check under way now: None when nobody has, it is recorded, or the taker's time is up."""
    if check is None or check.result is not None:
        return None
    if _utc(check.started_at) + timedelta(hours=CLAIM_HOURS) < datetime.now(UTC):
        return None
    return check.checked_by


def awaiting_check(session: Session, document_id: uuid.UUID, name: str) -> bool:
    """Whether `name` has taken on the check of the document's batch, the check is not recorded yet and
    not older than CLAIM_HOURS, and the document is in its sample: then they may look at its pages and
    original to compare them with the paper (ekakte.access, `checking`), and only then."""
    record = session.get(ScanRecord, document_id)
    if record is None or record.batch_id is None:
        return False
    check = session.get(ScanCheck, record.batch_id)
    return _open_to(check) == name and check is not None and str(document_id) in json.loads(check.sample)


def _stored_documents(session: Session, batch_id: uuid.UUID) -> list[uuid.UUID]:
    """The batch's documents that are stored (not returned to the station, not deleted)."""
    return list(
        session.scalars(
            select(ScanRecord.document_id)
            .join(Document, Document.id == ScanRecord.document_id)
            .where(ScanRecord.batch_id == batch_id, Document.state == DocumentState.STORED)
            .order_by(ScanRecord.document_id)
        )
    )


def _operators(session: Session, batch: ImportBatch) -> list[str]:
    """Who scanned the batch: the importing caller, and whom a service imported for (scan records)."""
    names = {batch.operator}
    names |= set(session.scalars(select(ScanRecord.scanned_by).where(ScanRecord.batch_id == batch.id)))
    names |= set(session.scalars(select(Stack.operator).where(Stack.batch_id == batch.id)))
    return sorted(names)


def start_check(archive: Archive, actor: Actor, batch_id: uuid.UUID) -> Sample:
    """Take on the check of a batch: the sample is drawn now and kept, and the caller (alone) may look at
    its documents' pages until the check is recorded or CLAIM_HOURS have passed. Taken on again by the
    same person, nothing changes; by another while it is under way, refused (`checked-by-another`)."""

    def take(session: Session, decision: Decision) -> Sample:
        sample = _may_take(session, archive, actor, decision, batch_id)
        check = session.get(ScanCheck, batch_id, with_for_update=True)
        now = datetime.now(UTC)
        if check is None:
            session.add(
                ScanCheck(
                    batch_id=batch_id, started_at=now, checked_by=actor.effective,
                    sample=compact(sample.sample), documents=sample.documents,

                )
            )  # fmt: skip
        elif check.checked_by != actor.effective:  # the other's time is up: taken over, same sample
            check.started_at, check.checked_by = now, actor.effective
        session.flush()
        audit.append(session, actor, Action.SCAN_CHECK, "allowed", reason=f"batch {batch_id}: taken on")
        return _sample(session, archive, batch_id, actor.effective, True)

    return _audited_failure(
        archive, actor, batch_id, "start",
        lambda: decided(
            archive, actor, Action.SCAN_CHECK, f"batch {batch_id}", take,
            about=About(detail=f"check of batch {batch_id} taken on"), audit_allowed=False,
        ),

    )  # fmt: skip


def _may_take(
    session: Session, archive: Archive, actor: Actor, decision: Decision, batch_id: uuid.UUID
) -> Sample:
    """The sample, if the caller may take on (or record) the check; InvalidInput saying why not."""
    batch = session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFound(f"no batch {batch_id}")
    sample = _sample(session, archive, batch_id, actor.effective, True)
    check = session.get(ScanCheck, batch_id)
    if check is not None and check.result is not None and check.checked_at is not None:
        raise InvalidInput(
            f"batch {batch_id} was checked on {check.checked_at:%Y-%m-%d} by {check.checked_by}"
            f" ({check.result}): a batch is checked once",
            code="already-checked",
        )
    if actor.effective in sample.operators:
        raise InvalidInput(
            f"{actor.effective} scanned this batch: the check is for a second person", code="own-batch"
        )
    if batch.finished_at is None:
        raise InvalidInput(
            f"batch {batch_id} stopped before its end: close it as it stands first (what it stored is"
            " checked with it, the rest goes into the next batch)",
            code="unfinished",
        )
    if sample.documents == 0:
        raise InvalidInput(f"batch {batch_id} holds no stored document to check", code="empty-batch")
    if _open_to(check) not in (None, actor.effective):
        assert check is not None
        raise InvalidInput(
            f"{check.checked_by} checks this batch since {check.started_at:%Y-%m-%d %H:%M}",
            code="checked-by-another",
        )
    health = decision.subject is not None and decision.subject.health_clearance
    if not health:
        restricted = session.scalar(
            select(func.count())
            .select_from(Document)
            .where(Document.id.in_([uuid.UUID(i) for i in sample.sample]), Document.restricted.is_(True))
        )
        if restricted:
            raise InvalidInput(
                "the sample holds documents restricted to the health clearance: a checker with that"
                " clearance must check this batch",
                code="needs-health-clearance",
            )
    return sample


T = TypeVar("T")


def _audited_failure(
    archive: Archive, actor: Actor, batch_id: uuid.UUID, step: str, run: Callable[[], T]
) -> T:
    """Run a step of the check; a refusal after the access decision (InvalidInput, NotFound, a store
    that cannot be read) is recorded in the audit trail as `failed`, with its code, and raised."""
    try:
        return run()
    except NotPermitted:
        raise  # audited as denied by the decision
    except EkakteError as exc:
        with contextlib.suppress(EkakteError), archive.transaction() as session:
            audit.append(
                session, actor, Action.SCAN_CHECK, "failed",
                reason=f"batch {batch_id}: {step} refused ({exc.code}): {exc}"[:500],
            )  # fmt: skip
        raise


@dataclass(frozen=True)
class CheckResult(AsJson):
    batch_id: str
    result: str
    checked_at: datetime
    checked_by: str
    documents: int
    sample: list[str]
    verified: int  # documents read back from the store and found whole
    seal_sha256: str


def check_batch(
    archive: Archive, actor: Actor, batch_id: uuid.UUID, *, passed: bool, note: str | None = None
) -> CheckResult:
    """Record the second person's check of a batch (passed, or failed with a note saying what is wrong),
    once, and seal the batch; taken on first if the caller had not (start_check). Refused as start_check
    refuses, and a pass while a document's object is missing or not whole (reported by its id)."""
    note = (note or "").strip() or None
    if not passed and note is None:
        raise InvalidInput("a failed check needs a note saying what is wrong", field="note")
    if note is not None and len(note) > 1000:
        raise InvalidInput("the note is longer than 1000 characters", field="note")
    result = PASSED if passed else FAILED
    private_key(archive.settings)  # no seal key (ConfigError): nothing is read back or recorded

    def look(session: Session, decision: Decision) -> tuple[list[uuid.UUID], Sample]:
        return _stored_documents(session, batch_id), _may_take(session, archive, actor, decision, batch_id)

    def record() -> CheckResult:
        # The refusal is audited by the decision; the check itself in the transaction that seals it.
        documents, sample = decided(
            archive, actor, Action.SCAN_CHECK, f"batch {batch_id}", look,
            about=About(detail=f"check of batch {batch_id}: {result}"), audit_allowed=False,
        )  # fmt: skip
        verified = _read_back(archive, documents) if passed else 0
        return _record_check(archive, actor, batch_id, result, note, sample, verified)

    return _audited_failure(archive, actor, batch_id, result, record)


def _record_check(
    archive: Archive, actor: Actor, batch_id: uuid.UUID, result: str, note: str | None, sample: Sample,
    verified: int,
) -> CheckResult:  # fmt: skip
    now = datetime.now(UTC)
    with archive.transaction() as session:
        serialize_writers(session, audit.AUDIT_LOCK)
        check = session.get(ScanCheck, batch_id, with_for_update=True)
        if check is not None and (check.result is not None or _open_to(check) not in (None, actor.effective)):
            raise InvalidInput(
                f"batch {batch_id} was checked or taken on by another meanwhile", code="already-checked"
            )
        if check is None:
            check = ScanCheck(
                batch_id=batch_id, started_at=now, sample=compact(sample.sample), documents=sample.documents
            )
            session.add(check)
        check.checked_by, check.checked_at, check.result, check.note = actor.effective, now, result, note
        session.flush()
        seal = seal_batch(archive, session, batch_id, now)
        audit.append(
            session, actor, Action.SCAN_CHECK, "allowed",
            reason=f"batch {batch_id}: {result}; seal {seal.sha256}",
        )  # fmt: skip
    return CheckResult(
        str(batch_id), result, now, actor.effective, sample.documents, sample.sample, verified, seal.sha256
    )


def _read_back(archive: Archive, documents: list[uuid.UUID]) -> int:
    """Read every document of the batch from the store and compare its SHA-256: InvalidInput naming the
    first that is missing or not whole (the check cannot pass over it)."""
    from ekakte.storage import read_verified

    with archive.reading() as session:
        rows = session.execute(
            select(Document.id, Document.storage_key, Document.size_bytes, Document.sha256).where(
                Document.id.in_(documents)
            )
        ).all()
    for row in rows:
        try:
            for _chunk in read_verified(archive.store, row.storage_key, row.sha256, row.size_bytes):
                pass
        except EkakteError as exc:
            raise InvalidInput(
                f"document {row.id} of the batch cannot be read back whole ({exc}): the check cannot pass"
                " until the archive's verification finds it sound",
                code="not-verified",
            ) from None
    return len(rows)


def close_stopped_batch(archive: Archive, actor: Actor, batch_id: uuid.UUID) -> None:
    """Close a batch whose import stopped before its end (a crash, the database away): what it stored is
    its content from now on and can be checked; files it did not reach go into the next batch. For scan
    operators (action `import`); a batch that is closed already stays as it is."""

    def close(session: Session, _decision: Decision) -> None:
        batch = session.get(ImportBatch, batch_id, with_for_update=True)
        if batch is None:
            raise NotFound(f"no batch {batch_id}")
        if batch.finished_at is None:
            batch.finished_at = datetime.now(UTC)
            session.flush()

    decided(
        archive, actor, Action.IMPORT, f"batch {batch_id}", close,
        about=About(detail=f"batch {batch_id} closed as it stands"),
    )  # fmt: skip


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
