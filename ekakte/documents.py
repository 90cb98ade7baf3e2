"""Reading the archive: a case and its documents, one document, and its original, verified."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select

from ekakte import audit
from ekakte.access import Action, decide, gate, refuse
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import Case, Document, DocumentState, Page, Team
from ekakte.errors import EkakteError, InvalidInput, NotFound, OutputExists, shown
from ekakte.private import refuse_archive_folder
from ekakte.storage import read_verified


@dataclass(frozen=True)
class CaseInfo:
    case_number: str
    team: str | None
    opened_on: date
    closed_on: date | None

    def as_json(self) -> dict[str, Any]:
        return {
            "case_number": self.case_number,
            "team": self.team,
            "opened_on": self.opened_on.isoformat(),
            "closed_on": self.closed_on.isoformat() if self.closed_on else None,
        }


@dataclass(frozen=True)
class DocumentInfo:
    id: uuid.UUID
    case_number: str
    document_type: str
    # None when withheld: a restricted document's title and file name are health data as often as not,
    # shown only to users with the health clearance (see `restricted`, `withheld`).
    title: str | None
    received_on: date
    original_filename: str | None
    media_type: str
    size_bytes: int
    sha256: str
    page_count: int | None
    state: str
    station: str
    operator: str
    batch_id: uuid.UUID | None
    created_at: datetime
    storage_key: str
    document_date: date | None = None
    due_on: date | None = None  # the last day it must be kept (None: not due under the rules in force)
    retention_rule: str | None = None
    restricted: bool = False  # health data: the document's own flag (ekakte.policy)
    withheld: bool = False  # title and file name left out (None) for this reader

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "case_number": self.case_number,
            "document_type": self.document_type,
            "title": self.title,
            "received_on": self.received_on.isoformat(),
            "original_filename": self.original_filename,
            "media_type": self.media_type,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "page_count": self.page_count,
            "state": self.state,
            "station": self.station,
            "operator": self.operator,
            "batch_id": str(self.batch_id) if self.batch_id else None,
            "stored_at": self.created_at.isoformat(),
            "document_date": self.document_date.isoformat() if self.document_date else None,
            "due_on": self.due_on.isoformat() if self.due_on else None,
            "retention_rule": self.retention_rule,
            "restricted": self.restricted,
            "withheld": self.withheld,
        }


@dataclass(frozen=True)
class CaseView:
    case: CaseInfo
    documents: list[DocumentInfo]

    def as_json(self) -> dict[str, Any]:
        return {"case": self.case.as_json(), "documents": [d.as_json() for d in self.documents]}


def _document_info(doc: Document, case_number: str, *, details: bool = True) -> DocumentInfo:
    """The document as the reader may see it: without title and file name unless `details`."""
    return DocumentInfo(
        id=doc.id,
        case_number=case_number,
        document_type=doc.document_type,
        title=doc.title if details else None,
        received_on=doc.received_on,
        original_filename=doc.original_filename if details else None,
        media_type=doc.media_type,
        size_bytes=doc.size_bytes,
        sha256=doc.sha256,
        page_count=doc.page_count,
        state=doc.state,
        station=doc.station,
        operator=doc.operator,
        batch_id=doc.batch_id,
        created_at=doc.created_at,
        storage_key=doc.storage_key,
        document_date=doc.document_date,
        due_on=doc.due_on,
        retention_rule=doc.retention_rule,
        restricted=doc.restricted,
        withheld=not details,
    )


# The caseworker's lookups, built once (statement construction costs more than the query). Each read
# first fetches only what the decision needs (_CASE_KEY, _DOCUMENT_KEY), as a plain row, and loads the
# rest only once it is allowed: a forbidden case or document then costs what a missing one costs, so
# the time of a refusal does not tell whether the thing exists.
# A case's columns as plain values, the decision's (team) among them: one round trip, and nothing is built
# from a case the caller may not see (the same work whether it exists or not).
_CASE_KEY = (
    select(Case.id, Case.team_id, Case.case_number, Team.name, Case.opened_on, Case.closed_on)
    .outerjoin(Team, Team.id == Case.team_id)
    .where(Case.case_number == bindparam("number"))
)
_DOCUMENT_KEY = (
    select(Case.case_number, Case.team_id, Document.restricted)
    .join(Case, Case.id == Document.case_id)
    .where(Document.id == bindparam("document_id"), Document.state == DocumentState.STORED)
)
_DOCUMENT = select(Document).where(
    Document.id == bindparam("document_id"), Document.state == DocumentState.STORED
)
_NEWEST_FIRST = (Document.received_on.desc(), Document.created_at.desc())
# Only `stored` documents: one the retention sweep is deleting is gone for every reader.
_CASE_DOCUMENTS = (
    select(Document)
    .where(Document.case_id == bindparam("case_id"), Document.state == DocumentState.STORED)
    .order_by(*_NEWEST_FIRST)
)
_CASE_DOCUMENTS_OF_TYPE = _CASE_DOCUMENTS.where(Document.document_type == bindparam("document_type"))


def case_documents(
    archive: Archive, actor: Actor, case_number: str, document_type: str | None = None
) -> CaseView:
    """A case and the documents the actor may see, newest first (by date received, then by time stored).

    Restricted documents are left out, not just blanked, for caseworkers without the health clearance;
    records managers without it see them with title and file name withheld. Refused with the same
    NotPermitted whether the case exists or not.
    """
    settings = archive.settings
    number = settings.case_number(case_number)
    wanted_type = settings.document_type(document_type) if document_type else None
    view: CaseView | None = None
    with archive.transaction() as session:
        key = session.execute(_CASE_KEY, {"number": number}).first()
        case_id, team_id = (key.id, key.team_id) if key else (None, None)
        decision = gate(session, actor, Action.CASE_SHOW, case_number=number, case_team_id=team_id)
        if decision.allowed and case_id is not None:
            params: dict[str, object] = {"case_id": case_id, "document_type": wanted_type}
            query = _CASE_DOCUMENTS_OF_TYPE if wanted_type else _CASE_DOCUMENTS
            docs = []
            for d in session.scalars(query, params):
                seen = decide(
                    decision.subject, Action.DOC_SHOW, case_team_id=team_id, restricted=d.restricted
                )
                if seen.allowed:
                    docs.append(_document_info(d, number, details=seen.details))
            assert key is not None
            view = CaseView(CaseInfo(key.case_number, key.name, key.opened_on, key.closed_on), docs)
    if not decision.allowed:
        raise refuse(f"case {number}")
    if view is None:
        raise NotFound(f"no case {number} in the archive")
    return view


def parse_document_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        raise InvalidInput(
            f"invalid document id {text!r}: expected a UUID", code="document-id", field="document_id"
        ) from None


def _authorized_document(
    archive: Archive, actor: Actor, document_id: uuid.UUID, action: Action
) -> DocumentInfo:
    """The document, if `action` on it is permitted; the decision is audited either way."""
    info: DocumentInfo | None = None
    with archive.transaction() as session:
        key = session.execute(_DOCUMENT_KEY, {"document_id": document_id}).first()
        case_number, team_id, restricted = (key[0], key[1], key[2]) if key else (None, None, False)
        decision = gate(
            session,
            actor,
            action,
            case_number=case_number,
            document_id=str(document_id),
            case_team_id=team_id,
            restricted=restricted,
        )
        if decision.allowed and case_number is not None:
            doc = session.scalars(_DOCUMENT, {"document_id": document_id}).first()
            if doc is not None:
                info = _document_info(doc, case_number, details=decision.details)
    if not decision.allowed:
        raise refuse(f"document {document_id}")
    if info is None:
        raise NotFound(f"no document {document_id} in the archive")
    return info


def get_document(archive: Archive, actor: Actor, document_id: uuid.UUID) -> DocumentInfo:
    """A document's metadata."""
    return _authorized_document(archive, actor, document_id, Action.DOC_SHOW)


