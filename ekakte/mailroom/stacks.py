"""Importing a stack: find its sheets, split it, store each part as a document, record the split."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ekakte import audit
from ekakte.access import Action
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.dialect import insert_or_ignore
from ekakte.db.models import POSTKORB_CASE, ScanRecord
from ekakte.db.models import Stack as StackRow
from ekakte.db.models import StackPart as PartRow
from ekakte.errors import STOPS_A_BATCH, EkakteError, InvalidInput, UnsupportedFile, shown
from ekakte.ingest import (
    BatchReport,
    DocumentMeta,
    ImportResult,
    Scan,
    authorize_import,
    close_batch,
    import_document,
    import_unassigned,
    note_file,
    note_refusal,
    open_scan,
    start_batch,
    station_id,
    validated,
)
from ekakte.mailroom.split import Part, Stack, plan
from ekakte.media import ENCRYPTED_REASON, inspect_stream
from ekakte.scanning.pages import check_resolution, page_scans
from ekakte.scanning.records import STACK
from ekakte.storage.base import file_sha256


@dataclass(frozen=True)
class StackPartResult:
    """One page range of the stack and what it became (`document` for the parts stored)."""

    kind: str
    first_page: int
    last_page: int
    case_number: str | None = None
    document_type: str | None = None
    document: ImportResult | None = None
    postkorb: str | None = None  # why the part went to the Postkorb, not to a case


@dataclass
class StackReport:
    """What became of a stack: its record's id, its SHA-256 and pages, and every part in page order."""

    stack_id: uuid.UUID
    filename: str
    sha256: str
    page_count: int
    parts: list[StackPartResult] = field(default_factory=list)

    @property
    def documents(self) -> list[ImportResult]:
        return [p.document for p in self.parts if p.document is not None]

    def as_json(self) -> dict[str, Any]:
        return {
            "stack_id": str(self.stack_id),
            "file": self.filename,
            "sha256": self.sha256,
            "pages": self.page_count,
            "parts": [
                {
                    "kind": p.kind,
                    "first_page": p.first_page,
                    "last_page": p.last_page,
                    **(
                        {"case_number": p.case_number, "document_type": p.document_type}
                        if p.case_number
                        else {}
                    ),
                    **({"document": p.document.as_json()} if p.document else {}),
                    **({"postkorb": p.postkorb} if p.postkorb else {}),
                }
                for p in self.parts
            ],
        }


def import_stack(
    archive: Archive,
    actor: Actor,
    source: Path | Scan,
    *,
    received_on: date | None = None,
    station: str | None = None,
    batch_id: uuid.UUID | None = None,
    progress: Callable[[int], None] | None = None,
) -> StackReport:
    """Split a stack at its cover and separator sheets and store each part as a document of the case and
    type its cover sheet names. Parts no case is known for go to the Postkorb (ekakte.mailroom.postkorb),
    each with the reason: the pages before the first cover sheet, those after a separator sheet, those
    after a cover sheet naming a case number or type the archive does not take. NotPermitted unless the
    actor may import (here, or by start_batch).

    Refused before anything is stored (InvalidInput / UnsupportedFile, one line naming the page): not a
    PDF or TIFF, an encrypted PDF, a sheet whose code does not check out (where one document ends cannot
    be known), a stack without a document.

    Order of writes — a crash between any two leaves what a re-run of the same stack finishes:
      1. read the stack, find its sheets, plan the parts (nothing written);
      2. one transaction: the stack and all its page ranges (or, re-run, the ones recorded before,
         which must agree with the plan);
      3. per document part, in page order: write the part (the same stack gives the same bytes),
         import it (import_document or import_unassigned), its document id and SHA-256 recorded on the
         part's row in the transaction that inserts the document (or, already stored, right after);
      4. the stack's finished_at, once every part has its document.
    A part recorded in step 3 is "already stored" on a re-run without being stored again.
    """
    if batch_id is None:
        authorize_import(archive, actor)
    station = station_id(archive, station)
    if isinstance(source, Scan):
        return _import(archive, actor, source, received_on, station, batch_id, progress)
    with open_scan(archive, source) as scan:
        return _import(archive, actor, scan, received_on, station, batch_id, progress)


