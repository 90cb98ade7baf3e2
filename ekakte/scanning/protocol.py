"""A batch's scan protocol and each scanned document's transfer note (Transfervermerk), read from what the
import, the splitter, the OCR worker, the Postkorb and the second person's check recorded."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ekakte.access import About, Action, Decision, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import (
    Document,
    ImportBatch,
    Page,
    PostkorbItem,
    PostkorbReturn,
    ScanCheck,
    ScanFile,
    ScanRecord,
    ScanSeal,
    Stack,
    StackPart,
)
from ekakte.errors import NotFound
from ekakte.jsonable import AsJson

WITHHELD = "(restricted: withheld)"


@dataclass(frozen=True)
class PageLine(AsJson):
    number: int
    dpi: int | None  # as read from the page's image; None: not known
    mode: str | None  # bitonal, grayscale, colour
    blank: bool | None  # found blank by the OCR worker; None: not read yet


@dataclass(frozen=True)
class CheckLine(AsJson):
    result: str  # passed, failed
    checked_at: datetime
    checked_by: str
    note: str | None
    sample: list[str]  # the documents looked at
    documents: int  # of how many


@dataclass(frozen=True)
class TransferNote(AsJson):
    """What a scanned document carries: who scanned it, when, at which station and settings, each page as
    scanned, the anomalies, how it got its case, the second person's check and the statement."""

    document_id: str
    batch_id: str | None
    filename: str
    sha256: str
    page_count: int | None
    scanned_at: datetime
    scanned_by: str
    station: str
    settings: dict[str, Any]
    pages: list[PageLine]
    anomalies: list[str]
    assignment: str
    check: str  # "passed", "failed", "not checked"
    in_sample: bool
    statement: str
    state: str  # stored, deleted, returned to the station


@dataclass(frozen=True)
class FileLine(AsJson):
    name: str
    status: str  # stored, already_stored, refused, stack
    at: datetime
    reason: str | None
    sha256: str | None
    size_bytes: int | None
    page_count: int | None
    document_id: str | None
    stack_id: str | None


@dataclass(frozen=True)
class PartLine(AsJson):
    first_page: int
    last_page: int
    kind: str  # document, cover, separator, back
    case_number: str | None
    document_type: str | None
    document_id: str | None


@dataclass(frozen=True)
class StackLine(AsJson):
    stack_id: str
    filename: str
    sha256: str
    page_count: int
    sheets: int  # cover and separator sheets found
    blank_backs: int  # blank backs of sheets, not stored
    parts: list[PartLine]


@dataclass(frozen=True)
class ScanProtocol(AsJson):
    batch_id: str
    station: str
    operator: str
    source: str | None
    started_at: datetime
    finished_at: datetime | None
    files: list[FileLine]
    stacks: list[StackLine]
    documents: list[TransferNote]
    check: CheckLine | None
    checker: str | None  # who has taken the check on, while it is under way
    sealed_at: datetime | None
    seal_sha256: str | None

    @property
    def refused(self) -> list[FileLine]:
        return [f for f in self.files if f.status == "refused"]

    def json_extra(self) -> dict[str, Any]:
        return {"refused": len(self.refused), "anomalies": sum(len(d.anomalies) for d in self.documents)}


def parse_batch_id(text: str) -> uuid.UUID:
    from ekakte.errors import InvalidInput

    try:
        return uuid.UUID(text.strip())
    except ValueError:
        raise InvalidInput(f"invalid batch id {text!r}: expected a UUID", field="batch_id") from None


def scan_protocol(archive: Archive, actor: Actor, batch_id: uuid.UUID) -> ScanProtocol:
    """A batch's scan protocol: its files, stacks, documents (with their transfer notes), refusals and
    check. For scan operators, the triage role, records managers and auditors (action `scan.protocol`):
    no content; the file names of restricted documents only for those with the health clearance."""

    def read(session: Session, decision: Decision) -> ScanProtocol:
        found = read_protocol(session, batch_id, details=_sees_restricted(decision))
        if found is None:
            raise NotFound(f"no batch {batch_id}")
        return found

    return decided(
        archive, actor, Action.SCAN_PROTOCOL, f"batch {batch_id}", read,
        about=About(detail=f"scan protocol of batch {batch_id}"), reads_only=True,
    )  # fmt: skip


def _sees_restricted(decision: Decision) -> bool:
    return decision.subject is not None and decision.subject.health_clearance


