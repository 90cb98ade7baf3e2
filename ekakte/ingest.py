"""The import pipeline: validate → inspect → hash → store the object → record the rows."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import os
import stat
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ekakte import audit
from ekakte.access import Action, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.dates import parse_day
from ekakte.db.dialect import insert_or_ignore, serialize_writers
from ekakte.db.models import (
    POSTKORB_CASE,
    Case,
    Document,
    DocumentState,
    ImportBatch,
    OcrState,
    Page,
    PostkorbItem,
    table_of,
)
from ekakte.errors import EkakteError, InvalidInput, UnsupportedFile, shown
from ekakte.jsonable import AsJson
from ekakte.media import ENCRYPTED_REASON, MediaInfo, inspect_stream
from ekakte.policy import is_restricted_type
from ekakte.private import FOLDER_ONLY, refuse_archive_folder
from ekakte.retention.schedule import current_rules, schedule
from ekakte.retention.worm import sync_object_locks
from ekakte.scanning.blank import without_blank_pages
from ekakte.scanning.pages import check_resolution, page_scans
from ekakte.scanning.records import REFUSED, ScanFacts, record_document, record_file
from ekakte.storage import original_key
from ekakte.storage.base import file_sha256

MAX_TITLE = 500
MAX_STATION = 100  # the column's width


@dataclass(frozen=True)
class DocumentMeta:
    """What the operator (or the sidecar) says about a scan. Validated by `validated`."""

    case_number: str
    document_type: str
    received_on: date | None = None
    title: str | None = None
    document_date: date | None = None  # the date the document bears, for `document_date` retention rules


@dataclass(frozen=True)
class ImportResult(AsJson):
    json_names: ClassVar[Mapping[str, str]] = {"filename": "file"}
    json_omit = frozenset({"lock_problem"})

    status: str  # "stored" or "already_stored"
    document_id: uuid.UUID
    filename: str
    case_number: str
    document_type: str
    media_type: str
    page_count: int | None
    size_bytes: int
    sha256: str
    # Stored, but an Object Lock store did not take its retain-until date or legal hold (the next sweep
    # tells it): why.
    lock_problem: str | None = None

    def json_extra(self) -> dict[str, Any]:
        return {"lock_problem": self.lock_problem} if self.lock_problem else {}


def parse_date(text: str, what: str = "date") -> date:
    """A date given with a document (received, the date it bears): not in the future, not before 1900."""
    return parse_day(text, what, future=False, earliest=1900)


def valid_title(title: str | None) -> str | None:
    """A document's title as stored (trimmed; empty is none), or InvalidInput."""
    title = (title or "").strip() or None
    if title is not None and (len(title) > MAX_TITLE or not title.isprintable()):
        raise InvalidInput(
            f"invalid title: at most {MAX_TITLE} characters on one line, no control or direction characters"
        )
    return title


def validated(archive: Archive, meta: DocumentMeta) -> DocumentMeta:
    settings = archive.settings
    title = valid_title(meta.title)
    return DocumentMeta(
        case_number=settings.case_number(meta.case_number),
        document_type=settings.document_type(meta.document_type),
        received_on=meta.received_on or date.today(),
        title=title,
        document_date=meta.document_date,
    )


def station_id(archive: Archive, station: str | None) -> str:
    """The scanning station's id as stored (given, else the configured one): 1 to 100 printable
    characters. It is shown to auditors and in every document's metadata, so no control or direction
    characters (the output escapes them anyway: errors.shown)."""
    value = (station or archive.settings.station).strip()
    if not value or len(value) > MAX_STATION or not value.isprintable():
        raise InvalidInput(
            f"invalid station id {shown(value)!r}: 1 to {MAX_STATION} characters, no control or direction"
            " characters"
        )
    return value


# What a caller records of a stored document in the transaction that inserts its row: (session, the row's
# values: id, sha256, size_bytes, …).
Recorded = Callable[[Session, dict[str, Any]], None]


