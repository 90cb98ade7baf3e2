"""The second person's check of a scanned batch, the seal it ends with, and which batches' paper may go.

Order of writes when a batch is checked (one transaction, under the audit chain's lock, which also
serialises the seals' chain): the check, its audit entry, the seal over the manifest chained to the
last seal. Before it, outside any transaction, every document of the batch is read back from the
object store and hashed: a check passes only over scans that are there and whole. A crash leaves
either nothing or all three.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ekakte import audit
from ekakte.access import About, Action, Decision, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import Settings
from ekakte.db.dialect import serialize_writers
from ekakte.db.models import (
    Document,
    DocumentState,
    ImportBatch,
    PostkorbReturn,
    ScanCheck,
    ScanFile,
    ScanRecord,
    ScanSeal,
    Stack,
)
from ekakte.errors import EkakteError, InvalidInput, NotFound
from ekakte.jsonable import AsJson
from ekakte.scanning import manifest
from ekakte.scanning.records import REFUSED, compact
from ekakte.scanning.seals import digest, private_key, sign, signature_holds, trusted_keys

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


@dataclass(frozen=True)
class Sample(AsJson):
    batch_id: str
    documents: int
    sample: list[str]  # document ids, in the order shown
    operators: list[str]  # who scanned the batch: they may not check it
    checked: bool


def check_sample(archive: Archive, actor: Actor, batch_id: uuid.UUID) -> Sample:
    """The documents of a batch its check looks at (`check_sample` of the settings)."""

    def read(session: Session, _decision: Decision) -> Sample:
        return _sample(session, archive, batch_id)

    return decided(
        archive, actor, Action.SCAN_PROTOCOL, f"batch {batch_id}", read,
        about=About(detail=f"check sample of batch {batch_id}"), reads_only=True,
    )  # fmt: skip


def _sample(session: Session, archive: Archive, batch_id: uuid.UUID) -> Sample:
    batch = session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFound(f"no batch {batch_id}")
    ids = _stored_documents(session, batch_id)
    chosen = draw_sample(batch_id, ids, sample_size(archive.settings.check_sample, len(ids)))
    return Sample(
        str(batch_id), len(ids), [str(i) for i in chosen], _operators(session, batch),
        session.get(ScanCheck, batch_id) is not None,
    )  # fmt: skip


def awaiting_check(session: Session, settings: Settings, document_id: uuid.UUID, name: str) -> bool:
    """Whether the document is in the sample of a finished batch that waits for its check, and `name`
    did not scan that batch: then a scan operator or the triage role may look at it to compare it with
    the paper (ekakte.access, `checking`), and only then."""
    record = session.get(ScanRecord, document_id)
    if record is None or record.batch_id is None or session.get(ScanCheck, record.batch_id) is not None:
        return False
    batch = session.get(ImportBatch, record.batch_id)
    if batch is None or batch.finished_at is None or name in _operators(session, batch):
        return False
    ids = _stored_documents(session, batch.id)
    return document_id in draw_sample(batch.id, ids, sample_size(settings.check_sample, len(ids)))


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
    names = {batch.operator}
    names |= set(session.scalars(select(ScanRecord.scanned_by).where(ScanRecord.batch_id == batch.id)))
    names |= set(session.scalars(select(Stack.operator).where(Stack.batch_id == batch.id)))
    return sorted(names)


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
    once, and seal the batch. Refused: the batch's own operator, a batch not finished or already checked,
    a pass while a sampled document is restricted and the checker lacks the health clearance, and a pass
    while a document's object is missing or not whole (that is reported by its id)."""
    note = (note or "").strip() or None
    if not passed and note is None:
        raise InvalidInput("a failed check needs a note saying what is wrong", field="note")
    if note is not None and len(note) > 1000:
        raise InvalidInput("the note is longer than 1000 characters", field="note")
    result = PASSED if passed else FAILED
    private_key(archive.settings)  # no seal key (ConfigError): nothing is read back or recorded

    def look(session: Session, decision: Decision) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
        sample = _refusals(session, archive, actor, decision, batch_id, passed)
        return _stored_documents(session, batch_id), [uuid.UUID(i) for i in sample.sample]

    about = About(detail=f"check of batch {batch_id}: {result}")
    # A refusal is audited here; the check itself in the transaction that records and seals it.
    documents, sample = decided(
        archive, actor, Action.SCAN_CHECK, f"batch {batch_id}", look, about=about, audit_allowed=False
    )

    verified = _read_back(archive, documents) if passed else 0
    now = datetime.now(UTC)
    with archive.transaction() as session:
        serialize_writers(session, audit.AUDIT_LOCK)
        if session.get(ScanCheck, batch_id) is not None:
            raise InvalidInput(f"batch {batch_id} was checked meanwhile", code="already-checked")
        session.add(
            ScanCheck(
                batch_id=batch_id, checked_at=now, checked_by=actor.effective, result=result, note=note,
                sample=compact([str(i) for i in sample]), documents=len(documents),
            )
        )  # fmt: skip
        session.flush()
        seal = _seal(archive, session, batch_id, now)
        audit.append(
            session, actor, Action.SCAN_CHECK, "allowed",
            reason=f"batch {batch_id}: {result}; seal {seal.sha256}",
        )  # fmt: skip
    return CheckResult(
        str(batch_id), result, now, actor.effective, len(documents), [str(i) for i in sample], verified,
        seal.sha256,
    )  # fmt: skip