def read_protocol(session: Session, batch_id: uuid.UUID, *, details: bool) -> ScanProtocol | None:
    batch = session.get(ImportBatch, batch_id)
    if batch is None:
        return None
    check = session.get(ScanCheck, batch_id)
    check_line = _check_line(check)
    seal = session.scalars(select(ScanSeal).where(ScanSeal.batch_id == batch_id)).first()
    records = list(
        session.scalars(
            select(ScanRecord).where(ScanRecord.batch_id == batch_id).order_by(ScanRecord.scanned_at)
        )
    )
    notes = notes_of(session, records, check_line, details=details)
    lines = list(session.scalars(select(ScanFile).where(ScanFile.batch_id == batch_id).order_by(ScanFile.id)))
    in_batch = select(Stack).where(Stack.batch_id == batch_id)
    stacks = list(session.scalars(in_batch))
    parts = {s.id: _parts(session, s) for s in stacks}
    # Withheld per document, whichever batch stored it (a line "already stored" names an earlier one's).
    named = {f.document_id for f in lines} | {p.document_id for ps in parts.values() for p in ps}
    hidden = set() if details else _restricted(session, {i for i in named if i is not None})
    under_way = check.checked_by if check is not None and check.result is None else None
    return ScanProtocol(
        str(batch.id), batch.station, batch.operator, batch.source, batch.started_at, batch.finished_at,
        [_file_line(f, withheld=f.document_id in hidden) for f in lines],
        [_stack_line(s, parts[s.id], hidden) for s in stacks], notes, check_line, under_way,
        seal.sealed_at if seal else None, seal.sha256 if seal else None,
    )  # fmt: skip


