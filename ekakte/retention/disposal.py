"""The Aussonderung: due records are offered to the archive, and deleted only once it has released them.

Archive law (e.g. Hessisches Archivgesetz § 4; SGB X § 71 (1) sentence 3 for social data) lets a public
body destroy records only after the responsible archive has had them offered and has released them. The
exchange is xdomea (ekakte.xdomea). For each process (one ProzessID):

  offer      0501 Anbieteverzeichnis: the due documents whose rule says `offer`, by case (Akte), with
             their disposal metadata; they become `offered`.
  receive    the archive's 0504 (receipt of the offer), 0502 (appraisal: per Akte or document A keep,
             V destroy, B not decided yet; ekakte writes the 0505 receipt), 0507 (receipt of a
             hand-over) and 0506 (import confirmed or failed, with the archive's reference).
  hand-over  0503 Aussonderung: the records marked A with their primary files, streamed into one zip.
  the sweep  deletes a due document only when the archive's right to it is met (`released`): its rule
             destroys under an advance release, the archive said V, the archive confirmed the import, or
             (when `archive_answer_months` is set) the archive did not answer in time.

A message is written to a hidden temporary file in the transfer folder, synced, recorded in the database
with its SHA-256, and only then renamed to its name: a crash before the commit leaves only a temporary
file (removed by the next run, which starts over); a crash after it leaves a temporary file whose SHA-256
the database knows, and the next run of the same step renames it. Nothing is offered or handed over twice.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from ekakte.access import About, Action, check, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.chunks import in_chunks
from ekakte.db.models import (
    Case,
    DisposalMessage,
    DisposalProcess,
    DisposalRecord,
    DisposalState,
    Document,
    DocumentState,
    OcrState,
    Page,
    Rendition,
    RetentionRuleSet,
    Team,
)
from ekakte.derived import SEARCHABLE_PDF
from ekakte.errors import ConfigError, InvalidInput, NotFound
from ekakte.jsonable import AsJson
from ekakte.retention.held import is_held
from ekakte.retention.locks import aussonderung_step
from ekakte.retention.rules import add_months, dispositions
from ekakte.storage.base import read_verified
from ekakte.xdomea import (
    FILE_FORMATS,
    Message,
    Party,
    XmlOut,
    message_name,
    package_name,
    read_message,
    receipt,
    unpack,
)

CHUNK = 2000
_TEMP_PREFIX = ".ekakte-"
# The archive's A/B/V, as record states.
_DECISIONS = {"A": DisposalState.KEEP, "V": DisposalState.DESTROY, "B": DisposalState.UNDECIDED}
# States the archive has not decided yet, and states after its decision to keep.
_OPEN = (DisposalState.OFFERED, DisposalState.UNDECIDED)
_KEPT = (DisposalState.KEEP, DisposalState.HANDED_OVER, DisposalState.ARCHIVED, DisposalState.FAILED)


# --- what the sweep may delete ----------------------------------------------------------------------------


class OfferedAs(NamedTuple):
    """What the plan reads of a document's disposal record (the attributes `waits_for` asks for)."""

    state: str
    process_id: str
    offered_on: date


@dataclass(frozen=True)
class Releases:
    """What, as of a day, satisfies the archive's right to a due record (for the sweep and the plan)."""

    destroy_rules: dict[tuple[str, int], str]  # (rule, rule-set version) → the advance release it names
    answer_cutoff: date | None  # offered before this day and still unanswered: counts as released
    answer_months: int

    def clause(self) -> Any:
        """SQL, for a query over documents: the document may be deleted as far as the archive goes.

        Once a document was offered, its process decides alone: a rule loaded later that destroys its
        type under an advance release does not overrule what the archive was offered (or answered)."""
        offered = exists().where(DisposalRecord.document_id == Document.id)
        by_rule = [
            and_(Document.retention_rule == rule, Document.retention_version == version)
            for rule, version in self.destroy_rules
        ]
        released: list[Any] = [DisposalRecord.state.in_((DisposalState.DESTROY, DisposalState.ARCHIVED))]
        if self.answer_cutoff is not None:
            released.append(
                and_(DisposalRecord.state.in_(_OPEN), DisposalRecord.offered_on < self.answer_cutoff)
            )
        answered = exists().where(DisposalRecord.document_id == Document.id, or_(*released))
        if not by_rule:
            return answered
        return or_(and_(or_(*by_rule), ~offered), answered)

    def waits_for(
        self, rule: str | None, version: int | None, record: DisposalRecord | OfferedAs | None
    ) -> str | None:
        """For the plan: None when the sweep may delete the due document as far as the archive goes
        (the same test as `clause`, in Python); else what it waits for."""
        if record is None:
            if rule is not None and version is not None and (rule, version) in self.destroy_rules:
                return None
            return "to be offered to the archive (ekakte archive offer)"
        if record.state in (DisposalState.DESTROY, DisposalState.ARCHIVED):
            return None
        if record.state in _OPEN:
            if self.answer_cutoff is not None and record.offered_on < self.answer_cutoff:
                return None
            return (
                f"offered on {record.offered_on} (process {record.process_id}): awaiting the archive's answer"
            )
        if record.state == DisposalState.KEEP:
            return f"kept by the archive (A): to be handed over (process {record.process_id})"
        if record.state == DisposalState.FAILED:
            return f"the archive's import failed: to be handed over again (process {record.process_id})"
        return f"handed over (process {record.process_id}): awaiting the archive's confirmation"

    def why(self, rule: str, version: int, record: DisposalRecord | None) -> str:
        """The protocol's words for how the archive's right was met (for a document `clause` let through)."""
        if record is None:
            release = self.destroy_rules.get((rule, version))
            return f"destroyed under the archive's release: {release}" if release else "not offered"
        if record.state == DisposalState.ARCHIVED:
            return (
                f"handed over to the archive, reference {record.archive_reference or '-'},"
                f" process {record.process_id}"
            )
        if record.state == DisposalState.DESTROY:
            return f"released for destruction by the archive (V), process {record.process_id}"
        return (
            f"no decision of the archive within {self.answer_months} months of the offer on"
            f" {record.offered_on}, process {record.process_id}"
        )


