"""Reading the archive: a case and its documents, one document, and its original (or its searchable
PDF), verified."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import secrets
import stat
import uuid
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Integer, Select, bindparam, func, select, tuple_
from sqlalchemy.orm import Session

from ekakte import audit, paging
from ekakte.access import About, Action, Decision, decide, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.dialect import insert_or_ignore
from ekakte.db.models import (
    POSTKORB_CASE,
    Case,
    Document,
    DocumentOpened,
    DocumentState,
    Page,
    Rendition,
    Team,
)
from ekakte.derived import SEARCHABLE_PDF
from ekakte.errors import ChecksumMismatch, EkakteError, InvalidInput, NotFound, OutputExists, shown
from ekakte.jsonable import AsJson
from ekakte.paging import MAX_LIMIT, check_limit
from ekakte.private import refuse_archive_folder
from ekakte.scanning.checks import awaiting_check
from ekakte.storage import ObjectStore, read_verified


@dataclass(frozen=True)
class CaseInfo(AsJson):
    case_number: str
    team: str | None
    opened_on: date
    closed_on: date | None


@dataclass(frozen=True)
class DocumentInfo(AsJson):
    json_names: ClassVar[Mapping[str, str]] = {"created_at": "stored_at"}
    json_omit = frozenset({"storage_key"})  # where the store keeps it: the archive's business

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
    # Where its pages' text stands, in a case's listing: done, pending, failed (any page), partly.
    ocr_state: str | None = None
    # In a case's listing: no one of the case's team has opened it yet (None: the case has no team).
    new: bool | None = None
    # One document read on its own: the size of its searchable PDF (ekakte.ocr.rendition); None when it
    # has none (yet), or in a listing.
    searchable_pdf_bytes: int | None = None


@dataclass(frozen=True)
class CaseView(AsJson):
    case: CaseInfo
    documents: list[DocumentInfo]
    # Where the next page starts (pass it as `after`); None when this page is the case's last.
    next: str | None = None


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
_SEARCHABLE_SIZE = select(Rendition.size_bytes).where(
    Rendition.document_id == bindparam("document_id"), Rendition.kind == SEARCHABLE_PDF
)
# Newest first, and the id last so that the order is total: a page ends between two documents, never
# inside a group of documents received and stored at the same moment.
_NEWEST_FIRST = (Document.received_on.desc(), Document.created_at.desc(), Document.id.desc())
_POSITION = tuple_(Document.received_on, Document.created_at, Document.id)
_CURSOR_PARAMS = (
    ("received_on", Document.received_on),
    ("created_at", Document.created_at),
    ("after_id", Document.id),
)
MAX_PAGE = MAX_LIMIT  # documents per page of a case


@functools.cache
def _case_documents_query(
    of_type: bool,
    unrestricted_only: bool,
    after: bool,
    limited: bool,
    since: bool = False,
    until: bool = False,
) -> Select[Any]:
    """A case's `stored` documents newest first (one the retention sweep is deleting is gone for every
    reader), narrowed as asked; built once per combination."""
    query = select(Document).where(
        Document.case_id == bindparam("case_id"), Document.state == DocumentState.STORED
    )
    if of_type:
        query = query.where(Document.document_type == bindparam("document_type"))
    if since:
        query = query.where(
            Document.received_on >= bindparam("received_from", type_=Document.received_on.type)
        )
    if until:
        query = query.where(Document.received_on <= bindparam("received_to", type_=Document.received_on.type))
    if unrestricted_only:
        query = query.where(Document.restricted.is_(False))
    if after:  # keyset: the documents after the previous page's last, i.e. older in this order
        position = tuple_(*(bindparam(name, type_=column.type) for name, column in _CURSOR_PARAMS))
        query = query.where(position > _POSITION)
    query = query.order_by(*_NEWEST_FIRST)
    return query.limit(bindparam("limit", type_=Integer)) if limited else query


def case_documents(
    archive: Archive,
    actor: Actor,
    case_number: str,
    document_type: str | None = None,
    *,
    limit: int | None = None,
    after: str | None = None,
    received_from: date | None = None,
    received_to: date | None = None,
) -> CaseView:
    """A case and the documents the actor may see, newest first (by date received, then by time stored,
    then by id); of one type, received within a range of days, when asked.

    Restricted documents are left out, not just blanked, for caseworkers without the health clearance;
    records managers without it see them with title and file name withheld. Refused with the same
    NotPermitted whether the case exists or not.

    Paged when `limit` is given (1 to MAX_PAGE documents): the view's `next` is then where the
    next page starts, passed back as `after`, or None after the last page. What the actor may not see is
    left out before the page is cut, so a page is short only at the end of the case; the cursor holds
    the position of the page's last document and nothing else. Each page is a request of its own,
    decided and audited.
    """
    settings = archive.settings
    number = settings.case_number(case_number)
    wanted_type = settings.document_type(document_type) if document_type else None
    check_limit(limit)
    position = _parse_cursor(after) if after is not None else None
    key: Any = None

    def about(session: Session) -> About:
        nonlocal key
        key = session.execute(_CASE_KEY, {"number": number}).first()
        return About(case_number=number, case_team_id=key.team_id if key else None)

    def read(session: Session, decision: Decision) -> CaseView | None:
        if key is None:
            return None
        days = (received_from, received_to)
        docs, next = _page(session, decision, key.id, key.team_id, number, wanted_type, limit, position, days)
        return CaseView(CaseInfo(key.case_number, key.name, key.opened_on, key.closed_on), docs, next)

    view = decided(archive, actor, Action.CASE_SHOW, f"case {number}", read, about=about, reads_only=True)
    if view is None:
        raise NotFound(f"no case {number} in the archive")
    return view


def _page(
    session: Session,
    decision: Decision,
    case_id: int,
    team_id: int | None,
    number: str,
    wanted_type: str | None,
    limit: int | None,
    position: tuple[date, datetime, uuid.UUID] | None,
    days: tuple[date | None, date | None] = (None, None),
) -> tuple[list[DocumentInfo], str | None]:
    """One page of the case's documents the decision's subject may see, and the cursor of the next."""
    subject = decision.subject
    # The policy says whether this reader may see the case's restricted documents at all; if not, the
    # query leaves them out, so that they are not counted into the page and then dropped from it.
    hidden = not decide(subject, Action.DOC_SHOW, case_team_id=team_id, restricted=True).allowed
    query = _case_documents_query(
        wanted_type is not None, hidden, position is not None, limit is not None, days[0] is not None,
        days[1] is not None,
    )  # fmt: skip
    params: dict[str, object] = {
        "case_id": case_id, "document_type": wanted_type, "received_from": days[0], "received_to": days[1]
    }  # fmt: skip
    if position is not None:
        params.update(received_on=position[0], created_at=position[1], after_id=position[2])
    if limit is not None:
        params["limit"] = limit + 1  # one more tells whether there is a next page
    docs: list[DocumentInfo] = []
    last: Document | None = None
    for d in session.scalars(query, params):
        seen = decide(subject, Action.DOC_SHOW, case_team_id=team_id, restricted=d.restricted)
        if not seen.allowed:
            continue
        if limit is not None and len(docs) == limit:
            assert last is not None
            return _with_new(session, _with_ocr_states(session, docs), team_id), _cursor(last)
        docs.append(_document_info(d, number, details=seen.details))
        last = d
    return _with_new(session, _with_ocr_states(session, docs), team_id), None


_OCR_STATES = (
    select(Page.document_id, Page.ocr_state, func.count())
    .where(Page.document_id.in_(bindparam("ids", expanding=True)))
    .group_by(Page.document_id, Page.ocr_state)
)


def _with_ocr_states(session: Session, docs: list[DocumentInfo]) -> list[DocumentInfo]:
    """The documents with where their pages' text stands, from one query over all their pages."""
    if not docs:
        return docs
    counts: dict[uuid.UUID, dict[str, int]] = {}
    rows = session.execute(_OCR_STATES, {"ids": [d.id for d in docs]})
    for document_id, state, count in rows:
        counts.setdefault(document_id, {})[state] = count
    return [dataclasses.replace(d, ocr_state=_summary(counts.get(d.id, {}))) for d in docs]


