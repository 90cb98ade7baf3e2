"""Sending a document of the Postkorb back to the scanning station, and the stations' list of them.

A document that is not the job centre's to keep (a letter for another authority, a page to scan again, an
advertisement scanned by mistake) goes back: the triage role says why, the station finds the paper by what
is recorded here, and the scan is deleted, as the sweep deletes (its object, pages and row, and a line in
the deletion protocol). It never was a record of any case, so the archive's right to records does not
apply; a legal hold or the store's Object Lock still does, and refuses the return.

Order of writes, so that a crash anywhere leaves what the next return or sweep finishes:
1. one transaction: the decision and its audit entry, the document becomes `deleting` (invisible), its
   Postkorb entry `returned`, the return recorded (`postkorb_returns`, deleted_at empty);
2. the store deletes the object;
3. one transaction: the deletion protocol's line, the pages and row deleted, deleted_at set.
If the store refuses in step 2 (a lock it was given outside ekakte), step 1 is undone and the refusal
reported; if it cannot be reached, the document stays `deleting` and `finish_returns` completes it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import ClassVar, overload

from sqlalchemy import Select, delete, select, tuple_, update
from sqlalchemy.orm import Session

from ekakte import audit, paging
from ekakte.access import About, Action, Decision, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.dialect import insert_or_ignore, serialize_writers
from ekakte.db.models import (
    POSTKORB_CASE,
    DeletionRecord,
    Document,
    DocumentState,
    Page,
    PostkorbItem,
    PostkorbReturn,
)
from ekakte.derived import derived_keys
from ekakte.errors import EkakteError, InvalidInput, NotFound, StorageError, shown
from ekakte.jsonable import AsJson
from ekakte.mailroom.postkorb import WAITING, stack_origins, waiting_document
from ekakte.paging import check_limit
from ekakte.retention.held import is_held
from ekakte.retention.protocol import archive_protocol_key, case_hash
from ekakte.retention.worm import sync_object_locks

RETURNED = "returned"  # the Postkorb entry's state once its document was sent back
RULE = "returned to the station"  # the deletion protocol's `rule` for a return
MAX_REASON = 500


@dataclass(frozen=True)
class Returned(AsJson):
    """A document sent back to its scanning station: what the station needs to find the paper (file name,
    day of receipt, pages, the stack and its pages), why, and whether the station has taken it back."""

    json_names: ClassVar[Mapping[str, str]] = {"original_filename": "file"}

    document_id: uuid.UUID
    returned_at: datetime
    returned_by: str
    reason: str
    station: str
    operator: str
    batch_id: uuid.UUID | None
    original_filename: str
    received_on: date
    page_count: int | None
    sha256: str
    stack: str | None  # the stack it was split from, and its pages there
    deleted: bool  # its scan is deleted (False only while a return is unfinished)
    taken_back_at: datetime | None = None
    taken_back_by: str | None = None


def valid_reason(reason: str) -> str:
    """The triage role's reason for a return: required, one line of at most MAX_REASON characters."""
    text = " ".join(reason.split()) if reason else ""
    if not text:
        raise InvalidInput("say why the document goes back to the station", field="reason")
    if len(text) > MAX_REASON or any(ord(c) < 32 or c == "\x7f" for c in text):
        raise InvalidInput(f"the reason is one line of at most {MAX_REASON} characters", field="reason")
    return text


def return_to_station(archive: Archive, actor: Actor, document_id: uuid.UUID, reason: str) -> Returned:
    """Send a document waiting in the Postkorb back to the station that scanned it, and delete its scan
    (with a line in the deletion protocol). For the triage role; audited under `postkorb` with the reason.

    Refused, with nothing changed: no reason (InvalidInput); a document not waiting in the Postkorb, with
    the answer an unknown one gets (NotFound); a document under a legal hold, or one the store keeps
    under Object Lock (InvalidInput, code `kept`)."""
    text = valid_reason(reason)
    key = archive_protocol_key(archive)  # before anything is changed: a sweep needs it too

    def mark(session: Session, _decision: Decision) -> None:
        doc = waiting_document(session, document_id)
        if session.scalar(select(Document.id).where(Document.id == document_id, is_held(date.today()))):
            raise InvalidInput(
                f"document {document_id} is under a legal hold: it stays in the Postkorb", code="kept"
            )
        now = datetime.now(UTC)
        session.execute(
            update(Document).where(Document.id == document_id).values(state=DocumentState.DELETING)
        )
        session.execute(
            update(PostkorbItem)
            .where(PostkorbItem.document_id == document_id)
            .values(
                state=RETURNED, decided_at=now, decided_by=actor.effective,
                how=f"returned to station {doc.station} by {actor.effective}: {text}"[:500],
            )
        )  # fmt: skip
        session.add(
            PostkorbReturn(
                document_id=document_id, returned_at=now, returned_by=actor.effective, reason=text,
                station=doc.station, operator=doc.operator, batch_id=doc.batch_id,
                original_filename=doc.original_filename, received_on=doc.received_on,
                page_count=doc.page_count, sha256=doc.sha256, storage_key=doc.storage_key,
            )
        )  # fmt: skip

    about = About(document_id=str(document_id), detail=f"postkorb return: {text}"[:400])
    decided(archive, actor, Action.POSTKORB, f"postkorb return {shown(str(document_id))}", mark, about=about)
    problems = finish_returns(archive, actor, only=[document_id], key=key, audited=False)
    if problems.get(document_id, "").startswith("refused:"):
        raise InvalidInput(
            f"document {document_id} stays in the Postkorb: {problems[document_id][9:]}",
            code="kept",
        )
    with archive.reading() as session:
        return _returns(session, select(PostkorbReturn).where(PostkorbReturn.document_id == document_id))[0]