def _refusals(
    session: Session, archive: Archive, actor: Actor, decision: Decision, batch_id: uuid.UUID, passed: bool
) -> Sample:
    batch = session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFound(f"no batch {batch_id}")
    sample = _sample(session, archive, batch_id)
    if sample.checked:
        check = session.get(ScanCheck, batch_id)
        assert check is not None
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
        raise InvalidInput(f"batch {batch_id} is not finished: import it to the end first", code="unfinished")
    if sample.documents == 0:
        raise InvalidInput(f"batch {batch_id} holds no stored document to check", code="empty-batch")
    health = decision.subject is not None and decision.subject.health_clearance
    if passed and not health:
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


def _seal(archive: Archive, session: Session, batch_id: uuid.UUID, now: datetime) -> ScanSeal:
    """Seal the batch's manifest, chained to the last seal (under the audit chain's lock)."""
    last = session.scalars(select(ScanSeal).order_by(ScanSeal.id.desc()).limit(1)).first()
    previous = last.sha256 if last else None
    data = manifest.sealed_bytes(manifest.contents(session, batch_id), previous, now)
    signature, key = sign(archive.settings, data)
    seal = ScanSeal(
        batch_id=batch_id, sealed_at=now, manifest=data.decode(), sha256=digest(data), previous=previous,
        key_id=key, signature=signature,
    )  # fmt: skip
    session.add(seal)
    session.flush()
    return seal


@dataclass(frozen=True)
class SealProblem(AsJson):
    batch_id: str
    detail: str


def seal_problems(archive: Archive, *, contents: bool = True) -> list[SealProblem]:
    """Every seal's signature (with a trusted key), its chain link, and (`contents`) what changed in the
    database since it was made (ekakte.scanning.manifest.differences), which reads each batch's rows."""
    trusted = trusted_keys(archive.settings)
    found: list[SealProblem] = []
    previous: str | None = None
    with archive.reading() as session:
        for seal in session.scalars(select(ScanSeal).order_by(ScanSeal.id)):
            batch = str(seal.batch_id)
            data = seal.manifest.encode()
            if digest(data) != seal.sha256:
                found.append(SealProblem(batch, "the manifest does not match its recorded SHA-256"))
            if seal.key_id not in trusted:
                found.append(
                    SealProblem(batch, f"sealed with a key that is not trusted ({seal.key_id[:16]}…)")
                )
            elif not signature_holds(seal.key_id, seal.signature, data):
                found.append(SealProblem(batch, "the signature does not match the manifest"))
            if seal.previous != previous:
                found.append(
                    SealProblem(batch, "the chain is broken: the previous seal is not the one before")
                )
            sealed = _parsed(data)
            named = sealed.get("batch")
            if (
                sealed.get("previous") != seal.previous
                or not isinstance(named, dict)
                or named.get("id") != batch
            ):
                found.append(SealProblem(batch, "the manifest names another batch or another previous seal"))
            if contents:
                found += [SealProblem(batch, d) for d in manifest.differences(session, seal)]

            previous = seal.sha256
    return found