def releases(session: Session, settings: Any, day: date) -> Releases:
    """The releases in force as of `day`: every stored rule-set version's `destroy` rules (a document
    keeps the rule and version that gave its due date), and the answer period's cutoff."""
    destroy: dict[tuple[str, int], str] = {}
    for version, content in session.execute(select(RetentionRuleSet.version, RetentionRuleSet.content)):
        for name, (disposition, release, _suggest, _keep) in dispositions(content).items():
            if disposition == "destroy":
                destroy[(name, version)] = release
    months = settings.archive_answer_months
    cutoff = add_months(day, -months) if months else None
    return Releases(destroy, cutoff, months)


# --- values ----------------------------------------------------------------------------------------------


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class OfferReport(AsJson):
    process_id: str | None  # None: nothing was due for an offer
    as_of: date
    cases: int
    documents: int
    path: Path | None

    def summary(self) -> str:
        if self.process_id is None:
            return f"archive offer as of {self.as_of}: nothing to offer"
        return (
            f"archive offer as of {self.as_of}: process {self.process_id}, {_n(self.documents, 'document')}"
            f" in {_n(self.cases, 'case')} offered; message {self.path}"
        )


@dataclass(frozen=True)
class ReceiveReport(AsJson):
    process_id: str
    kind: str
    name: str
    already: bool  # the same message was received before: nothing changed
    changed: int  # records whose state changed
    counts: dict[str, int]  # records of the process by state, afterwards
    reply: Path | None  # the receipt ekakte wrote (0505)
    # Documents the archive decided to keep (or left B) that are gone: deleted after the answer period.
    gone: list[uuid.UUID] = field(default_factory=list)

    def summary(self) -> str:
        if self.already:
            return (
                f"{self.name}: message {self.kind} of process {self.process_id} was received before;"
                " nothing changed"
            )
        text = f"{self.name}: message {self.kind} of process {self.process_id}:"
        text += f" {_n(self.changed, 'record')} changed"
        if self.reply is not None:
            text += f"; receipt {self.reply}"
        if self.gone:
            text += (
                f"; {_n(len(self.gone), 'record')} it decided on were deleted already, the answer period"
                f" having passed without a decision (first: {self.gone[0]}): tell the archive"
            )
        return text


@dataclass(frozen=True)
class HandOverReport(AsJson):
    process_id: str
    documents: int
    files: int
    bytes: int
    path: Path
    # Records marked A left here: no longer due (case reopened), or restricted and the caller not cleared.
    left: int = 0

    def summary(self) -> str:
        text = (
            f"archive hand-over of process {self.process_id}: {_n(self.documents, 'document')},"
            f" {_n(self.files, 'file')}, {self.bytes:,} bytes; package {self.path}"
        )
        if self.left:
            text += (
                f"; {_n(self.left, 'record')} marked A left here: no longer due (case reopened), or"
                " restricted (for a records manager with the health clearance)"
            )
        return text


@dataclass(frozen=True)
class ProcessStatus(AsJson):
    process_id: str
    as_of: date
    offered_at: datetime
    offered_by: str
    recipient: str
    records: int
    counts: dict[str, int]
    overdue: int  # offered or undecided for longer than the answer period (0 when none is set)
    offer_receipt_at: datetime | None
    appraised_at: datetime | None
    handed_over_at: datetime | None
    handover_receipt_at: datetime | None
    confirmed_at: datetime | None
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def open(self) -> bool:
        finished = self.counts.get(DisposalState.ARCHIVED, 0) + self.counts.get(DisposalState.DESTROY, 0)
        return finished < self.records

    def summary(self) -> str:
        states = ", ".join(f"{n} {s}" for s, n in sorted(self.counts.items()) if n)
        text = f"{self.process_id}  offered {self.offered_at:%Y-%m-%d} ({self.records}): {states}"
        return text + (f"; {self.overdue} overdue for an answer" if self.overdue else "")


# --- offer -----------------------------------------------------------------------------------------------


def _parties(settings: Any) -> tuple[Party, Party]:
    if not settings.archive_sender or not settings.archive_recipient:
        raise ConfigError(
            "the Aussonderung needs archive_sender (the job centre, as the archive knows it) and"
            " archive_recipient (the archive) in the configuration (EKAKTE_ARCHIVE_SENDER,"
            " EKAKTE_ARCHIVE_RECIPIENT)"
        )
    return Party(settings.archive_sender, settings.archive_sender_unit), Party(settings.archive_recipient)


_DUE = (
    select(
        Document.id, Document.case_id, Case.case_number, Case.opened_on, Case.closed_on, Team.name,
        Document.document_type, Document.title, Document.received_on, Document.document_date,
        Document.media_type, Document.page_count, Document.due_on, Document.retention_rule,
        Document.retention_version, Document.restricted, Document.original_filename, Document.sha256,
        Document.size_bytes, Document.storage_key, Document.created_at, Document.station,
    )
    .join(Case, Case.id == Document.case_id)
    .outerjoin(Team, Team.id == Case.team_id)
)  # fmt: skip
_ORDER = (Document.case_id, Document.received_on, Document.id)  # a case's documents as they came in