def import_document(
    archive: Archive,
    actor: Actor,
    source: Path | Scan,
    meta: DocumentMeta,
    *,
    station: str | None = None,
    batch_id: uuid.UUID | None = None,
    also: Recorded | None = None,
) -> ImportResult:
    """Store one scan for a case, or say it is already stored. Raises InvalidInput subclasses for refusals,
    NotPermitted unless the actor may import (checked here, or by start_batch for a batch's documents).

    `source` is a path (opened here with `open_scan`) or a Scan its caller opened and checked (the hot
    folder, relative to the inbox's descriptor); either way only the checked descriptor is read, and a
    Scan passed in stays open for its caller to move or close. `also(session, row)` writes what its caller
    records of the document (a stack's part) in the transaction that inserts its row.

    Write order — a crash between any two steps leaves at worst an unreferenced object, which `verify`
    reports and `gc` removes after its grace period; never a row whose object is missing or incomplete:
      1. validate the metadata and the file (nothing written yet);
      2. hash the file; if this case already holds these bytes, stop: "already stored";
      3. put the object under a fresh key derived from a new UUID; the store checks the digest on the way;
      4. one transaction: the case (if new), the document row, its page rows;
      5. if step 4 lost a race with another importer of the same bytes, delete our object again; if
         step 4 failed, delete it only once the database confirms it holds no row for it (a connection
         lost during COMMIT may have committed all the same: see _discard_unless_recorded).
    """
    meta = validated(archive, meta)
    if batch_id is None:  # a batch was authorised when it started (start_batch)
        authorize_import(archive, actor)
    station = station_id(archive, station)
    if isinstance(source, Scan):
        return _import_scan(archive, actor, source, meta, station, batch_id, also=also)
    with open_scan(archive, source) as scan:
        return _import_scan(archive, actor, scan, meta, station, batch_id, also=also)


def import_unassigned(
    archive: Archive,
    actor: Actor,
    scan: Scan,
    *,
    reason: str,
    received_on: date | None = None,
    station: str | None = None,
    batch_id: uuid.UUID | None = None,
    also: Recorded | None = None,
) -> ImportResult:
    """Store a scan no case is known for in the Postkorb (POSTKORB_CASE), with `reason` (why no case was
    found): as import_document does, and in the same transaction its Postkorb entry, so that no document
    waits there without one. It has no type and no due date until the triage role assigns it."""
    if batch_id is None:
        authorize_import(archive, actor)
    station = station_id(archive, station)
    meta = DocumentMeta(POSTKORB_CASE, "", received_on or date.today())
    return _import_scan(archive, actor, scan, meta, station, batch_id, postkorb_reason=reason, also=also)


def _import_scan(
    archive: Archive,
    actor: Actor,
    scan: Scan,
    meta: DocumentMeta,
    station: str,
    batch_id: uuid.UUID | None,
    *,
    postkorb_reason: str | None = None,
    also: Recorded | None = None,
) -> ImportResult:
    """Steps 1 (the file) to 5 of import_document, on the open, checked descriptor."""
    fh = scan.file
    fh.seek(0)
    media = inspect_stream(fh, max_pages=archive.settings.max_pages)
    scanned = page_scans(fh, media.media_type)
    check_resolution(archive.settings, scanned)
    store = functools.partial(
        _store_scan, archive, actor, scan, meta, station, batch_id, postkorb_reason=postkorb_reason, also=also
    )
    if archive.settings.drop_blank_pages:
        fh.seek(0)
        source, _size = file_sha256(fh)
        with without_blank_pages(fh, media) as reduced:
            if reduced is not None:  # what is stored is the scan without them; the record says which
                kept = [p for p in scanned if p.number not in reduced.removed]
                pages = [dataclasses.replace(p, number=n) for n, p in enumerate(kept, start=1)]
                facts = ScanFacts.of(
                    archive.settings, media.media_type, pages, removed=reduced.removed, source_sha256=source
                )
                return store(reduced.file, reduced.media, facts)
    return store(fh, media, ScanFacts.of(archive.settings, media.media_type, scanned))