def _parsed(data: bytes) -> dict[str, object]:
    import json

    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class PaperStatus(AsJson):
    batch_id: str
    station: str
    operator: str
    started_at: datetime
    documents: int
    may_be_destroyed: bool
    from_date: date | None  # the first day it may be destroyed (passed check + waiting period)
    reasons: list[str] = field(default_factory=list)  # why the paper must be kept (or what of it)


def paper_status(
    archive: Archive, actor: Actor, *, today: date | None = None, limit: int = 200
) -> list[PaperStatus]:
    """Which batches' paper may be destroyed now (check passed, sealed, every document still stored with
    its sealed hash, waiting period over) and which must be kept, and why; the newest `limit` batches
    that hold scanned documents or refusals, oldest first."""
    today = today or datetime.now(UTC).date()
    days = archive.settings.paper_waiting_days

    def read(session: Session, _decision: Decision) -> list[PaperStatus]:
        recorded = select(ScanRecord.batch_id).where(ScanRecord.batch_id.is_not(None))
        scanned = select(ScanFile.batch_id).union(recorded)
        batches = list(
            session.scalars(
                select(ImportBatch)
                .where(ImportBatch.id.in_(scanned))
                .order_by(ImportBatch.started_at.desc(), ImportBatch.id)
                .limit(limit)
            )
        )
        return [_status(session, b, today, days) for b in reversed(batches)]

    return decided(
        archive, actor, Action.SCAN_PROTOCOL, "scan status", read, about=About(detail="scan status"),
        reads_only=True,
    )  # fmt: skip


def _status(session: Session, batch: ImportBatch, today: date, days: int) -> PaperStatus:
    reasons: list[str] = []
    check = session.get(ScanCheck, batch.id)
    seal = session.scalars(select(ScanSeal).where(ScanSeal.batch_id == batch.id)).first()
    records = list(session.scalars(select(ScanRecord).where(ScanRecord.batch_id == batch.id)))
    from_date = None
    if batch.finished_at is None:
        reasons.append("the batch is not finished")
    if check is None:
        reasons.append("not checked yet")
    elif check.result != PASSED:
        reasons.append(f"the check failed: {check.note}")
    else:
        from_date = (_utc(check.checked_at) + timedelta(days=days)).date()
        if today < from_date:
            reasons.append(f"waiting period until {from_date.isoformat()}")
    if check is not None and seal is None:
        reasons.append("the check is not sealed")
    hashes = dict(
        session.execute(
            select(Document.id, Document.sha256).where(Document.id.in_([r.document_id for r in records]))
        ).all()
    )
    changed = [r for r in records if r.document_id in hashes and hashes[r.document_id] != r.sha256]
    if changed:
        reasons.append(f"{len(changed)} documents' hashes differ from the scan record: run `ekakte verify`")
    refused = session.scalar(
        select(func.count())
        .select_from(ScanFile)
        .where(ScanFile.batch_id == batch.id, ScanFile.status == REFUSED)
    )
    returned = session.scalar(
        select(func.count()).select_from(PostkorbReturn).where(PostkorbReturn.batch_id == batch.id)
    )
    keep_some = []
    if refused:
        keep_some.append(f"the paper of {refused} refused files (not stored)")
    if returned:
        keep_some.append(f"the paper of {returned} documents returned to the station")
    may = not reasons
    if keep_some:  # the rest of the batch's paper may go all the same
        reasons.append("keep " + " and ".join(keep_some))
    return PaperStatus(
        str(batch.id), batch.station, batch.operator, batch.started_at, len(records), may, from_date, reasons
    )


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