def offer(
    archive: Archive,
    actor: Actor,
    out_dir: Path,
    *,
    as_of: date | None = None,
    limit: int | None = None,
) -> OfferReport:
    """Offer what is due as of `as_of` (default today) under `offer` rules, not held and never offered:
    one 0501 (zipped) into `out_dir`, the records `offered` under a new process id. `limit`: at most so
    many documents (the last case may be cut at the limit: its other documents come with a later offer,
    in that process's Akte of the case).

    Raises NotPermitted unless the actor is a records manager, ConfigError without sender and recipient,
    InvalidInput for an `out_dir` that is not a writable folder.
    """
    day = as_of or date.today()
    if day > date.today():
        raise InvalidInput(
            f"the offer's day {day} lies in the future: only what is due is offered", field="as_of"
        )
    if limit is not None and limit < 1:
        raise InvalidInput("an offer holds at least 1 document", field="limit")
    folder = _transfer_folder(out_dir)
    process_id = str(uuid.uuid4())
    decision = decided(
        archive, actor, Action.ARCHIVE, "archive offer",
        about=About(detail=f"archive offer as of {day}, process {process_id}"),
    )  # fmt: skip
    sender, recipient = _parties(archive.settings)
    titles = decision.subject is not None and decision.subject.health_clearance
    with aussonderung_step(archive):
        return _offer(archive, actor, folder, process_id, day, limit, sender, recipient, titles)