_OPENED = select(DocumentOpened.document_id).where(
    DocumentOpened.team_id == bindparam("team_id"),
    DocumentOpened.document_id.in_(bindparam("ids", expanding=True)),
)


def _with_new(session: Session, docs: list[DocumentInfo], team_id: int | None) -> list[DocumentInfo]:
    """The documents marked new to the case's team: those no one of it has opened (mark_opened)."""
    if not docs or team_id is None:
        return docs
    opened = set(session.scalars(_OPENED, {"team_id": team_id, "ids": [d.id for d in docs]}))
    return [dataclasses.replace(d, new=d.id not in opened) for d in docs]


def _mark_opened(archive: Archive, actor: Actor, document_id: uuid.UUID, team_id: int) -> None:
    """Record that someone of the case's team opened the document (its content was handed out to a
    reader the policy allowed on the team's case): once per document and team, looked up first so that
    reading it again writes nothing. A failure to record it costs the reader nothing but the mark."""
    try:
        with archive.reading() as session:
            if session.get(DocumentOpened, (document_id, team_id)) is not None:
                return
        with archive.transaction() as session:
            session.execute(
                insert_or_ignore(session, DocumentOpened, ["document_id", "team_id"]).values(
                    document_id=document_id, team_id=team_id, opened_at=datetime.now(UTC),
                    opened_by=actor.effective,
                )
            )  # fmt: skip
    except EkakteError:
        return