def _store_scan(
    archive: Archive,
    actor: Actor,
    scan: Scan,
    meta: DocumentMeta,
    station: str,
    batch_id: uuid.UUID | None,
    fh: BinaryIO,
    media: MediaInfo,
    facts: ScanFacts,
    *,
    postkorb_reason: str | None = None,
    also: Recorded | None = None,
) -> ImportResult:
    """Steps 2 to 5 of import_document: `fh` is what is stored (the scan, or the scan without its blank
    pages), `facts` what its scan record says."""
    path = scan.path
    fh.seek(0)
    sha256, size = file_sha256(fh)

    existing = _find_existing(archive, path, meta.case_number, sha256)
    if existing is not None:
        _audit_duplicate(archive, actor, meta.case_number, existing)
        return _result(
            "already_stored", existing, path, meta, media.media_type, media.page_count, size, sha256
        )

    document_id = uuid.uuid4()
    key = original_key(document_id)
    fh.seek(0)
    archive.store.put(key, fh, size, sha256, media.media_type)

    row = {
        "id": document_id,
        "document_type": meta.document_type,
        "title": meta.title,
        "received_on": meta.received_on,
        "document_date": meta.document_date,
        "station": station,
        "operator": actor.name,
        "batch_id": batch_id,
        "original_filename": path.name,
        "media_type": media.media_type,
        "size_bytes": size,
        "sha256": sha256,
        "storage_key": key,
        "page_count": media.page_count,
        "state": DocumentState.STORED,
    }
    try:
        inserted = _record(
            archive,
            actor,
            meta.case_number,
            row,
            facts,
            encrypted=media.encrypted,
            postkorb_reason=postkorb_reason,
            also=also,
        )
    except BaseException:
        _discard_unless_recorded(archive, key, document_id)
        raise
    if not inserted:
        _discard_object(archive, key)
        existing = _find_existing(archive, path, meta.case_number, sha256)
        if existing is None:  # the other importer's transaction rolled back after all; try again
            return _import_scan(
                archive, actor, scan, meta, station, batch_id, postkorb_reason=postkorb_reason, also=also
            )
        _audit_duplicate(archive, actor, meta.case_number, existing)
        return _result(
            "already_stored", existing, path, meta, media.media_type, media.page_count, size, sha256
        )
    # S3 Object Lock: the store learns the due date (and any hold on the case) too. If it does not take
    # them, the document is stored all the same, the result says so, and the next sweep tells the store.
    try:
        lock_problem = sync_object_locks(archive, [document_id]).problem()
    except EkakteError as exc:
        lock_problem = str(exc)
    stored = _result("stored", document_id, path, meta, media.media_type, media.page_count, size, sha256)
    return dataclasses.replace(stored, lock_problem=lock_problem)


def _discard_unless_recorded(archive: Archive, key: str, document_id: uuid.UUID) -> None:
    """After the insert failed: a connection that broke during COMMIT may have committed all the same,
    so the object goes only when the database confirms that no row refers to it. When the database
    cannot say (it is still away), the object stays: `gc` removes it later if it is unreferenced."""
    try:
        with archive.reading() as session:
            recorded = session.scalar(select(Document.id).where(Document.id == document_id)) is not None
    except Exception:  # in doubt, keep the object
        return
    if not recorded:
        _discard_object(archive, key)


def authorize_import(archive: Archive, actor: Actor) -> None:
    """NotPermitted unless the actor may import; only refusals are audited here, each stored document is
    audited in the transaction that records it."""
    decided(archive, actor, Action.IMPORT, "import", audit_allowed=False)


def _audit_duplicate(archive: Archive, actor: Actor, case_number: str, document_id: uuid.UUID) -> None:
    with archive.transaction() as session:
        audit.append(
            session, actor, Action.IMPORT, "allowed", case_number=case_number, document_id=str(document_id),
            reason="already stored",
        )  # fmt: skip