def _import(
    archive: Archive,
    actor: Actor,
    scan: Scan,
    received_on: date | None,
    station: str,
    batch_id: uuid.UUID | None,
    progress: Callable[[int], None] | None,
) -> StackReport:
    fh = scan.file
    media = inspect_stream(fh, max_pages=archive.settings.max_pages)
    if media.encrypted or media.page_count is None:
        raise UnsupportedFile(f"{shown(scan.path.name)}: {ENCRYPTED_REASON}; a stack cannot be split")
    # The whole stack, before anything is split.
    check_resolution(archive.settings, page_scans(fh, media.media_type))
    fh.seek(0)
    sha256, size = file_sha256(fh)
    stack = Stack(fh, media.media_type, media.page_count)
    parts = plan(stack.examine_pages(progress))
    metas = _metas(archive, parts, received_on)

    stack_id = _record_plan(archive, scan.path.name, media.media_type, media.page_count, size, sha256,
                            station, actor, batch_id, parts, metas)  # fmt: skip
    report = StackReport(stack_id, shown(scan.path.name), sha256, media.page_count)
    recorded = _recorded_documents(archive, stack_id)
    stem, suffix = Path(scan.path.name).stem, Path(scan.path.name).suffix
    for part in parts:
        meta = metas.get(part.first)
        if meta is None:
            report.parts.append(_sheet_result(part))
            continue
        row = recorded.get(part.first)
        if row is not None and row.document_id is not None:
            result = _already(archive, actor, part, row, media.media_type, stem, suffix)
        else:
            result = _store_part(
                archive, actor, stack, stack_id, part, meta, station, batch_id, stem, suffix, received_on
            )
            if result.status != "stored":  # a stored one was recorded with its row
                _record_document(archive, stack_id, part.first, result)
        postkorb = meta if isinstance(meta, str) else None
        report.parts.append(
            StackPartResult(
                "document", part.first, part.last, result.case_number,
                result.document_type or None, result, postkorb,
            )
        )  # fmt: skip
    with archive.transaction() as session:
        session.execute(
            update(StackRow)
            .where(StackRow.id == stack_id, StackRow.finished_at.is_(None))
            .values(finished_at=datetime.now(UTC))
        )
    return report


def _metas(archive: Archive, parts: list[Part], received_on: date | None) -> dict[int, DocumentMeta | str]:
    """For each document part (by its first page): the validated metadata of its cover sheet, or why it
    goes to the Postkorb instead (no cover sheet before it, a separator sheet, a cover sheet naming a
    case number or type the archive does not take)."""
    metas: dict[int, DocumentMeta | str] = {}
    for part in parts:
        if part.kind != "document":
            continue
        sheet = part.sheet
        if part.doubt:
            metas[part.first] = (
                f"page {part.first} carries a QR code that could not be read: it may be a cover sheet"
            )
        elif sheet is None:
            metas[part.first] = "no cover sheet before it in the stack"
        elif not sheet.is_cover:
            metas[part.first] = f"after the separator sheet on page {_sheet_page(parts, part)}"
        else:
            meta = DocumentMeta(sheet.case_number or "", sheet.document_type or "", received_on, sheet.title)
            try:
                metas[part.first] = validated(archive, meta)
            except InvalidInput as exc:
                metas[part.first] = f"the cover sheet on page {_sheet_page(parts, part)}: {exc}"[:500]
    if not metas:
        raise InvalidInput("the stack holds sheets but no document", code="empty-stack")
    return metas


def _sheet_page(parts: list[Part], part: Part) -> int:
    """The page of the sheet the document part follows (a blank back may lie between them)."""
    sheets = [p.first for p in parts if p.kind in ("cover", "separator") and p.first < part.first]
    return sheets[-1] if sheets else part.first


def _record_plan(
    archive: Archive,
    filename: str,
    media_type: str,
    page_count: int,
    size: int,
    sha256: str,
    station: str,
    actor: Actor,
    batch_id: uuid.UUID | None,
    parts: list[Part],
    metas: dict[int, DocumentMeta | str],
) -> uuid.UUID:
    """The stack's row and its page ranges (step 2); the id of the stack as first recorded."""
    with archive.transaction() as session:
        session.execute(
            insert_or_ignore(session, StackRow, ["sha256"]).values(
                id=uuid.uuid4(),
                sha256=sha256,
                filename=filename[:1000],
                media_type=media_type,
                page_count=page_count,
                size_bytes=size,
                batch_id=batch_id,
                station=station,
                operator=actor.name,
                started_at=datetime.now(UTC),
            )
        )
        stack_id: uuid.UUID = session.scalars(select(StackRow.id).where(StackRow.sha256 == sha256)).one()
        before = {
            row.first_page: (row.last_page, row.kind)
            for row in session.execute(
                select(PartRow.first_page, PartRow.last_page, PartRow.kind).where(
                    PartRow.stack_id == stack_id
                )
            )
        }
        now = {part.first: (part.last, part.kind) for part in parts}
        if before and before != now:
            raise InvalidInput(
                "this stack was split differently when it was first imported; its recorded split stands",
                code="stack-split-differs",
            )
        if not before:
            for part in parts:
                given = metas.get(part.first)
                meta = given if isinstance(given, DocumentMeta) else None
                sheet = part.sheet if part.kind in ("cover", "separator") else None
                session.add(
                    PartRow(
                        stack_id=stack_id,
                        first_page=part.first,
                        last_page=part.last,
                        kind=part.kind,
                        # What a sheet said is recorded as it said it, cut to the columns: a sheet naming a
                        # type the archive does not take may name one longer than any it takes.
                        case_number=meta.case_number
                        if meta
                        else _cut(sheet.case_number if sheet else None, 64),
                        document_type=meta.document_type
                        if meta
                        else _cut(sheet.document_type if sheet else None, 64),
                        title=meta.title if meta else _cut(sheet.title if sheet else None, 500),
                    )
                )
    return stack_id


