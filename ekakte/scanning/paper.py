"""Which scanned batches' paper may be destroyed now, and which must be kept, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ekakte.access import About, Action, Decision, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import ImportBatch, PostkorbReturn, ScanCheck, ScanFile, ScanRecord, ScanSeal
from ekakte.jsonable import AsJson
from ekakte.scanning import manifest
from ekakte.scanning.checks import PASSED
from ekakte.scanning.records import REFUSED
from ekakte.scanning.sealing import own_problems
from ekakte.scanning.seals import trusted_keys


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
    """Which batches' paper may be destroyed now and which must be kept, and why; the newest `limit`
    batches that hold scanned documents or refusals, oldest first. A batch's paper may go when its check
    passed, the waiting period (`paper_waiting_days`) is over, and its seal holds: signed with a trusted
    key, and every document it seals still stored with its sealed hash or deleted with a line in the
    deletion protocol (ekakte.scanning.manifest.differences), checked for such a batch here and now."""
    today = today or datetime.now(UTC).date()
    days = archive.settings.paper_waiting_days
    trusted = trusted_keys(archive.settings)

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
        return [_status(session, b, today, days, trusted) for b in reversed(batches)]

    return decided(
        archive, actor, Action.SCAN_PROTOCOL, "scan status", read, about=About(detail="scan status"),
        reads_only=True,
    )  # fmt: skip


def _status(session: Session, batch: ImportBatch, today: date, days: int, trusted: set[str]) -> PaperStatus:
    reasons: list[str] = []
    check = session.get(ScanCheck, batch.id)
    documents = session.scalar(
        select(func.count()).select_from(ScanRecord).where(ScanRecord.batch_id == batch.id)
    )
    from_date = None
    if batch.finished_at is None:
        reasons.append("the batch is not finished")
    if check is None or check.result is None or check.checked_at is None:
        reasons.append("not checked yet")
    elif check.result != PASSED:
        reasons.append(f"the check failed: {check.note}")
    else:
        checked = check.checked_at if check.checked_at.tzinfo else check.checked_at.replace(tzinfo=UTC)
        from_date = (checked + timedelta(days=days)).date()
        if today < from_date:
            reasons.append(f"waiting period until {from_date.isoformat()}")
        else:  # the paper could go: only if the seal holds now
            reasons += _seal_reasons(session, batch, trusted)
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
        str(batch.id),
        batch.station,
        batch.operator,
        batch.started_at,
        documents or 0,
        may,
        from_date,
        reasons,
    )


def _seal_reasons(session: Session, batch: ImportBatch, trusted: set[str]) -> list[str]:
    seal = session.scalars(select(ScanSeal).where(ScanSeal.batch_id == batch.id)).first()
    if seal is None:
        return ["the check is not sealed"]
    problems = own_problems(seal, trusted) + manifest.differences(session, seal)
    if problems:
        return [f"the seal does not hold ({problems[0]}): run the archive's verify"]
    return []