def _summary(states: dict[str, int]) -> str:
    if states.get("failed"):
        return "failed"
    if not states or set(states) == {"pending"}:
        return "pending"
    return "done" if set(states) == {"done"} else "partly"


def _cursor(doc: Document) -> str:
    """Where the page after `doc` starts: its position in the order, opaque to the caller."""
    created = doc.created_at if doc.created_at.tzinfo else doc.created_at.replace(tzinfo=UTC)
    return paging.encode("case", [doc.received_on.isoformat(), created.isoformat(), doc.id.hex])


def _parse_cursor(cursor: str) -> tuple[date, datetime, uuid.UUID]:
    received, created, doc_id = paging.decode("case", cursor, [str, str, str])
    try:
        created_at = datetime.fromisoformat(created)
        if created_at.tzinfo is None:
            raise ValueError("no time zone")
        return date.fromisoformat(received), created_at, uuid.UUID(hex=doc_id)
    except ValueError:
        raise InvalidInput("the cursor is not one of the case list") from None


def parse_document_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        raise InvalidInput(
            f"invalid document id {text!r}: expected a UUID", code="document-id", field="document_id"
        ) from None


def _authorized_document(
    archive: Archive, actor: Actor, document_id: uuid.UUID, action: Action, detail: str | None = None
) -> DocumentInfo:
    """The document, if `action` on it is permitted; the decision is audited either way (with `detail`:
    which part of it was asked for)."""
    case_number: str | None = None

    def about(session: Session) -> About:
        nonlocal case_number
        key = session.execute(_DOCUMENT_KEY, {"document_id": document_id}).first()
        case_number, team_id, restricted = (key[0], key[1], key[2]) if key else (None, None, False)
        checking = (
            key is not None
            and action in (Action.DOC_SHOW, Action.DOC_GET)
            and awaiting_check(session, document_id, actor.effective)
        )
        return About(
            case_number=case_number, document_id=str(document_id), case_team_id=team_id,
            restricted=restricted, detail=detail, postkorb=case_number == POSTKORB_CASE, checking=checking,
        )  # fmt: skip

    of_team = False

    def read(session: Session, decision: Decision) -> DocumentInfo | None:
        nonlocal of_team
        # A checker of the batch (ekakte.access, `checking`) reads it too, but is not of the case's team.
        of_team = decision.subject is not None and team in decision.subject.team_ids
        doc = session.scalars(_DOCUMENT, {"document_id": document_id}).first() if case_number else None
        if doc is None or case_number is None:
            return None
        searchable = session.scalar(_SEARCHABLE_SIZE, {"document_id": document_id})
        return dataclasses.replace(
            _document_info(doc, case_number, details=decision.details), searchable_pdf_bytes=searchable
        )

    refusal = f"document {document_id}"
    team: int | None = None

    def about_and_team(session: Session) -> About:
        nonlocal team
        request = about(session)
        team = request.case_team_id
        return request

    info = decided(archive, actor, action, refusal, read, about=about_and_team, reads_only=True)
    if info is None:
        raise NotFound(f"no document {document_id} in the archive")
    if action in (Action.DOC_GET, Action.DOC_TEXT) and team is not None and of_team:
        # Allowed to read the content of a case with a team: a reader of that team (ekakte.access).
        _mark_opened(archive, actor, document_id, team)
    return info


def get_document(archive: Archive, actor: Actor, document_id: uuid.UUID) -> DocumentInfo:
    """A document's metadata."""
    return _authorized_document(archive, actor, document_id, Action.DOC_SHOW)