def _cut(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


def _recorded_documents(archive: Archive, stack_id: uuid.UUID) -> dict[int, PartRow]:
    with archive.reading() as session:
        rows = session.scalars(select(PartRow).where(PartRow.stack_id == stack_id)).all()
        session.expunge_all()
    return {row.first_page: row for row in rows}


def _part_name(stem: str, suffix: str, part: Part) -> str:
    return f"{stem}_p{part.first}-{part.last}{suffix}"


def _store_part(
    archive: Archive,
    actor: Actor,
    stack: Stack,
    stack_id: uuid.UUID,
    part: Part,
    meta: DocumentMeta | str,
    station: str,
    batch_id: uuid.UUID | None,
    stem: str,
    suffix: str,
    received_on: date | None,
) -> ImportResult:
    """Write the part to a private temporary file (unlinked from the start) and import it: into the case
    its cover sheet names, or (`meta` a reason) into the Postkorb. A part stored is recorded on its
    range in the transaction that inserts its document (so that no one can assign, return or delete a
    document its stack does not know yet); one already stored, by the caller afterwards."""

    def record(session: Session, row: dict[str, Any]) -> None:
        session.execute(
            update(PartRow)
            .where(PartRow.stack_id == stack_id, PartRow.first_page == part.first)
            .values(document_id=row["id"], sha256=row["sha256"], size_bytes=row["size_bytes"])
        )
        session.execute(
            update(ScanRecord)
            .where(ScanRecord.document_id == row["id"])
            .values(stack_id=stack_id, first_page=part.first)
        )

    with tempfile.TemporaryFile(prefix="ekakte-part-") as out:
        stack.write_part(out, part.first, part.last)
        out.flush()
        scan = Scan(Path(_part_name(stem, suffix, part)), out)
        if isinstance(meta, str):
            return import_unassigned(
                archive, actor, scan, reason=meta, received_on=received_on, station=station,
                batch_id=batch_id, also=record,
            )  # fmt: skip
        return import_document(archive, actor, scan, meta, station=station, batch_id=batch_id, also=record)


def _record_document(archive: Archive, stack_id: uuid.UUID, first: int, result: ImportResult) -> None:
    with archive.transaction() as session:
        session.execute(
            update(PartRow)
            .where(PartRow.stack_id == stack_id, PartRow.first_page == first)
            .values(document_id=result.document_id, sha256=result.sha256, size_bytes=result.size_bytes)
        )


def _already(
    archive: Archive,
    actor: Actor,
    part: Part,
    row: PartRow,
    media_type: str,
    stem: str,
    suffix: str,
) -> ImportResult:
    """A part stored before (its row has the document): reported and audited as already stored, never
    stored again, wherever it is now (the triage role may have assigned it, the sweep deleted it)."""
    assert row.document_id is not None
    # As the stack recorded it (its cover sheet's case and type, or the Postkorb), not where it is now: the
    # operator importing the stack again is not to learn where the triage role filed a letter.
    case_number = row.case_number if row.case_number and row.document_type else POSTKORB_CASE
    document_type = row.document_type or ""
    with archive.transaction() as session:
        audit.append(
            session, actor, Action.IMPORT, "allowed", case_number=case_number,
            document_id=str(row.document_id), reason="already stored",
        )  # fmt: skip
    return ImportResult(
        status="already_stored",
        document_id=row.document_id,
        filename=_part_name(stem, suffix, part),
        case_number=case_number,
        document_type=document_type,
        media_type=media_type,
        page_count=part.pages,
        size_bytes=row.size_bytes or 0,
        sha256=row.sha256 or "",
    )


def _sheet_result(part: Part) -> StackPartResult:
    sheet = part.sheet
    return StackPartResult(
        part.kind,
        part.first,
        part.last,
        sheet.case_number if sheet else None,
        sheet.document_type if sheet else None,
    )


def note_stack(archive: Archive, report: BatchReport, stack: StackReport) -> bool:
    """The scan protocol's line of a stack split in the batch (its parts are in stack_parts, its
    documents' records name it); False as ingest.note_result."""
    return note_file(
        archive, report, stack.filename, STACK, sha256=stack.sha256, page_count=stack.page_count,
        stack_id=stack.stack_id,
    )  # fmt: skip


def import_stacks(
    archive: Archive,
    actor: Actor,
    paths: list[Path],
    *,
    received_on: date | None = None,
    station: str | None = None,
) -> BatchReport:
    """Import several stacks as one batch; each refusal is recorded (the stack stores nothing), the rest
    go on. The batch stops when the database or the object store fails: a re-run finishes it."""
    station = station_id(archive, station)
    report = start_batch(archive, actor, station, None)
    try:
        for path in paths:
            try:
                stack = import_stack(
                    archive, actor, path, received_on=received_on, station=station, batch_id=report.batch_id
                )
            except STOPS_A_BATCH as exc:
                report.aborted = exc
                break
            except EkakteError as exc:
                if not note_refusal(archive, report, shown(path.name), str(exc)):
                    break
                continue
            report.stacks.append(stack)
            report.results.extend(stack.documents)
            if not note_stack(archive, report, stack):
                break
    finally:
        close_batch(archive, report)
    return report