def _restricted(session: Session, ids: set[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    return set(
        session.scalars(select(Document.id).where(Document.id.in_(ids), Document.restricted.is_(True)))
    )


def _check_line(check: ScanCheck | None) -> CheckLine | None:
    """The recorded check; None while there is none or it is under way."""
    if check is None or check.result is None or check.checked_at is None:
        return None
    sample = json.loads(check.sample)
    return CheckLine(check.result, check.checked_at, check.checked_by, check.note, sample, check.documents)


def _file_line(row: ScanFile, *, withheld: bool) -> FileLine:
    return FileLine(
        WITHHELD if withheld else row.name, row.status, row.at, row.reason, row.sha256, row.size_bytes,
        row.page_count, _text(row.document_id), _text(row.stack_id),
    )  # fmt: skip


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _parts(session: Session, stack: Stack) -> list[StackPart]:
    stmt = select(StackPart).where(StackPart.stack_id == stack.id).order_by(StackPart.first_page)
    return list(session.scalars(stmt))


def _stack_line(stack: Stack, parts: list[StackPart], hidden: set[uuid.UUID]) -> StackLine:
    """A stack and its parts; a restricted document's case and type (its cover sheet's) withheld from
    a reader without the health clearance, as its file name is."""

    def line(p: StackPart) -> PartLine:
        secret = p.document_id in hidden
        return PartLine(
            p.first_page, p.last_page, p.kind, None if secret else p.case_number,
            WITHHELD if secret else p.document_type, _text(p.document_id),
        )  # fmt: skip

    return StackLine(
        str(stack.id), stack.filename, stack.sha256, stack.page_count,
        sum(1 for p in parts if p.kind in ("cover", "separator")), sum(1 for p in parts if p.kind == "back"),
        [line(p) for p in parts],
    )  # fmt: skip


def notes_of(
    session: Session, records: list[ScanRecord], check: CheckLine | None, *, details: bool
) -> list[TransferNote]:
    """The transfer notes of these records, with what was learnt since the import: blank pages (the OCR
    worker), how each got its case, the check, whether the document is still stored."""
    ids = [r.document_id for r in records]
    if not ids:
        return []
    docs = {d.id: d for d in session.scalars(select(Document).where(Document.id.in_(ids)))}
    blanks: dict[uuid.UUID, dict[int, bool | None]] = {}
    for doc_id, number, blank in session.execute(
        select(Page.document_id, Page.number, Page.blank).where(Page.document_id.in_(ids))
    ):
        blanks.setdefault(doc_id, {})[number] = blank
    postkorb = {
        p.document_id: p
        for p in session.scalars(select(PostkorbItem).where(PostkorbItem.document_id.in_(ids)))
    }
    returned = {
        r.document_id
        for r in session.scalars(select(PostkorbReturn).where(PostkorbReturn.document_id.in_(ids)))
    }
    covers = _covers(session, records)
    return [
        _note(r, docs.get(r.document_id), blanks.get(r.document_id, {}), postkorb.get(r.document_id),
              r.document_id in returned, covers.get(r.document_id), check, details=details)
        for r in records
    ]  # fmt: skip


def _covers(session: Session, records: list[ScanRecord]) -> dict[uuid.UUID, StackPart]:
    """The cover or separator sheet each stack part followed, by the part's document."""
    found: dict[uuid.UUID, StackPart] = {}
    stacks = {r.stack_id for r in records if r.stack_id is not None}
    for stack_id in stacks:
        sheet: StackPart | None = None
        for part in session.scalars(
            select(StackPart).where(StackPart.stack_id == stack_id).order_by(StackPart.first_page)
        ):
            if part.kind in ("cover", "separator"):
                sheet = part
            elif part.document_id is not None and sheet is not None:
                found[part.document_id] = sheet
    return found


def _note(
    record: ScanRecord,
    doc: Document | None,
    blanks: dict[int, bool | None],
    postkorb: PostkorbItem | None,
    returned: bool,
    sheet: StackPart | None,
    check: CheckLine | None,
    *,
    details: bool,
) -> TransferNote:
    pages = [
        PageLine(number, dpi, mode, blanks.get(number)) for number, dpi, mode in json.loads(record.pages)
    ]
    anomalies = list(json.loads(record.anomalies))
    blank = [p.number for p in pages if p.blank]
    if blank:
        anomalies.append(f"blank {'page' if len(blank) == 1 else 'pages'} kept: {', '.join(map(str, blank))}")
    if record.removed:
        removed = json.loads(record.removed)
        anomalies.append(f"blank pages removed at import: {', '.join(map(str, removed))}")
    restricted = doc is not None and doc.restricted
    in_sample = check is not None and str(record.document_id) in check.sample
    state = "stored" if doc is not None else "returned to the station" if returned else "deleted"
    return TransferNote(
        str(record.document_id), _text(record.batch_id),
        WITHHELD if restricted and not details else record.filename,
        record.sha256, record.page_count, record.scanned_at, record.scanned_by, record.station,
        json.loads(record.settings), pages, anomalies, _assignment(record, postkorb, sheet),
        check.result if check else "not checked", in_sample, statement(check, in_sample), state,
    )  # fmt: skip


def _assignment(record: ScanRecord, postkorb: PostkorbItem | None, sheet: StackPart | None) -> str:
    if postkorb is not None:
        if postkorb.state == "assigned":
            how = postkorb.how or postkorb.decided_by
            return f"Postkorb ({postkorb.reason}), then assigned to a case: {how}"
        return f"in the Postkorb: {postkorb.reason}"
    if sheet is not None and sheet.kind == "cover":
        return f"by the cover sheet on page {sheet.first_page} of its stack"
    return "case and type named at import (sidecar or command)"


def statement(check: CheckLine | None, in_sample: bool) -> str:
    """The transfer note's statement on whether the scan matches the paper (German, as it is filed)."""
    if check is None:
        return (
            "Die Übereinstimmung mit dem Papieroriginal ist noch nicht geprüft; das Papier ist aufzubewahren."
        )
    when = f"{check.checked_at:%d.%m.%Y}"
    how = (
        "dieses Dokument war in der Stichprobe"
        if in_sample
        else f"Stichprobe von {len(check.sample)} der {check.documents} Dokumente des Stapels"
    )
    if check.result == "passed":
        return (
            "Das Digitalisat stimmt bildlich und inhaltlich mit dem Papieroriginal überein:"
            f" geprüft am {when} von {check.checked_by} ({how})."
        )
    return (
        f"Die Prüfung am {when} durch {check.checked_by} fand Mängel ({how}): das Papier ist aufzubewahren"
        " und erneut zu scannen."
    )


def transfer_note(archive: Archive, actor: Actor, document_id: uuid.UUID) -> TransferNote:
    """A document's transfer note, for whoever may see the document's metadata (`doc show`); NotFound for
    a document that has none (imported before the scan protocol existed, or not scanned)."""
    from ekakte.documents import get_document

    info = get_document(archive, actor, document_id)
    with archive.reading() as session:
        record = session.get(ScanRecord, document_id)
        if record is None:
            raise NotFound(f"document {document_id} has no transfer note (it was stored without one)")
        check = session.get(ScanCheck, record.batch_id) if record.batch_id else None
        line = _check_line(check)
        notes = notes_of(session, [record], line, details=info.original_filename is not None)
    return notes[0]