@dataclass
class Scan:
    """A scan opened for import and checked on its open descriptor (`open_scan`, `open_checked`): a regular
    file with exactly one name, in a folder outside the archive's own. What is hashed and stored is read from
    `file`, never through the path again: whatever the path names meanwhile, the checked bytes are stored."""

    path: Path  # for messages and the document's file name, never for opening
    file: BinaryIO

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> Scan:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# O_NOFOLLOW: a symbolic link as the last part of the name fails (ELOOP) instead of being opened, so
# nothing outside the folder is read, and no check-then-open race exists. O_NONBLOCK: a FIFO does not
# hang the import waiting for a writer (it is refused as not a regular file). O_NOCTTY: a terminal device
# never becomes the process's controlling terminal.
_READ_ONE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def open_scan(archive: Archive, path: Path) -> Scan:
    """The file at `path`, opened for import: its folder (the operator named it, links in it are followed)
    must lie outside the archive's own folders, and the file itself is opened and checked by open_checked."""
    if path.name in ("", ".", ".."):
        raise InvalidInput(f"{shown(path)} is a directory, not a scan", code="is-a-directory")
    try:
        dir_fd = os.open(path.parent, FOLDER_ONLY)
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {shown(path)}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {shown(path)}: {exc.strerror}") from None
    try:
        refuse_archive_folder(archive.settings, dir_fd, path, "imported")
        return Scan(path, open_checked(dir_fd, path.name, shown(path)))
    finally:
        os.close(dir_fd)


def open_checked(dir_fd: int, name: str, label: str) -> BinaryIO:
    """`name` in the folder open as `dir_fd`, opened without following a symbolic link and then checked on
    the open descriptor (fstat, not the name: nothing can be swapped in between): a regular file with one
    name. A second name (a hard link) means someone who may write this folder linked in a file that is
    not theirs to give: a root-only file stays root-only through a link, but the importer could read it.
    `label` names the file in messages (InvalidInput or UnsupportedFile, one line)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsupportedFile(
            f"{label}: the file name is not valid UTF-8; rename the file and import it again"
        ) from None
    try:
        fd = os.open(name, _READ_ONE, dir_fd=dir_fd)
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {label}") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsupportedFile(
                f"{label}: not a regular file (a symbolic link): put the file itself there, not a link to it"
            ) from None
        raise InvalidInput(f"cannot read {label}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InvalidInput(f"{label} is a directory, not a scan", code="is-a-directory")
        if not stat.S_ISREG(info.st_mode):
            raise UnsupportedFile(f"{label} is not a regular file")
        if info.st_nlink != 1:
            raise UnsupportedFile(
                f"{label}: the file has {info.st_nlink} names (hard links): put a copy there, not a link"
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _find_existing(archive: Archive, path: Path, case_number: str, sha256: str) -> uuid.UUID | None:
    """The document this scan already is in the case, if any. InvalidInput if that document is being
    deleted (a retention sweep marked it and has not finished): "already stored" would be untrue the
    moment the sweep finishes, and a new row cannot stand beside the old one until then."""
    with archive.reading() as session:
        row = session.execute(
            select(Document.id, Document.state)
            .join(Case, Case.id == Document.case_id)
            .where(Case.case_number == case_number, Document.sha256 == sha256)
        ).first()
    if row is None:
        return None
    if row.state == DocumentState.DELETING:
        raise InvalidInput(
            f"{shown(path)}: this scan is being deleted from case {case_number} under its retention rule"
            " (the next retention sweep finishes it); import it again after that, or ask a records"
            " manager for a hold if it must be kept"
        )
    document_id: uuid.UUID = row.id
    return document_id


def _record(
    archive: Archive,
    actor: Actor,
    case_number: str,
    row: dict[str, Any],
    facts: ScanFacts,
    *,
    encrypted: bool = False,
    postkorb_reason: str | None = None,
    also: Recorded | None = None,
) -> bool:
    """Insert case, document, its scan record (what its transfer note says) and pages in one transaction
    (and the Postkorb entry of a document that goes there: `postkorb_reason`); False if the document
    already existed.

    An encrypted PDF whose pages cannot be counted gets one page row, `skipped` with the reason, so
    that `doc show` says why the document has no text instead of showing no pages at all."""
    now = datetime.now(UTC)
    with archive.transaction() as session:
        # The audit chain's lock first (PostgreSQL; SQLite has one writer anyway): `case assign` and
        # `case close` take it (auditing) before they change the case row, so the case's lock below,
        # taken first, would deadlock with them.
        serialize_writers(session, audit.AUDIT_LOCK)
        # Whether it is health data, from the archive's policy, under the lock above, which a change of
        # the policy takes too (ekakte.policy): the flag is right whichever of the two commits first.
        restricted = is_restricted_type(session, row["document_type"])
        case_id, closed_on, team_id = filing_case(session, case_number, now)
        inserted = session.execute(
            insert_or_ignore(session, Document, ["case_id", "sha256"])
            .values(
                case_id=case_id,
                created_at=now,
                restricted=restricted,
                **row,
                # None in the Postkorb: a document waits there for its case and type.
                **(
                    retention_fields(archive, session, row, closed_on) if case_number != POSTKORB_CASE else {}
                ),
            )
            .returning(Document.id)
        ).scalar()
        if inserted is None:
            return False
        if postkorb_reason is not None:
            session.add(
                PostkorbItem(
                    document_id=row["id"], arrived_at=now, reason=postkorb_reason[:500], state="waiting"
                )
            )
        record_document(session, row, facts, now, actor.effective)

        if also is not None:
            also(session, row)
        page_team = pages_team(team_id, restricted)
        audit.append(
            session, actor, Action.IMPORT, "allowed", case_number=case_number, document_id=str(row["id"]),
            reason="stored",
        )  # fmt: skip
        if row["page_count"]:
            session.execute(
                insert(table_of(Page)),
                [
                    {
                        "document_id": row["id"],
                        "number": n,
                        "ocr_state": OcrState.PENDING,
                        "team_id": page_team,
                    }
                    for n in range(1, row["page_count"] + 1)
                ],
            )
        elif encrypted:
            reason = f"{ENCRYPTED_REASON} (nor counted: this one row stands for all of them)"
            session.execute(
                insert(table_of(Page)),
                [
                    {
                        "document_id": row["id"],
                        "number": 1,
                        "ocr_state": OcrState.SKIPPED,
                        "reason": reason,
                        "team_id": page_team,
                    }
                ],
            )
    return True


def filing_case(session: Any, case_number: str, now: datetime, *, create: bool = True) -> Any:
    """The case a document is filed in (id, closed_on, team_id), made first if it is new (`create`), under a
    shared lock until commit: a reassignment of its team (whose trigger rewrites the team on the case's
    pages) waits for the filing, or the filing sees the new team. Call it after the audit chain's lock."""
    if create:
        session.execute(
            insert_or_ignore(session, Case, ["case_number"]).values(
                case_number=case_number, opened_on=now.date(), created_at=now
            )
        )
    return session.execute(
        select(Case.id, Case.closed_on, Case.team_id)
        .where(Case.case_number == case_number)
        .with_for_update(read=True)
    ).one()


