"""The Postkorb: documents that came without a case, listed for the triage role, who assigns each one."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from ekakte import audit, paging
from ekakte.access import About, Action, Decision, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import Settings
from ekakte.db.dialect import serialize_writers
from ekakte.db.models import (
    POSTKORB_CASE,
    Case,
    Document,
    DocumentState,
    OcrState,
    Page,
    PostkorbItem,
    Stack,
    StackPart,
)
from ekakte.errors import ConfigError, EkakteError, InvalidInput, NotFound, shown
from ekakte.ingest import filing_case, pages_team, retention_fields, valid_title
from ekakte.jsonable import AsJson
from ekakte.mailroom.detect import BAD_REFERENCE, UNREADABLE
from ekakte.mailroom.recognize import Candidate, read_case_numbers
from ekakte.ocr.task import CODE_PAGES
from ekakte.paging import check_limit
from ekakte.policy import is_restricted_type
from ekakte.retention.worm import sync_object_locks

WAITING, ASSIGNED = "waiting", "assigned"


@dataclass(frozen=True)
class PostkorbEntry(AsJson):
    """A document waiting in the Postkorb: when it came, why no case was found, where it came from."""

    json_names: ClassVar[Mapping[str, str]] = {"original_filename": "file"}

    document_id: uuid.UUID
    arrived_at: datetime
    reason: str
    received_on: date
    page_count: int | None
    media_type: str
    original_filename: str
    station: str
    stack: str | None  # the stack it was split from, and its pages there
    finding: str | None = None  # what the sort found, once it looked (why it did not file it)


@dataclass(frozen=True)
class Assignment(AsJson):
    """A document moved from the Postkorb into its case."""

    document_id: uuid.UUID
    case_number: str
    document_type: str
    title: str | None
    how: str


def postkorb(
    archive: Archive, actor: Actor, *, limit: int | None = None, after: str | None = None
) -> paging.Page[PostkorbEntry]:
    """The documents waiting in the Postkorb, oldest first (`limit` a page, `after` the cursor of the one
    before). For the triage role only; their pages and text are read as any document's (get_document,
    document_text, render_page), which the policy allows the triage role for the Postkorb's documents."""
    check_limit(limit)
    position = paging.decode_time_and_id("postkorb", after)

    def read(session: Session, _decision: Decision) -> paging.Page[PostkorbEntry]:
        stmt = (
            select(PostkorbItem, Document)
            .join(Document, Document.id == PostkorbItem.document_id)
            .where(PostkorbItem.state == WAITING, Document.state == DocumentState.STORED)
            .order_by(PostkorbItem.arrived_at, PostkorbItem.document_id)
        )
        if position is not None:
            stmt = stmt.where(tuple_(PostkorbItem.arrived_at, PostkorbItem.document_id) > position)
        if limit is not None:
            stmt = stmt.limit(limit + 1)
        found = session.execute(stmt).all()
        origins = stack_origins(session, [doc.id for _item, doc in found])
        rows = [_entry(item, doc, origins.get(doc.id)) for item, doc in found]
        return paging.cut("postkorb", rows, limit, lambda e: [e.arrived_at.isoformat(), str(e.document_id)])

    return decided(
        archive, actor, Action.POSTKORB, "postkorb", read, about=About(detail="postkorb"), reads_only=True
    )


def _entry(item: PostkorbItem, doc: Document, origin: str | None) -> PostkorbEntry:
    return PostkorbEntry(
        doc.id, item.arrived_at, item.reason, doc.received_on, doc.page_count, doc.media_type,
        doc.original_filename, doc.station, origin, item.finding,
    )  # fmt: skip