def finish_returns(
    archive: Archive,
    actor: Actor,
    *,
    only: list[uuid.UUID] | None = None,
    key: bytes | None = None,
    audited: bool = True,
) -> dict[uuid.UUID, str]:
    """Steps 2 and 3 of every return not finished yet (`only`: of these documents); the problems by
    document ("refused: …" when the return was undone: the store refused, or a hold came). Called by each
    return and by the sweep, which finishes what an interrupted one left; two of them at once finish each
    return once (step 3 and the undoing check, under the writers' lock, that the return is still open).
    No decision of its own: the return was decided and audited in step 1. `audited`: each deletion
    finished gets an entry of its own (the sweep's, finishing another's return); a return finishing
    itself right away leaves its one entry, the decision's, and the deletion protocol's line."""
    key = key if key is not None else archive_protocol_key(archive)
    stmt = (
        select(PostkorbReturn).where(PostkorbReturn.deleted_at.is_(None)).order_by(PostkorbReturn.returned_at)
    )
    if only is not None:
        stmt = stmt.where(PostkorbReturn.document_id.in_(only))
    with archive.reading() as session:
        pending = [(r.document_id, r.storage_key, r.sha256, r.returned_at) for r in session.scalars(stmt)]
        # Its renditions go with the scan (a document `deleting` gets no new one: ekakte.ocr.rendition).
        derived = derived_keys(session, [p[0] for p in pending])
    problems: dict[uuid.UUID, str] = {}
    for document_id, storage_key, sha256, returned_at in pending:
        keys = [storage_key, *derived.get(document_id, ())]
        if _held(archive, document_id):  # a hold that came after the return was decided: it wins
            if archive.store.stat(storage_key) is not None:
                if _undo(archive, actor, document_id, "a legal hold was put on it"):
                    problems[document_id] = "refused: a legal hold was put on it"
                continue
            problems[document_id] = "held, but its scan had already been deleted by the return"
        else:
            try:
                refused = archive.store.delete_many(keys)
            except (
                StorageError
            ) as exc:  # it stays `deleting`, invisible; the next return or sweep finishes it
                problems[document_id] = str(exc)
                continue
            if storage_key in refused:
                why = f"the store refused to delete it: {refused[storage_key]}"
                if _undo(archive, actor, document_id, why):
                    problems[document_id] = f"refused: {refused[storage_key]}"
                continue
            # A rendition the store keeps (a bucket's default retention) does not keep the scan: named,
            # and gc removes it once the store lets go.
            for left in (k for k in keys if k in refused):
                problems[document_id] = f"deleted, but the store kept its rendition {left}: {refused[left]}"
            keys = [k for k in keys if k not in refused]
        _purge(archive, actor, key, document_id, sha256, returned_at, len(keys), audited=audited)
    return problems


def _held(archive: Archive, document_id: uuid.UUID) -> bool:
    with archive.reading() as session:
        found = session.scalar(select(Document.id).where(Document.id == document_id, is_held(date.today())))
    return found is not None


def _still_open(session: Session, document_id: uuid.UUID) -> bool:
    """Under the writers' lock: the return is not finished or undone yet (by another process finishing
    it at the same time: a return's own call and a sweep), and its document is still `deleting`."""
    serialize_writers(session, audit.AUDIT_LOCK)
    row = session.scalar(
        select(PostkorbReturn.document_id)
        .join(Document, Document.id == PostkorbReturn.document_id)
        .where(
            PostkorbReturn.document_id == document_id,
            PostkorbReturn.deleted_at.is_(None),
            Document.state == DocumentState.DELETING,
        )
        .with_for_update()
    )
    return row is not None