def export_original(
    archive: Archive, actor: Actor, document_id: uuid.UUID, target: Path, *, force: bool = False
) -> DocumentInfo:
    """Write the original scan to `target`, verified against its SHA-256 before it appears there.

    The bytes go to a temporary file beside `target` first; only a complete, verified copy is moved
    into place, so a corrupt object never leaves a plausible-looking file behind. Never into the
    archive's own folders (an export over its database or keys). The access is audited before a byte
    is read; when the file then could not be written, a second entry (outcome `failed`) says why.
    """
    doc = _authorized_document(archive, actor, document_id, Action.DOC_GET)
    try:
        _write_original(archive, doc, target, force)
    except EkakteError as exc:
        with archive.transaction() as session:
            audit.append(
                session, actor, str(Action.DOC_GET), "failed", case_number=doc.case_number,
                document_id=str(document_id), reason=f"the file was not written: {exc}"[:500],
            )  # fmt: skip
        raise
    return doc


def _write_original(archive: Archive, doc: DocumentInfo, target: Path, force: bool) -> None:
    """Everything relative to one descriptor of the target's folder, checked once it is open: a folder
    renamed or swapped for a link meanwhile cannot lead the export into the archive's own folders."""
    directory = target.parent if str(target.parent) else Path(".")
    try:
        folder = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise InvalidInput(f"cannot write to {shown(directory)}: {exc.strerror}") from None
    tmp = f".{target.name}.{secrets.token_hex(6)}.part"
    try:
        refuse_archive_folder(archive.settings, folder, directory, "exported")
        if _is_dir(target.name, folder):
            raise InvalidInput(
                f"{shown(target)} is a folder: give the file name to write,"
                f" e.g. {shown(target / (doc.original_filename or 'scan'))}"
            )
        if not force and _exists(target.name, folder):
            raise OutputExists(f"{shown(target)} exists")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        # 0600: social data, readable by the exporting user only (set on the descriptor, not a name).
        with os.fdopen(os.open(tmp, flags, 0o600, dir_fd=folder), "wb") as out:
            os.fchmod(out.fileno(), 0o600)  # whatever the umask
            for chunk in read_verified(archive.store, doc.storage_key, doc.sha256, doc.size_bytes):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if force:
            os.replace(tmp, target.name, src_dir_fd=folder, dst_dir_fd=folder)
        else:  # link() refuses to replace a file that appeared meanwhile
            os.link(tmp, target.name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
    except FileExistsError:
        raise OutputExists(f"{shown(target)} exists") from None
    except OSError as exc:
        raise InvalidInput(f"cannot write {shown(target)}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=folder)
        os.close(folder)


def _is_dir(name: str, folder: int) -> bool:
    try:
        return stat.S_ISDIR(os.stat(name, dir_fd=folder).st_mode)
    except FileNotFoundError:
        return False


def _exists(name: str, folder: int) -> bool:
    try:
        os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


@dataclass(frozen=True)
class PageText:
    number: int
    state: str
    text: str | None
    confidence: float | None
    engine: str | None
    language: str | None
    rotation: int | None
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "page": self.number,
            "ocr_state": self.state,
            "text": self.text,
            "confidence": self.confidence,
            "engine": self.engine,
            "language": self.language,
            "rotation": self.rotation,
            "reason": self.reason,
        }


def document_text(
    archive: Archive, actor: Actor, document_id: uuid.UUID
) -> tuple[DocumentInfo, list[PageText]]:
    """A document's metadata and the text of its pages (OCR or text layer), page by page."""
    info = _authorized_document(archive, actor, document_id, Action.DOC_TEXT)
    with archive.reading() as session:
        pages = [
            PageText(p.number, p.ocr_state, p.text, p.confidence, p.engine, p.language, p.rotation, p.reason)
            for p in session.scalars(
                select(Page).where(Page.document_id == document_id).order_by(Page.number)
            )
        ]
    return info, pages