def _offer(
    archive: Archive, actor: Actor, folder: Path, process_id: str, day: date, limit: int | None,
    sender: Party, recipient: Party, titles: bool,
) -> OfferReport:  # fmt: skip
    _finish_renames(archive, folder)
    with archive.reading() as session:
        rel = releases(session, archive.settings, day)
        suggestions = _suggestions(session)
    due = _DUE.where(
        Document.state == DocumentState.STORED,
        Document.due_on < day,
        ~is_held(day),
        ~rel.clause(),
        ~exists().where(DisposalRecord.document_id == Document.id),
    )
    name = _free_name(archive, folder, package_name(process_id, "0501"))
    now = datetime.now(UTC)
    offered_on = date.today()  # the local day, as the sweep's and the answer period's days are
    offered: list[tuple[uuid.UUID, uuid.UUID]] = []
    cases = 0
    with _Pending(folder, name) as pending:
        package = zipfile.ZipFile(pending.file, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        with package, package.open(message_name(process_id, "0501"), "w", force_zip64=True) as member:
            sink = io.BufferedWriter(member, 1 << 16)
            out = XmlOut(sink)
            out.start_document("Aussonderung.Anbieteverzeichnis.0501")
            out.head(process_id, "0501", now, sender, recipient, receipt=True)
            for case_rows in _by_case(archive, due, limit):
                file_id = _file_id(process_id, case_rows[0].case_number)
                _write_akte(out, file_id, case_rows, suggestions, titles, None)
                offered += [(row.id, file_id) for row in case_rows]
                cases += 1
            out.end_document()
            sink.flush()
        if not offered:
            return OfferReport(None, day, 0, 0, None)
        digest = pending.finish()
        with archive.transaction() as session:
            session.add(
                DisposalProcess(
                    id=process_id, as_of=day, offered_at=now, offered_by=actor.effective,
                    recipient=recipient.name, records=len(offered),
                )
            )  # fmt: skip
            session.flush()
            for start in range(0, len(offered), CHUNK):
                session.execute(
                    insert(DisposalRecord),
                    [
                        {"document_id": doc, "process_id": process_id, "file_id": file_id,
                         "state": DisposalState.OFFERED, "offered_on": offered_on}
                        for doc, file_id in offered[start : start + CHUNK]
                    ],
                )  # fmt: skip
            _record_message(session, process_id, "0501", "out", name, digest, actor, len(offered), now)
        pending.recorded = True
        path = pending.publish()
    return OfferReport(process_id, day, cases, len(offered), path)


@dataclass(frozen=True)
class RuleInfo:
    suggestion: str  # A, V, or "" (none)
    years: int | None  # the retention period in whole years; None when it has months


def _suggestions(session: Session) -> dict[tuple[str, int], RuleInfo]:
    """What the offer says of each rule (name, version): its suggestion and its period in years."""
    found: dict[tuple[str, int], RuleInfo] = {}
    for version, content in session.execute(select(RetentionRuleSet.version, RetentionRuleSet.content)):
        for name, (_disposition, _release, suggest, keep) in dispositions(content).items():
            years, months = keep
            code = {"keep": "A", "destroy": "V"}.get(suggest, "")
            found[(name, version)] = RuleInfo(code, years if not months else None)
    return found


def _process_key(text: str) -> str:
    """A process id as given (CLI, API): a UUID, written as the database keeps it. A text that is none
    names no process (NotFound, as for an unknown one), and never reaches a query."""
    try:
        return str(uuid.UUID(text.strip()))
    except (ValueError, AttributeError):
        raise NotFound(f"no archive process {_printable(text)!r}") from None


def _printable(text: str) -> str:
    return "".join(c for c in str(text) if c.isprintable())[:40]


def _file_id(process_id: str, case_number: str) -> uuid.UUID:
    """The Akte's id in the messages of a process: the same for the same case, in no other process."""
    return uuid.uuid5(uuid.UUID(process_id), case_number)


def _by_case(archive: Archive, stmt: Any, limit: int | None) -> Iterator[list[Any]]:
    """The rows of `stmt` (ordered by case), a case at a time, read in chunks; at most `limit` rows."""
    current: list[Any] = []
    seen = 0
    for rows in in_chunks(archive.reading, stmt, _ORDER, CHUNK):
        for row in rows:
            if limit is not None and seen >= limit:
                break
            if current and row.case_id != current[0].case_id:
                yield current
                current = []
            current.append(row)
            seen += 1
        if limit is not None and seen >= limit:
            break
    if current:
        yield current


def _write_akte(
    out: XmlOut,
    file_id: uuid.UUID,
    rows: list[Any],
    suggestions: dict[tuple[str, int], RuleInfo],
    titles: bool,
    files: Callable[[XmlOut, Any], list[tuple[str, object]]] | None,
    decision: str = "B",
) -> None:
    """One Akte (the case) with its documents; `files` writes each document's Version (0503 only)."""
    first = rows[0]
    out.open("Schriftgutobjekt")
    out.open("Akte")
    out.open("Identifikation")
    out.leaf("ID", file_id)
    out.close()
    out.open("AllgemeineMetadaten")
    out.leaf("Betreff", f"Leistungsakte SGB II {first.case_number}")
    out.leaf("Kennzeichen", first.case_number)
    out.leaf("Federfuehrung", first.name)
    out.code("Medium", "Medium", "001")
    out.close()
    _disposal_metadata(out, rows, suggestions, decision)
    out.leaf("Typ", "Leistungsakte")
    out.open("Laufzeit")
    # The case's first day as far as ekakte knows it: its first appearance in the archive, or the
    # earliest received date of its documents (scans of old paper files come in later than they began).
    out.leaf("Beginn", min(first.opened_on, *(row.received_on for row in rows)))
    out.leaf("Ende", first.closed_on)
    out.close()
    out.open("Akteninhalt")
    for number, row in enumerate(rows, 1):
        out.open("Dokument")
        out.open("Identifikation")
        out.leaf("ID", row.id)
        out.leaf("NummerImUebergeordnetenContainer", number)
        out.close()
        out.open("AllgemeineMetadaten")
        title = row.title if (titles or not row.restricted) else None
        out.leaf("Betreff", title or row.document_type)
        out.close()
        out.leaf("Posteingangsdatum", row.received_on)
        out.leaf("DatumDesSchreibens", row.document_date)
        out.leaf("Typ", row.document_type)
        # xdomea has disposal metadata for an Akte, not for a document: each document's own goes into
        # ekakte's AnwendungsspezifischeErweiterung, beside what the schema has no element for.
        info = suggestions.get((row.retention_rule, row.retention_version))
        own = [
            ("Aufbewahrungsende", row.due_on),
            ("Aufbewahrungsregel", f"{row.retention_rule} (v{row.retention_version})"),
            ("Bewertungsvorschlag", info.suggestion if info else None),
            ("Seitenanzahl", row.page_count),
            ("Format", row.media_type),
        ]
        if files is not None:
            own = [*files(out, row), *own]
        _fields(out, own)
        out.close()
    out.close()  # Akteninhalt
    if first.closed_on is not None:
        out.leaf("ZdA", "1")
        out.leaf("ZdADatum", first.closed_on)
    out.close(2)  # Akte, Schriftgutobjekt


def _disposal_metadata(
    out: XmlOut, rows: list[Any], suggestions: dict[tuple[str, int], RuleInfo], decision: str
) -> None:
    """The Akte's ArchivspezifischeMetadaten: the retention period (when its documents share one in whole
    years), the disposal type (B while the archive decides; A in a hand-over), the rules' suggestion
    (when they agree), and the end of the retention (the latest due date of its documents)."""
    infos = {suggestions.get((r.retention_rule, r.retention_version)) for r in rows}
    years = {i.years for i in infos if i is not None}
    advice = {i.suggestion for i in infos if i is not None}
    out.open("ArchivspezifischeMetadaten")
    if len(years) == 1 and None not in years and None not in infos:
        out.open("Aufbewahrungsdauer")
        out.leaf("AnzahlJahre", years.pop())
        out.close()
    out.code("Aussonderungsart", "Aussonderungsart", decision, wrap="Aussonderungsart")
    if len(advice) == 1 and None not in infos and "" not in advice:
        out.code("Bewertungsvorschlag", "Bewertungsvorschlag", advice.pop())
    out.leaf("Aufbewahrungsende", max(row.due_on for row in rows))
    out.close()


def _fields(out: XmlOut, fields: list[tuple[str, object]]) -> None:
    """Values the schema has no element for, in an AnwendungsspezifischeErweiterung of ekakte's."""
    present = [(n, v) for n, v in fields if v is not None and v != ""]
    if not present:
        return
    out.open("AnwendungsspezifischeErweiterung")
    out.leaf("Kennung", "urn:ekakte:dokumentinformationen")
    out.leaf("Name", "ekakte")
    for name, value in present:
        out.open("Feld")
        out.leaf("Name", name)
        out.leaf("Wert", value)
        out.close()
    out.close()


# --- receiving the archive's messages --------------------------------------------------------------------


def receive(archive: Archive, actor: Actor, data: bytes, name: str, out_dir: Path) -> ReceiveReport:
    """Take one message of the archive (0502, 0504, 0506, 0507; the XML or its zip) as it arrived.

    Refused with InvalidInput, nothing changed: invalid against the schema, a process ekakte never
    offered, a record not offered in the process, a decision or result that contradicts one recorded,
    a 0506 about a record not handed over. The same message again: `already`, nothing changed. A 0502
    is answered with a 0505 receipt in `out_dir`. NotPermitted (audited) before the message is read
    for anyone but a records manager.
    """
    with archive.reading() as session:
        allowed = check(session, actor, Action.ARCHIVE).allowed
    if not allowed:  # the refusal is recorded; nothing of the message is read
        decided(archive, actor, Action.ARCHIVE, "archive receive", about=About(detail="archive receive"))
    name = "".join(c for c in name if c.isprintable())[:200] or "message"  # a file name, for the record
    body = unpack(data, name)
    message = read_message(body, name)
    digest = hashlib.sha256(body).hexdigest()
    folder = _transfer_folder(out_dir) if message.kind == "0502" else out_dir
    about = About(detail=f"archive receive {message.kind}, process {message.process_id[:36]}")

    def work(session: Session, _decision: Any) -> ReceiveReport:
        process = session.get(DisposalProcess, message.process_id)
        if process is None:
            raise InvalidInput(f"{name}: process {message.process_id!r} is not one of this archive's offers")
        before = session.scalar(
            select(DisposalMessage.at).where(
                DisposalMessage.process_id == process.id,
                DisposalMessage.direction == "in",
                DisposalMessage.sha256 == digest,
            )
        )
        if before is not None:
            return ReceiveReport(process.id, message.kind, name, True, 0, _counts(session, process.id), None)
        now = datetime.now(UTC)
        changed, named, gone = _apply(session, process, message, name, now)
        _record_message(session, process.id, message.kind, "in", name[:200], digest, actor, named, now)
        reply = None
        if message.kind == "0502":
            sender, recipient = _parties(archive.settings)
            content = receipt(process.id, "0505", now, sender, recipient)
            reply_name = _free_name(archive, folder, package_name(process.id, "0505"), session)
            reply = _write_small(folder, reply_name, message_name(process.id, "0505"), content)
            _record_message(session, process.id, "0505", "out", reply.name, _sha(reply), actor, 0, now)
        return ReceiveReport(
            process.id, message.kind, name, False, changed, _counts(session, process.id), reply, gone
        )

    with aussonderung_step(archive):
        return decided(archive, actor, Action.ARCHIVE, "archive receive", work, about=about)


def _apply(
    session: Session, process: DisposalProcess, message: Message, name: str, now: datetime
) -> tuple[int, int, list[uuid.UUID]]:
    """The message's effect on the process and its records: (records changed, records named, records it
    decided on that are no longer here: deleted after the answer period without a decision)."""
    if message.kind == "0504":
        process.offer_receipt_at = process.offer_receipt_at or now
        return 0, 0, []
    if message.kind == "0507":
        if process.handed_over_at is None:
            raise InvalidInput(
                f"{name}: a receipt of a hand-over, but nothing of process {process.id} was handed over"
            )
        process.handover_receipt_at = now
        return 0, 0, []
    records = {
        r.document_id: r
        for r in session.scalars(select(DisposalRecord).where(DisposalRecord.process_id == process.id))
    }
    by_file: dict[uuid.UUID, list[DisposalRecord]] = {}
    for record in records.values():
        by_file.setdefault(record.file_id, []).append(record)
    here = _stored(session, list(records))
    items = message.appraisals if message.kind == "0502" else message.results
    for item in items:
        if item.object_id not in records and item.object_id not in by_file:
            raise InvalidInput(
                f"{name}: names {item.object_id}, which was not offered in process {process.id}"
            )
    # An Akte's answer applies to those of its documents it can apply to; a document's own answer in the
    # same message wins over its Akte's, and must fit what is recorded of it.
    answer = _Answer(message, records, by_file, here, name, now, process)
    return _appraise(answer) if message.kind == "0502" else _confirm(answer)


@dataclass(frozen=True)
class _Answer:
    """A 0502 or 0506 and what it is read against: the process's records (by document and by Akte), which
    of their documents are still stored, the message's file name, the time it is taken."""

    message: Message
    records: dict[uuid.UUID, DisposalRecord]
    by_file: dict[uuid.UUID, list[DisposalRecord]]
    here: set[uuid.UUID]
    name: str
    now: datetime
    process: DisposalProcess

    def fields(self) -> tuple[Any, ...]:
        return (self.message, self.records, self.by_file, self.here, self.name, self.now, self.process)


def _stored(session: Session, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    found: set[uuid.UUID] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update(
            session.scalars(
                select(Document.id).where(Document.id.in_(chunk), Document.state == DocumentState.STORED)
            )
        )
    return found


def _appraise(answer: _Answer) -> tuple[int, int, list[uuid.UUID]]:
    message, records, by_file, here, name, now, process = answer.fields()
    decided_for: dict[uuid.UUID, str] = {}
    for item in message.appraisals:  # the Akten's first
        for record in by_file.get(item.object_id, []):
            if record.state in _OPEN:
                decided_for[record.document_id] = _DECISIONS[item.decision]
    own = {
        item.object_id: _DECISIONS[item.decision] for item in message.appraisals if item.object_id in records
    }
    for doc, state in own.items():
        record = records[doc]
        same = record.state == state or (state == DisposalState.KEEP and record.state in _KEPT)
        if not same and record.state not in _OPEN and doc in here:
            raise InvalidInput(
                f"{name}: decides {_word(state)} for document {doc}, but the archive's decision"
                f" {_word(record.state)} is recorded; nothing changed"
            )
        decided_for[doc] = state
    changed, gone = 0, []
    for doc, state in decided_for.items():
        record = records[doc]
        if doc not in here:
            if record.state in _OPEN and state != DisposalState.DESTROY:
                gone.append(doc)  # deleted after the answer period; the archive is told so by the report
            continue
        if record.state not in _OPEN:
            continue
        if record.state != state:
            record.state, record.decided_at = state, now
            changed += 1
    process.appraised_at = now
    return changed, len(decided_for), gone


def _confirm(answer: _Answer) -> tuple[int, int, list[uuid.UUID]]:
    message, records, by_file, _here, name, now, process = answer.fields()
    done = (DisposalState.HANDED_OVER, DisposalState.ARCHIVED, DisposalState.FAILED)
    results: dict[uuid.UUID, tuple[str, str, str]] = {}  # document → (state, reference, failure)

    def outcome(success: bool, reference: str, error: str) -> tuple[str, str, str]:
        if success:
            return DisposalState.ARCHIVED, reference, ""
        return DisposalState.FAILED, "", error or "failed, no reason given"

    for item in message.results:  # the Akten's first: their handed-over documents
        members = [r for r in by_file.get(item.object_id, []) if r.state in done]
        if item.object_id in by_file and not members:
            raise InvalidInput(
                f"{name}: reports the import of Akte {item.object_id}, none of whose documents was handed"
                " over; nothing changed"
            )
        for record in members:
            results[record.document_id] = outcome(item.success, item.reference, item.error)
    for item in message.results:
        if item.object_id in records:
            results[item.object_id] = outcome(item.success, item.reference, item.error)
    changed = 0
    for doc, (state, reference, failure) in results.items():
        record = records[doc]
        if record.state == state and (record.archive_reference or "") == reference:
            continue
        if record.state not in (DisposalState.HANDED_OVER, DisposalState.FAILED) and not (
            record.state == DisposalState.ARCHIVED and state == DisposalState.ARCHIVED
        ):
            raise InvalidInput(
                f"{name}: reports the import of document {doc}, which is {_word(record.state)}, not handed"
                " over; nothing changed"
            )
        if record.state == DisposalState.ARCHIVED and state == DisposalState.FAILED:
            raise InvalidInput(
                f"{name}: reports the import of document {doc} failed, but its import was confirmed before;"
                " nothing changed"
            )
        record.state, record.confirmed_at = state, now
        record.archive_reference, record.failure = reference or None, failure or None
        changed += 1
    process.confirmed_at = now
    return changed, len(results), []


def _word(state: str) -> str:
    words = {
        DisposalState.KEEP: "A (keep)",
        DisposalState.DESTROY: "V (destroy)",
        DisposalState.UNDECIDED: "B (undecided)",
    }
    return words.get(state, state)


def _counts(session: Session, process_id: str) -> dict[str, int]:
    rows = session.execute(
        select(DisposalRecord.state, func.count())
        .where(DisposalRecord.process_id == process_id)
        .group_by(DisposalRecord.state)
    ).all()
    return {state: int(n) for state, n in rows}


# --- hand-over -------------------------------------------------------------------------------------------


def hand_over(archive: Archive, actor: Actor, process_id: str, out_dir: Path) -> HandOverReport:
    """The 0503 of a process: every record the archive marked A (and those whose import failed), with
    their originals byte for byte and the OCR text, into one zip in `out_dir`, streamed. Each original is
    verified as it is read: a corrupt one stops the hand-over (IntegrityError) and leaves no package.
    The records become `handed_over`. NotFound for an unknown process; InvalidInput when it has nothing
    to hand over (records already handed over wait for the archive's 0506, they are not sent twice).
    """
    folder = _transfer_folder(out_dir)
    decision = decided(
        archive, actor, Action.ARCHIVE_HAND_OVER, "archive hand-over",
        about=About(detail=f"archive hand-over, process {_printable(process_id)}"),
    )  # fmt: skip
    process_id = _process_key(process_id)
    cleared = decision.subject is not None and decision.subject.health_clearance
    sender, recipient = _parties(archive.settings)
    with aussonderung_step(archive):
        return _hand_over(archive, actor, process_id, folder, sender, recipient, cleared)


def _hand_over(
    archive: Archive,
    actor: Actor,
    process_id: str,
    folder: Path,
    sender: Party,
    recipient: Party,
    cleared: bool,
) -> HandOverReport:
    _finish_renames(archive, folder)
    with archive.reading() as session:
        process = session.get(DisposalProcess, process_id)
        if process is None:
            raise NotFound(f"no archive process {process_id!r}")
        counts = _counts(session, process_id)
        suggestions = _suggestions(session)
    waiting = (DisposalState.KEEP, DisposalState.FAILED)
    if not any(counts.get(s) for s in waiting):
        handed = counts.get(DisposalState.HANDED_OVER, 0)
        raise InvalidInput(
            f"process {process_id}: nothing to hand over ({counts.get(DisposalState.KEEP, 0)} marked A;"
            f" {handed} handed over and waiting for the archive's confirmation)"
        )
    # Only what is still due (a case reopened since the offer keeps its documents here), and restricted
    # documents (health data) only by a records manager with the health clearance.
    chosen = _DUE.join(DisposalRecord, DisposalRecord.document_id == Document.id).where(
        DisposalRecord.process_id == process_id,
        DisposalRecord.state.in_(waiting),
        Document.state == DocumentState.STORED,
        Document.due_on < date.today(),
    )
    if not cleared:
        chosen = chosen.where(Document.restricted.is_(False))
    marked = sum(counts.get(s, 0) for s in waiting)
    name = _free_name(archive, folder, package_name(process_id, "0503"))
    now = datetime.now(UTC)
    documents: list[uuid.UUID] = []
    totals = {"files": 0, "bytes": 0}
    with _Pending(folder, name) as pending:
        xml_part = pending.side_file()
        with zipfile.ZipFile(pending.file, "w", zipfile.ZIP_STORED, allowZip64=True) as package:
            out = XmlOut(xml_part)
            out.start_document("Aussonderung.Aussonderung.0503")
            out.head(process_id, "0503", now, sender, recipient, receipt=True)

            texts: dict[uuid.UUID, bytes] = {}
            renditions: dict[uuid.UUID, Any] = {}

            def files(xml: XmlOut, row: Any) -> list[tuple[str, object]]:
                text, rendition = texts.pop(row.id, None), renditions.pop(row.id, None)
                return _write_files(archive, package, xml, row, text, rendition, totals)

            for case_rows in _by_case(archive, chosen, None):
                texts = _texts_of(archive, [row.id for row in case_rows])
                renditions = _renditions_of(archive, [row.id for row in case_rows])
                file_id = _file_id(process_id, case_rows[0].case_number)
                _write_akte(out, file_id, case_rows, suggestions, True, files, decision="A")
                documents += [row.id for row in case_rows]
            out.end_document()
            xml_part.flush()
            xml_part.seek(0)
            info = zipfile.ZipInfo(message_name(process_id, "0503"), now.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            with package.open(info, "w", force_zip64=True) as member:
                shutil.copyfileobj(xml_part, member, 1 << 20)
        if not documents:
            raise InvalidInput(
                f"process {process_id}: none of the {marked} records marked A can be handed over now: no"
                " longer due (their case was reopened), or restricted (health data: for a records manager"
                " with the health clearance)"
            )
        digest = pending.finish()
        with archive.transaction() as session:
            for start in range(0, len(documents), CHUNK):
                session.execute(
                    update(DisposalRecord)
                    .where(DisposalRecord.document_id.in_(documents[start : start + CHUNK]))
                    .values(state=DisposalState.HANDED_OVER, handed_over_at=now, failure=None)
                    .execution_options(synchronize_session=False)
                )
            session.execute(
                update(DisposalProcess).where(DisposalProcess.id == process_id).values(handed_over_at=now)
            )
            _record_message(session, process_id, "0503", "out", name, digest, actor, len(documents), now)
        pending.recorded = True
        path = pending.publish()
    left = marked - len(documents)
    return HandOverReport(process_id, len(documents), totals["files"], totals["bytes"], path, left)


def _write_files(
    archive: Archive,
    package: zipfile.ZipFile,
    out: XmlOut,
    row: Any,
    text: bytes | None,
    rendition: Any,
    totals: dict[str, int],
) -> list[tuple[str, object]]:
    """The document's original (verified as it is read), its OCR text and its searchable PDF (verified
    too) into the package, each a Format of the one Version with its Primaerdokument in the XML; returns
    their SHA-256 fields (xdomea has no element for a checksum: they go into ekakte's
    AnwendungsspezifischeErweiterung, "SHA-256 <Dateiname>")."""
    code, extension = FILE_FORMATS.get(row.media_type, ("100", "bin"))  # 100: Sonstiges
    original = f"{row.id}.{extension}"
    with package.open(_member(original, row.created_at), "w", force_zip64=True) as member:
        for chunk in read_verified(archive.store, row.storage_key, row.sha256, row.size_bytes):
            member.write(chunk)
    # read_verified raised (ChecksumMismatch) before here if the bytes were not the recorded ones.
    hashes: list[tuple[str, object]] = [(f"SHA-256 {original}", row.sha256)]
    text_name = f"{row.id}.txt"
    out.open("Version")
    out.leaf("Nummer", "1")
    _format(out, code, original, row.original_filename, row.station, row.created_at)
    if text is not None:
        with package.open(_member(text_name, row.created_at), "w", force_zip64=True) as member:
            member.write(text)
        _format(out, "045", text_name, "", "ekakte OCR", row.created_at)
        hashes.append((f"SHA-256 {text_name}", hashlib.sha256(text).hexdigest()))
        totals["files"] += 1
        totals["bytes"] += len(text)
    if rendition is not None:
        searchable = f"{row.id}.searchable.pdf"
        with package.open(_member(searchable, rendition.made_at), "w", force_zip64=True) as member:
            for chunk in read_verified(
                archive.store, rendition.storage_key, rendition.sha256, rendition.size
            ):
                member.write(chunk)
        _format(out, FILE_FORMATS["application/pdf"][0], searchable, "", "ekakte OCR", rendition.made_at)
        hashes.append((f"SHA-256 {searchable}", rendition.sha256))
        totals["files"] += 1
        totals["bytes"] += rendition.size
    out.close()
    totals["files"] += 1
    totals["bytes"] += row.size_bytes
    return hashes


def _member(name: str, when: datetime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED
    return info


def _format(out: XmlOut, code: str, name: str, original_name: str, creator: str, when: datetime) -> None:
    out.open("Format")
    if code:
        out.code("Name", "Dateiformat", code)
    out.empty("Version")
    out.open("Primaerdokument")
    out.leaf("Dateiname", name)
    out.leaf("DateinameOriginal", original_name)
    out.leaf("Ersteller", creator)
    out.leaf("DatumUhrzeit", when.isoformat(timespec="seconds"))
    out.close(2)


def _renditions_of(archive: Archive, document_ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The searchable PDF (key, SHA-256, size, when made) of each of a case's documents that has one."""
    found: dict[uuid.UUID, Any] = {}
    for start in range(0, len(document_ids), 500):
        with archive.reading() as session:
            rows = session.execute(
                select(
                    Rendition.document_id, Rendition.storage_key, Rendition.sha256,
                    Rendition.size_bytes.label("size"), Rendition.made_at,
                ).where(
                    Rendition.document_id.in_(document_ids[start : start + 500]),
                    Rendition.kind == SEARCHABLE_PDF,
                )
            )  # fmt: skip
            found.update({row.document_id: row for row in rows})
    return found


def _texts_of(archive: Archive, document_ids: list[uuid.UUID]) -> dict[uuid.UUID, bytes]:
    """The recognised text of each of a case's documents that has some, pages separated by form feeds
    (one query for the case, not one per document)."""
    pages: dict[uuid.UUID, list[str]] = {}
    for start in range(0, len(document_ids), 500):
        with archive.reading() as session:
            rows = session.execute(
                select(Page.document_id, Page.text)
                .where(
                    Page.document_id.in_(document_ids[start : start + 500]), Page.ocr_state == OcrState.DONE
                )
                .order_by(Page.document_id, Page.number)
            )
            for document_id, text in rows:
                pages.setdefault(document_id, []).append(text or "")
    return {doc: "\f".join(texts).encode("utf-8") for doc, texts in pages.items() if any(texts)}


# --- status ----------------------------------------------------------------------------------------------


def status(archive: Archive, actor: Actor, process_id: str | None = None) -> list[ProcessStatus]:
    """The processes (or one), newest first, with their records by state and what is overdue."""
    about = About(detail=f"archive status{f', process {_printable(process_id)}' if process_id else ''}")

    def read(session: Session, _decision: Any) -> list[ProcessStatus]:
        stmt = select(DisposalProcess).order_by(DisposalProcess.offered_at.desc())
        if process_id is not None:
            stmt = stmt.where(DisposalProcess.id == _process_key(process_id))
        processes = list(session.scalars(stmt))
        if process_id is not None and not processes:
            raise NotFound(f"no archive process {process_id!r}")
        months = archive.settings.archive_answer_months
        cutoff = add_months(date.today(), -months) if months else None
        found = []
        for p in processes:
            overdue = 0
            if cutoff is not None:
                overdue = int(
                    session.scalar(
                        select(func.count()).where(
                            DisposalRecord.process_id == p.id,
                            DisposalRecord.state.in_(_OPEN),
                            DisposalRecord.offered_on < cutoff,
                        )
                    )
                    or 0
                )
            messages = [
                {
                    "kind": m.kind,
                    "direction": m.direction,
                    "name": m.name,
                    "at": m.at.isoformat(),
                    "records": m.records,
                }
                for m in session.scalars(
                    select(DisposalMessage)
                    .where(DisposalMessage.process_id == p.id)
                    .order_by(DisposalMessage.id)
                )
            ]
            found.append(
                ProcessStatus(
                    p.id, p.as_of, p.offered_at, p.offered_by, p.recipient, p.records, _counts(session, p.id),
                    overdue, p.offer_receipt_at, p.appraised_at, p.handed_over_at, p.handover_receipt_at,
                    p.confirmed_at, messages,
                )
            )  # fmt: skip
        return found

    return decided(archive, actor, Action.ARCHIVE, "archive status", read, about=about, reads_only=True)


# --- files in the transfer folder ------------------------------------------------------------------------


def _transfer_folder(out_dir: Path) -> Path:
    folder = Path(out_dir)
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder", field="out_dir")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidInput(f"{folder} is not writable", field="out_dir")
    return folder


class _Pending:
    """A message being written: a hidden temporary file in the folder, synced, renamed when published."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder, self.name = folder, name
        fd, temp = tempfile.mkstemp(prefix=f"{_TEMP_PREFIX}{name}.", suffix=".tmp", dir=folder)
        self.path = Path(temp)
        self.file: IO[bytes] = os.fdopen(fd, "w+b")
        self._side: IO[bytes] | None = None
        self.published = False
        self.recorded = False  # the database knows its SHA-256: a crash now leaves it for _finish_renames

    def side_file(self) -> IO[bytes]:
        """A private scratch file beside it (the 0503's XML while the primary files are written)."""
        self._side = tempfile.TemporaryFile(dir=self.folder, prefix=_TEMP_PREFIX)  # noqa: SIM115 (closed in __exit__)
        return self._side

    def finish(self) -> str:
        """Sync it; its SHA-256 (what the database records before it is published)."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.seek(0)
        digest = hashlib.sha256()
        while block := self.file.read(1 << 20):
            digest.update(block)
        self.file.close()
        return digest.hexdigest()

    def publish(self) -> Path:
        """Under its name, never over another file (a link, then the temporary name goes)."""
        target = self.folder / self.name
        os.link(self.path, target)  # FileExistsError rather than replacing a message not yet collected
        self.path.unlink()
        _sync_folder(self.folder)
        self.published = True
        return target

    def __enter__(self) -> _Pending:
        return self

    def __exit__(self, exc_type: object, *_rest: object) -> None:
        if self._side is not None:
            self._side.close()
        if not self.file.closed:
            self.file.close()
        if not self.published and not self.recorded:
            # Not recorded (an error, or nothing to write): nobody may take it for a message. A temporary
            # file that was recorded is left: the next run of the step publishes it (_finish_renames).
            self.path.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_small(folder: Path, name: str, member: str, content: bytes) -> Path:
    with _Pending(folder, name) as pending:
        with zipfile.ZipFile(pending.file, "w", zipfile.ZIP_DEFLATED) as package:
            package.writestr(member, content)
        pending.finish()
        return pending.publish()


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _free_name(archive: Archive, folder: Path, name: str, session: Session | None = None) -> str:
    """The message's name as xdomea gives it, or, when a message of that name is in the folder still or
    was written before (a second hand-over or receipt in one process), the name with -2, -3, … before
    `.zip`: a message the archive has not collected yet is never replaced."""

    def taken(candidate: str, session: Session) -> bool:
        if os.path.lexists(folder / candidate):  # a link planted under the name counts as taken
            return True
        recorded = select(DisposalMessage.id).where(
            DisposalMessage.name == candidate, DisposalMessage.direction == "out"
        )
        return session.scalar(recorded.limit(1)) is not None

    def first_free(session: Session) -> str:
        stem = name[: -len(".zip")]
        candidate, n = name, 1
        while taken(candidate, session):
            n += 1
            candidate = f"{stem}-{n}.zip"
        return candidate

    if session is not None:
        return first_free(session)
    with archive.reading() as reading:
        return first_free(reading)


def _finish_renames(archive: Archive, folder: Path) -> None:
    """Temporary files a crashed run left: published when the database recorded them under their name
    with their SHA-256 (the crash came between the commit and the rename), removed otherwise (it came
    before the commit)."""
    leftovers = [p for p in folder.glob(f"{_TEMP_PREFIX}*.tmp") if p.is_file()]
    if not leftovers:
        return
    with archive.reading() as session:
        for path in leftovers:
            name = path.name[len(_TEMP_PREFIX) :].rsplit(".", 2)[0]
            recorded = session.scalar(
                select(DisposalMessage.id).where(
                    DisposalMessage.name == name,
                    DisposalMessage.sha256 == _sha(path),
                    DisposalMessage.direction == "out",
                )
            )
            if recorded is not None and not os.path.lexists(folder / name):
                os.link(path, folder / name)
                path.unlink()
                _sync_folder(folder)
            else:
                path.unlink(missing_ok=True)


def _record_message(
    session: Session, process_id: str, kind: str, direction: str, name: str, digest: str, actor: Actor,
    records: int, now: datetime,
) -> None:  # fmt: skip
    session.add(
        DisposalMessage(
            process_id=process_id, kind=kind, direction=direction, name=name, sha256=digest, at=now,
            by=actor.effective, records=records,
        )
    )  # fmt: skip