def _purge(
    archive: Archive,
    actor: Actor,
    key: bytes,
    document_id: uuid.UUID,
    sha256: str,
    returned_at: datetime,
    objects: int,
    *,
    audited: bool,
) -> None:
    now = datetime.now(UTC)
    with archive.transaction() as session:
        if not _still_open(session, document_id):
            return
        if audited:
            audit.append(
                session, actor, "postkorb.return", "allowed", document_id=str(document_id),
                reason="an interrupted return to the station finished: scan, pages and row deleted",
            )  # fmt: skip
        session.execute(
            insert_or_ignore(session, DeletionRecord, ["document_id"]).values(
                document_id=str(document_id), document_type="", case_hash=case_hash(key, POSTKORB_CASE),
                rule=RULE, rule_version=0, due_on=_utc(returned_at).date(), deleted_at=now,
                deleted_by=actor.effective, sweep_id=str(document_id), sha256=sha256, objects=objects,
                disposal="never filed in a case: not a record the archive has a right to",
            )
        )  # fmt: skip
        session.execute(delete(Page).where(Page.document_id == document_id))
        session.execute(delete(Document).where(Document.id == document_id))
        session.execute(
            update(PostkorbReturn).where(PostkorbReturn.document_id == document_id).values(deleted_at=now)
        )


def _undo(archive: Archive, actor: Actor, document_id: uuid.UUID, why: str) -> bool:
    """The store refused to delete the object, or a hold came: the document waits in the Postkorb again
    (False: another process finished or undid the return first). The store then learns the hold."""
    with archive.transaction() as session:
        if not _still_open(session, document_id):
            return False
        reason = f"undone, the document waits in the Postkorb again: {why}"
        audit.append(session, actor, "postkorb.return", "failed", document_id=str(document_id), reason=reason)
        session.execute(update(Document).where(Document.id == document_id).values(state=DocumentState.STORED))
        session.execute(
            update(PostkorbItem)
            .where(PostkorbItem.document_id == document_id)
            .values(state=WAITING, decided_at=None, decided_by=None, how=None)
        )
        session.execute(delete(PostkorbReturn).where(PostkorbReturn.document_id == document_id))
    with contextlib.suppress(EkakteError):  # as after an assignment: the next sweep tells it otherwise
        sync_object_locks(archive, [document_id])
    return True


# --- the stations' list ----------------------------------------------------------------------------------


def returned_documents(
    archive: Archive,
    actor: Actor,
    *,
    station: str | None = None,
    open_only: bool = False,
    limit: int | None = None,
    after: str | None = None,
) -> paging.Page[Returned]:
    """The documents sent back to the stations (`station`: to that one; `open_only`: not taken back yet),
    oldest first, `limit` a page and `after` the cursor of the one before. For scan operators and the
    triage role (action `postkorb.returns`): what a station needs to find the paper, no content."""
    check_limit(limit)
    position = paging.decode_time_and_id("returns", after)

    def read(session: Session, _decision: Decision) -> paging.Page[Returned]:
        stmt = select(PostkorbReturn).order_by(PostkorbReturn.returned_at, PostkorbReturn.document_id)
        if station is not None:
            stmt = stmt.where(PostkorbReturn.station == station)
        if open_only:
            stmt = stmt.where(PostkorbReturn.taken_back_at.is_(None))
        if position is not None:
            stmt = stmt.where(tuple_(PostkorbReturn.returned_at, PostkorbReturn.document_id) > position)
        if limit is not None:
            stmt = stmt.limit(limit + 1)
        rows = _returns(session, stmt)
        return paging.cut("returns", rows, limit, lambda r: [r.returned_at.isoformat(), str(r.document_id)])

    detail = f"postkorb returns{f' of station {station}' if station else ''}"[:400]
    return decided(
        archive, actor, Action.RETURNS, "postkorb returns", read, about=About(detail=detail), reads_only=True
    )


def take_back(archive: Archive, actor: Actor, document_id: uuid.UUID) -> Returned:
    """The station has the paper of a returned document back: recorded once, with who and when (asked
    again, the first record stands). NotFound for a document that was not returned."""

    def mark(session: Session, _decision: Decision) -> Returned:
        row = session.get(PostkorbReturn, document_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no document {document_id} was returned to a station")
        if row.taken_back_at is None:
            row.taken_back_at, row.taken_back_by = datetime.now(UTC), actor.effective
            session.flush()
        return _returns(session, select(PostkorbReturn).where(PostkorbReturn.document_id == document_id))[0]

    about = About(document_id=str(document_id), detail="postkorb return taken back")
    refusal = f"postkorb take-back {shown(str(document_id))}"
    return decided(archive, actor, Action.RETURNS, refusal, mark, about=about)


def _returns(session: Session, stmt: Select[PostkorbReturn]) -> list[Returned]:
    rows = list(session.scalars(stmt))
    origins = stack_origins(session, [r.document_id for r in rows])
    return [
        Returned(
            r.document_id, _utc(r.returned_at), r.returned_by, r.reason, r.station, r.operator, r.batch_id,
            r.original_filename, r.received_on, r.page_count, r.sha256, origins.get(r.document_id),
            r.deleted_at is not None, _utc(r.taken_back_at), r.taken_back_by,
        )
        for r in rows
    ]  # fmt: skip


@overload
def _utc(moment: datetime) -> datetime: ...
@overload
def _utc(moment: None) -> None: ...
def _utc(moment: datetime | None) -> datetime | None:
    """SQLite gives back UTC times without saying so."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