def pages_team(team_id: int | None, restricted: bool) -> int | None:
    """The pages' copy of their case's team, for the text indexes: negative for a restricted document's
    pages (migration 0011), so that the index hands them only to callers with the health clearance."""
    return -team_id if restricted and team_id is not None else team_id


def retention_fields(
    archive: Archive, session: Any, row: dict[str, Any], closed_on: date | None
) -> dict[str, Any]:
    """The new document's due date under the current rules (see ekakte.retention.schedule)."""
    current = current_rules(session, archive.settings.document_types)
    if current is None:
        return {}
    version, rules = current
    rule = rules.rule_for(row["document_type"])
    if rule is None:
        return {}
    due = schedule(rule, row["received_on"], row["document_date"], closed_on)
    return {"due_on": due, "retention_rule": rule.name, "retention_version": version}


def _discard_object(archive: Archive, key: str) -> None:
    # If this fails too, the object stays unreferenced: `verify` reports it, `gc` removes it later.
    with contextlib.suppress(EkakteError):
        archive.store.delete(key)


def _result(
    status: str,
    document_id: uuid.UUID,
    path: Path,
    meta: DocumentMeta,
    media_type: str,
    page_count: int | None,
    size: int,
    sha256: str,
) -> ImportResult:
    return ImportResult(
        status=status,
        document_id=document_id,
        filename=path.name,
        case_number=meta.case_number,
        document_type=meta.document_type,
        media_type=media_type,
        page_count=page_count,
        size_bytes=size,
        sha256=sha256,
    )


@dataclass
class Rejection:
    filename: str
    reason: str