def stack_origins(session: Session, document_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Where each document came from, "stack.pdf, pages 3-5", for those split from a stack: the first
    stack that recorded it, when the same part's bytes were in two stacks."""
    if not document_ids:
        return {}
    rows = session.execute(
        select(StackPart.document_id, Stack.filename, StackPart.first_page, StackPart.last_page)
        .join(Stack, Stack.id == StackPart.stack_id)
        .where(StackPart.document_id.in_(document_ids))
        .order_by(Stack.started_at, Stack.id)
    )
    origins: dict[uuid.UUID, str] = {}
    for doc_id, name, first, last in rows:
        if doc_id is not None and doc_id not in origins:
            origins[doc_id] = f"{name}, page {first}" if first == last else f"{name}, pages {first}-{last}"
    return origins


def assign_from_postkorb(
    archive: Archive,
    actor: Actor,
    document_id: uuid.UUID,
    case_number: str,
    document_type: str,
    *,
    title: str | None = None,
) -> Assignment:
    """Move a document from the Postkorb into a case, with its type (and title): from then on it is the
    case's like any document imported into it (its team sees it, its type's restriction and retention
    rule apply). The case is created if the archive does not know it yet, as an import creates it.

    Refused (the Postkorb entry unchanged): a case number, type or title the archive does not take
    (InvalidInput); a document not waiting in the Postkorb, with the same answer as one that does not
    exist (NotFound); a case that holds the same scan already (InvalidInput). Audited under `postkorb`,
    naming the case the document goes to."""
    settings = archive.settings
    number = settings.case_number(case_number)
    doc_type = settings.document_type(document_type)
    title = valid_title(title)
    how = f"assigned by {actor.effective}"

    def move(session: Session, _decision: Decision) -> Assignment:
        waiting_document(session, document_id)
        return _move(archive, session, actor, document_id, number, doc_type, title, how, create=True)

    about = About(case_number=number, document_id=str(document_id), detail="postkorb assign")
    done = decided(
        archive, actor, Action.POSTKORB, f"postkorb assign {shown(str(document_id))}", move, about=about
    )
    _tell_store(archive, document_id)
    return done


def waiting_document(session: Session, document_id: uuid.UUID) -> Document:
    """The document, locked, if it waits in the Postkorb; NotFound otherwise (alike for one that does not
    exist, one in a case, one assigned already)."""
    doc = session.scalars(
        select(Document)
        .join(Case, Case.id == Document.case_id)
        .join(PostkorbItem, PostkorbItem.document_id == Document.id)
        .where(
            Document.id == document_id,
            Document.state == DocumentState.STORED,
            Case.case_number == POSTKORB_CASE,
            PostkorbItem.state == WAITING,
        )
        .with_for_update()
    ).first()
    if doc is None:
        raise NotFound(f"no document {document_id} in the Postkorb")
    return doc


def _move(
    archive: Archive,
    session: Session,
    actor: Actor,
    document_id: uuid.UUID,
    number: str,
    doc_type: str,
    title: str | None,
    how: str,
    *,
    create: bool,
) -> Assignment:
    """Move the (locked, waiting) document into case `number` (created if `create`), with its type."""
    doc = waiting_document(session, document_id)
    now = datetime.now(UTC)
    case_id, closed_on, team_id = filing_case(session, number, now, create=create)
    there = session.scalar(
        select(Document.id).where(Document.case_id == case_id, Document.sha256 == doc.sha256)
    )
    if there is not None:  # the id of the document there is not the triage role's to see
        raise InvalidInput(f"case {number} holds this scan already", code="already-in-case")
    restricted = is_restricted_type(session, doc_type)
    row = {"document_type": doc_type, "received_on": doc.received_on, "document_date": doc.document_date}
    due = retention_fields(archive, session, row, closed_on)
    session.execute(
        update(Document)
        .where(Document.id == document_id)
        .values(case_id=case_id, document_type=doc_type, title=title, restricted=restricted, **due)
    )
    page_team = pages_team(team_id, restricted)
    session.execute(update(Page).where(Page.document_id == document_id).values(team_id=page_team))
    session.execute(
        update(PostkorbItem)
        .where(PostkorbItem.document_id == document_id)
        .values(state=ASSIGNED, decided_at=now, decided_by=actor.effective, case_number=number, how=how[:500])
    )
    return Assignment(document_id, number, doc_type, title, how)


def _tell_store(archive: Archive, document_id: uuid.UUID) -> None:
    """S3 Object Lock: the store learns the due date the document now has; if it does not take it now,
    the next sweep tells it (as after an import)."""
    with contextlib.suppress(EkakteError):
        sync_object_locks(archive, [document_id])


# --- the sort: a case number in the first pages' text -------------------------------------------------

SORTED_PAGES = CODE_PAGES  # the pages the sort reads: a letter names its case at its head


@dataclass(frozen=True)
class Sorted(AsJson):
    """What the sort made of a document: filed (`assigned`), or left for a person, and why (`finding`)."""

    document_id: uuid.UUID
    finding: str
    assigned: Assignment | None = None
    pending: bool = False  # its first pages are not read yet: it is looked at again later


def sort_postkorb_document(archive: Archive, actor: Actor, document_id: uuid.UUID) -> Sorted:
    """Read the case number in a waiting document's first pages (their OCR text) and file it there, with
    the type `mail_document_type`, when exactly one case number is read with certainty, it names a case
    the archive has, and nothing else on those pages reads as a case number. Otherwise the document stays
    for the triage role, with what the sort found (no case number; several; a doubtful one; an unknown
    case). Its first pages must have been read: until then it is left alone (`pending`) and looked at
    again. For the triage role (a principal of its own for the cron job); audited under `postkorb` with
    what was found, naming the case it went to.

    The case number found in the text is never taken as more than it is: the pattern must fit whole
    words (ekakte.mailroom.recognize), and the case must exist, so that a misread number that happens to
    fit the pattern lands nowhere rather than in a stranger's case."""
    settings = archive.settings
    if not settings.mail_document_type:
        raise ConfigError("the sort files documents with the type mail_document_type, which is not set")
    doc_type = settings.document_type(settings.mail_document_type)
    verdict: dict[str, Any] = {}

    def about(session: Session) -> About:
        serialize_writers(session, audit.AUDIT_LOCK)  # first, as every writer takes it (detail_after)
        verdict.update(_verdict(session, document_id, settings))
        return About(case_number=verdict.get("case_number"), document_id=str(document_id))

    def work(session: Session, _decision: Decision) -> Sorted:
        if "missing" in verdict:
            raise NotFound(f"no document {document_id} in the Postkorb")
        now = datetime.now(UTC)
        if verdict.get("pending"):
            return Sorted(document_id, verdict["finding"], pending=True)
        number = verdict.get("case_number")
        assigned = None
        if number is not None:
            try:
                assigned = _move(
                    archive, session, actor, document_id, number, doc_type, None, verdict["how"], create=False
                )
            except InvalidInput as exc:  # checked before anything was written: the finding, not an error
                verdict["finding"] = f"not filed: {exc}"
        session.execute(
            update(PostkorbItem)
            .where(PostkorbItem.document_id == document_id)
            .values(sorted_at=now, finding=verdict["finding"][:500])
        )
        return Sorted(document_id, verdict["finding"], assigned)

    done = decided(
        archive, actor, Action.POSTKORB, f"postkorb sort {shown(str(document_id))}", work, about=about,
        detail_after=lambda r: f"postkorb sort: {r.finding}"[:400],
    )  # fmt: skip
    if done.assigned is not None:
        _tell_store(archive, document_id)
    return done


def _verdict(session: Session, document_id: uuid.UUID, settings: Settings) -> dict[str, Any]:
    """What the first pages' text says: the case to file the document in (`case_number`, `how`), or why
    not (`finding`); `pending` while a page is not read; `missing` when the document does not wait."""
    waiting = session.scalar(
        select(PostkorbItem.document_id).where(
            PostkorbItem.document_id == document_id, PostkorbItem.state == WAITING
        )
    )
    if waiting is None:
        return {"missing": True}
    pages = session.execute(
        select(Page.number, Page.ocr_state, Page.text, Page.codes)
        .where(Page.document_id == document_id, Page.number <= SORTED_PAGES)
        .order_by(Page.number)
    ).all()
    if any(state == OcrState.PENDING for _, state, _, _ in pages):
        return {"pending": True, "finding": "its first pages are not read yet"}
    found: dict[str, tuple[int, Candidate]] = {}
    coded: dict[str, int] = {}  # case numbers ekakte's reference codes name, and the first page of each
    unreadable: int | None = None  # the first page with a QR code that could not be read
    for number, _, text, codes in pages:
        for line in codes.split("\n") if codes else []:
            if line.startswith("!"):
                if line.startswith(f"!{BAD_REFERENCE}"):  # ekakte's, not to be trusted: no guessing around it
                    return {"finding": f"a damaged reference code on page {number}: {line[1:]}"[:500]}
                if line.startswith(f"!{UNREADABLE}") and unreadable is None:
                    unreadable = number
                continue
            named = line.split("\t", 1)[0]
            try:  # anyone can print a code: what it names is checked as any input is
                coded.setdefault(settings.case_number(named), number)
            except InvalidInput:
                return {"finding": f"a reference code on page {number} names no case number: {named!r}"[:500]}
        reading = read_case_numbers(text or "", settings.case_number_pattern)
        if reading.doubtful:
            return {"finding": f"a doubtful case number on page {number}: {reading.doubtful[0]!r}"}
        for candidate in reading.candidates:
            found.setdefault(candidate.case_number, (number, candidate))
    if len(coded) > 1:
        return {"finding": f"reference codes naming several cases: {', '.join(sorted(coded))}"}
    if coded and unreadable is not None:  # it may be another letter's code: the first one does not decide
        return {"finding": f"a QR code on page {unreadable} could not be read beside the reference code"}
    if coded:
        ((value, page),) = coded.items()
        others = sorted(set(found) - {value})
        if others:
            return {"finding": f"the reference code names case {value}, the text {', '.join(others)}"}
        how = f"sorted: the reference code on page {page} names case {value}"
        if value in found:
            how += f", and the text on page {found[value][0]} too ({found[value][1].text!r})"
    elif not found:
        return {"finding": f"no case number on its first {SORTED_PAGES} pages"}
    elif len(found) > 1:
        return {"finding": f"several case numbers: {', '.join(sorted(found))}"}
    else:
        ((value, (page, candidate)),) = found.items()
        how = f"sorted: case number on page {page}, {candidate.text!r} ({candidate.how})"
    exists = session.scalar(
        select(Case.id).where(Case.case_number == value, Case.case_number != POSTKORB_CASE)
    )
    if exists is None:
        where = "named by its reference code" if coded else f"read on page {found[value][0]}"
        return {"finding": f"case {value} ({where}) is not in the archive"}
    return {"case_number": value, "how": how[:500], "finding": f"filed in case {value}: {how}"[:500]}