@dataclass(frozen=True)
class StoredObject:
    """One of a document's objects as the reader gets it: the original, or a rendition of it."""

    key: str
    sha256: str
    size_bytes: int
    media_type: str
    filename: str  # the name to offer it under
    what: str = "the original"  # for the audit's failure entries


class Original:
    """A document's original: its facts (`info`) and its bytes, verified against its SHA-256 on the way.
    (Or, opened by open_searchable, its searchable PDF: `obj` says which object it is.)

    Iterate once. Each chunk is handed out only when the next one has arrived, and the last one only
    once size and digest are checked: a corrupt object raises ChecksumMismatch instead of its last chunk,
    so that what a reader received is never a complete, plausible file (a server aborts the transfer,
    and the client sees a broken download, not a wrong document). An object longer than recorded raises
    as soon as it passes the recorded size. A read that fails is audited (outcome `failed`), once.
    `close()` (or leaving a `with` block) lets go of the store's connection when a reader stops early.
    """

    def __init__(
        self, archive: Archive, actor: Actor, info: DocumentInfo, obj: StoredObject | None = None
    ) -> None:
        self.info = info
        self.obj = obj or StoredObject(
            info.storage_key, info.sha256, info.size_bytes, info.media_type,
            info.original_filename or str(info.id),
        )  # fmt: skip
        self._archive = archive
        self._actor = actor
        self._failure_recorded = False
        self._chunks = _held_back(archive.store, self.obj.key, self.obj.sha256, self.obj.size_bytes)
        self._first: bytes | None = None

    def _start(self) -> None:
        """Read up to the first chunk, so that a missing object is known before anything is handed out."""
        try:
            self._first = next(self._chunks, None)
        except EkakteError as exc:
            self.record_failure(f"{self.obj.what} was not read", exc)
            raise

    def __iter__(self) -> Iterator[bytes]:
        try:
            if self._first is not None:
                first, self._first = self._first, None
                yield first
            yield from self._chunks
        except EkakteError as exc:
            self.record_failure(f"{self.obj.what} was not read in full", exc)
            raise

    def record_failure(self, what: str, exc: EkakteError) -> None:
        """Audit that the allowed read came to nothing (`what`, and why); only the first failure counts."""
        if self._failure_recorded:
            return
        self._failure_recorded = True
        info = self.info
        with self._archive.transaction() as session:
            audit.append(
                session, self._actor, str(Action.DOC_GET), "failed", case_number=info.case_number,
                document_id=str(info.id), reason=f"{what}: {exc}"[:500],
            )  # fmt: skip

    def close(self) -> None:
        self._first = None
        self._chunks.close()

    def __enter__(self) -> Original:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _held_back(store: ObjectStore, key: str, sha256: str, size: int) -> Generator[bytes, None, None]:
    """The object's verified chunks, each one step late (see Original)."""
    held: bytes | None = None
    seen = 0
    # read_verified raises after the object's last chunk when size or digest are wrong: that chunk is
    # the one still held here, and it is never handed out.
    for chunk in read_verified(store, key, sha256, size):
        if not chunk:
            continue
        seen += len(chunk)
        if seen > size:
            raise ChecksumMismatch(f"object {key} is corrupt: it holds more than the {size} bytes recorded")
        if held is not None:
            yield held
        held = chunk
    if held is not None:
        yield held


def open_original(
    archive: Archive, actor: Actor, document_id: uuid.UUID, *, detail: str | None = None
) -> Original:
    """A document's original as a verified stream (see Original), for a reader that sends or writes it.

    Decided as reading the content (`doc.get`: caseworkers and team leads, cases of their teams,
    restricted documents only with the health clearance), audited once before a byte is read (with
    `detail`, what of it was asked for), refused with the same NotPermitted whether the document exists
    or not. A missing object raises here (IntegrityError), before anything is handed out.
    """
    info = _authorized_document(archive, actor, document_id, Action.DOC_GET, detail)
    original = Original(archive, actor, info)
    original._start()
    return original