@dataclass
class BatchReport:
    batch_id: uuid.UUID
    results: list[ImportResult] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    aborted: EkakteError | None = None
    # The stacks split in this batch (ekakte.mailroom.stacks.StackReport: each part's pages and document);
    # their documents are in `results` too.
    stacks: list[Any] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return sum(1 for r in self.results if r.status == "stored")

    @property
    def already_stored(self) -> int:
        return sum(1 for r in self.results if r.status == "already_stored")

    def summary(self) -> str:
        text = f"{self.stored} stored, {self.already_stored} already stored, {len(self.rejected)} rejected"
        if self.skipped:
            text += f", {len(self.skipped)} skipped (still being written)"
        if self.aborted:
            text += f"; stopped early: {self.aborted}"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "batch_id": str(self.batch_id),
            "stored": self.stored,
            "already_stored": self.already_stored,
            "rejected": [{"file": r.filename, "reason": r.reason} for r in self.rejected],
            "skipped": self.skipped,
            "aborted": str(self.aborted) if self.aborted else None,
            "documents": [r.as_json() for r in self.results],
            **({"stacks": [s.as_json() for s in self.stacks]} if self.stacks else {}),
        }


def start_batch(archive: Archive, actor: Actor, station: str, source: str | None) -> BatchReport:
    """Authorise the actor to import and record a new batch; its id lets import_document skip the check."""
    authorize_import(archive, actor)
    batch_id = uuid.uuid4()
    with archive.transaction() as session:
        session.add(
            ImportBatch(
                id=batch_id,
                station=station,
                operator=actor.name,
                source=source,
                started_at=datetime.now(UTC),
                stored=0,
                already_stored=0,
                rejected=0,
            )
        )
    return BatchReport(batch_id)


def finish_batch(archive: Archive, report: BatchReport) -> None:
    with archive.transaction() as session:
        batch = session.get(ImportBatch, report.batch_id)
        if batch is not None:
            batch.finished_at = datetime.now(UTC)
            batch.stored = report.stored
            batch.already_stored = report.already_stored
            batch.rejected = len(report.rejected)


def import_files(
    archive: Archive,
    actor: Actor,
    paths: list[Path],
    meta: DocumentMeta,
    *,
    station: str | None = None,
) -> BatchReport:
    """Import several files for one case and type; each refusal is recorded, the rest go on."""
    from ekakte.errors import STOPS_A_BATCH

    station = station_id(archive, station)
    validated(archive, meta)  # refuse a bad case number or type once, before any batch is recorded
    report = start_batch(archive, actor, station, None)
    try:
        for path in paths:
            try:
                result = import_document(
                    archive, actor, path, meta, station=station, batch_id=report.batch_id
                )
            except STOPS_A_BATCH as exc:
                report.aborted = exc
                break
            except EkakteError as exc:
                if not note_refusal(archive, report, shown(path.name), str(exc)):
                    break
                continue
            report.results.append(result)
            if not note_result(archive, report, result):
                break
    finally:
        close_batch(archive, report)
    return report


def close_batch(archive: Archive, report: BatchReport) -> None:
    """Record the batch's outcome; a failure here is reported in the batch, not raised."""
    try:
        finish_batch(archive, report)
    except EkakteError as exc:
        # The documents are stored either way; only the batch's counters could not be written.
        report.aborted = report.aborted or exc


def note_result(archive: Archive, report: BatchReport, result: ImportResult) -> bool:
    """The scan protocol's line of a file stored (or found stored) in the batch; False (the batch stops,
    `report.aborted` says why) when the database failed."""
    return note_file(
        archive, report, result.filename, result.status, sha256=result.sha256, size_bytes=result.size_bytes,
        page_count=result.page_count, document_id=result.document_id,
    )  # fmt: skip


def note_refusal(archive: Archive, report: BatchReport, name: str, reason: str) -> bool:
    """The refusal in the batch's report and its scan protocol; False as note_result."""
    report.rejected.append(Rejection(name, reason))
    return note_file(archive, report, name, REFUSED, reason=reason)


def note_file(archive: Archive, report: BatchReport, name: str, status: str, **line: Any) -> bool:
    from ekakte.errors import STOPS_A_BATCH

    try:
        record_file(archive, report.batch_id, name, status, **line)
    except STOPS_A_BATCH as exc:
        report.aborted = report.aborted or exc
        return False
    return True