def open_searchable(
    archive: Archive, actor: Actor, document_id: uuid.UUID, *, detail: str | None = None
) -> Original:
    """A document's searchable PDF (ekakte.ocr.rendition) as a verified stream, as open_original opens
    the original: the same decision (reading the content, `doc.get`), audited once (with `detail`),
    refused alike whether the document exists or not. NotFound, after the decision, when it has none
    (yet): its pages are still being read, or none of them had text to lay on."""
    info = _authorized_document(archive, actor, document_id, Action.DOC_GET, detail or "searchable PDF")
    with archive.reading() as session:
        row = session.execute(
            select(Rendition.storage_key, Rendition.sha256, Rendition.size_bytes).where(
                Rendition.document_id == document_id, Rendition.kind == SEARCHABLE_PDF
            )
        ).first()
    stem = Path(info.original_filename).stem if info.original_filename else ""
    obj = StoredObject(
        row[0] if row else "", row[1] if row else "", row[2] if row else 0, "application/pdf",
        f"{stem or info.id}.searchable.pdf", "the searchable PDF",
    )  # fmt: skip
    if row is None:  # the decision's entry (allowed, "searchable PDF") is the one entry of the call
        raise NotFound(
            f"document {document_id} has no searchable PDF (yet): its pages are still being read,"
            " or none of them is a scanned page with text",
            code="no-rendition",
        )
    opened = Original(archive, actor, info, obj)
    opened._start()
    return opened


def export_searchable(
    archive: Archive, actor: Actor, document_id: uuid.UUID, target: Path, *, force: bool = False
) -> StoredObject:
    """Write the document's searchable PDF to `target`, as export_original writes the original."""
    with open_searchable(archive, actor, document_id) as opened:
        _write_opened(archive, opened, target, force=force, example=opened.obj.filename)
    return opened.obj


def export_original(
    archive: Archive, actor: Actor, document_id: uuid.UUID, target: Path, *, force: bool = False
) -> DocumentInfo:
    """Write the original scan to `target`, verified against its SHA-256 before it appears there.

    The bytes go to a temporary file beside `target` first; only a complete, verified copy is moved
    into place, so a corrupt object never leaves a plausible-looking file behind. Never into the
    archive's own folders (an export over its database or keys). The access is audited before a byte
    is read; when the object then could not be read or the file not written, a second entry (outcome
    `failed`) says why.
    """
    with open_original(archive, actor, document_id) as original:
        _write_opened(archive, original, target, force=force, example=original.info.original_filename)
    return original.info


def _write_opened(
    archive: Archive, opened: Original, target: Path, *, force: bool, example: str | None
) -> None:
    """An opened object written out (write_export); a failure is audited on the read's entry too."""
    try:
        write_export(archive, opened, target, force=force, example=example)
    except EkakteError as exc:
        opened.record_failure("the file was not written", exc)
        raise


def write_export(
    archive: Archive, chunks: Iterable[bytes], target: Path, *, force: bool, example: str | None = None
) -> None:
    """Write `chunks` to `target` for the user (mode 0600), whole or not at all: into a temporary file
    beside it, moved into place only once the last chunk has arrived. OutputExists when `target` exists
    and not `force`; InvalidInput for a folder or a place inside the archive's own folders (`example`: a
    file name to suggest when `target` is a folder).

    Everything relative to one descriptor of the target's folder, checked once it is open: a folder
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
                f" e.g. {shown(target / (example or 'scan'))}"
            )
        if not force and _exists(target.name, folder):
            raise OutputExists(f"{shown(target)} exists")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        # 0600: social data, readable by the exporting user only (set on the descriptor, not a name).
        with os.fdopen(os.open(tmp, flags, 0o600, dir_fd=folder), "wb") as out:
            os.fchmod(out.fileno(), 0o600)  # whatever the umask
            for chunk in chunks:
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
class PageText(AsJson):
    json_names: ClassVar[Mapping[str, str]] = {"number": "page", "state": "ocr_state"}

    number: int
    state: str
    text: str | None
    confidence: float | None
    engine: str | None
    language: str | None
    rotation: int | None
    reason: str | None


@dataclass(frozen=True)
class PageState(AsJson):
    """Where a page's text stands (no text): `pending`, `done` (by which engine) or `failed` (why)."""

    json_names: ClassVar[Mapping[str, str]] = {"number": "page", "state": "ocr_state"}

    number: int
    state: str
    engine: str | None
    reason: str | None


def document_pages(
    archive: Archive, actor: Actor, document_id: uuid.UUID
) -> tuple[DocumentInfo, list[PageState]]:
    """A document's metadata and the OCR state of each of its pages: decided as its metadata (records
    managers see it too), no text."""
    info = _authorized_document(archive, actor, document_id, Action.DOC_SHOW, "with its pages' states")
    with archive.reading() as session:
        states = session.execute(
            select(Page.number, Page.ocr_state, Page.engine, Page.reason)
            .where(Page.document_id == document_id)
            .order_by(Page.number)
        )
        return info, [PageState(*row) for row in states]


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
