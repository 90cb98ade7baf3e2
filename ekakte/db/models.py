"""Typed SQLAlchemy models. The schema itself is owned by the Alembic scripts in migrations/."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column

# Named constraints, so that later migrations can drop or alter them by name on both dialects.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

UTC_TIMESTAMP = DateTime(timezone=True)
# SQLite makes only INTEGER PRIMARY KEY an auto-incrementing rowid (and only that survives VACUUM).
PAGE_ID = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, for inserts on hot paths that need no ORM unit of work."""
    return cast(Table, model.__table__)


class DocumentState:
    """Life-cycle states of a document row. A row exists only once its object is durably stored."""

    STORED = "stored"
    # The retention sweep is removing its objects; invisible to every reader, finished by the next sweep.
    DELETING = "deleting"


class OcrState:
    """OCR states of a page. A page is `pending` until a worker records `done`, `failed` or `skipped`;
    the lease columns say which worker is on it, and until when."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"  # gave up after the configured number of attempts; `reason` says why
    SKIPPED = "skipped"  # cannot be read at all (e.g. an encrypted PDF); `reason` says why


# The case the documents no case was found for wait in (the Postkorb), until the triage role assigns
# them. Its number is mixed case: every case number given to ekakte is stored in upper case, so no input
# can name it (a case show, an assignment to a team, an import), and it never has a team.
POSTKORB_CASE = "Postkorb"


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_number: Mapped[str] = mapped_column(String(64), unique=True)
    # The responsible team; None until assigned, and then nobody but admins and global roles sees it.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    # The day the case first appeared in the archive (the benefits software is the master of case data).
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)


class ImportBatch(Base):
    """One run of `ekakte import`: who imported what from which station, and how it went."""

    __tablename__ = "import_batches"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    station: Mapped[str] = mapped_column(String(100))
    operator: Mapped[str] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(String(1000))
    started_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    finished_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)
    stored: Mapped[int] = mapped_column(Integer, default=0)
    already_stored: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        # Idempotency: the same bytes are stored once per case, whatever races between importers.
        UniqueConstraint("case_id", "sha256", name="uq_documents_case_id_sha256"),
        # The caseworker's query: one case's documents, newest first.
        Index("ix_documents_case_received", "case_id", "received_on", "created_at"),
        # Retention: what is due, oldest first (plan, sweep).
        Index("ix_documents_due_on", "due_on", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    document_type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(500))
    received_on: Mapped[date] = mapped_column(Date)
    station: Mapped[str] = mapped_column(String(100))
    operator: Mapped[str] = mapped_column(String(100))
    batch_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("import_batches.id"), index=True)
    original_filename: Mapped[str] = mapped_column(String(1000))
    media_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    # None when the page count cannot be read without a password (encrypted PDF).
    page_count: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default=DocumentState.STORED)
    created_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    # The date the document itself bears (a letter's date), for rules triggered by `document_date`.
    document_date: Mapped[date | None] = mapped_column(Date)
    # Retention: the last day the document must be kept (None: not due under any rule, e.g. open case),
    # and the rule (name, rule-set version) that says so. Recomputed when rules or the case change.
    due_on: Mapped[date | None] = mapped_column(Date)  # indexed with id: ix_documents_due_on
    retention_rule: Mapped[str | None] = mapped_column(String(100))
    retention_version: Mapped[int | None] = mapped_column(Integer)
    # What the object store was last told under S3 Object Lock (ekakte.retention.worm): the object is
    # retained through `locked_until`; `object_hold` mirrors ekakte's legal holds onto the object.
    locked_until: Mapped[date | None] = mapped_column(Date)
    object_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Health data (DSGVO Art. 9): only users with the health clearance see the document's title, file name
    # and content. Archive state, set at import from the restricted types (ekakte.policy) and changed only
    # by `ekakte type restrict` / `unrestrict`; every read path asks this column, none the type's name.
    restricted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class RestrictedType(Base):
    """A document type whose documents are restricted (ekakte.policy): the archive's policy, not any
    caller's configuration."""

    __tablename__ = "restricted_types"

    # The type's name case-folded (ekakte.policy.fold), so "Gutachten" and "GUTACHTEN" are one type.
    document_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    added_by: Mapped[str] = mapped_column(String(100))


class Page(Base):
    """One page of a document and its text. The text index (FTS5 / tsvector) is kept by the database:
    see migrations/versions/0003_ocr_and_search.py and ekakte/search/."""

    __tablename__ = "pages"
    __table_args__ = (
        UniqueConstraint("document_id", "number", name="uq_pages_document_id_number"),
        # The OCR queue: only pending pages are in it, so it stays small however large the archive grows.
        Index(
            "ix_pages_pending",
            "id",
            postgresql_where=text("ocr_state = 'pending'"),
            sqlite_where=text("ocr_state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(PAGE_ID, primary_key=True, autoincrement=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    ocr_state: Mapped[str] = mapped_column(String(20), default=OcrState.PENDING)
    confidence: Mapped[float | None] = mapped_column(Float)  # tesseract's mean word confidence, 0-100
    engine: Mapped[str | None] = mapped_column(String(60))  # e.g. "tesseract 5.3.0", "pypdf text layer"
    language: Mapped[str | None] = mapped_column(String(40))  # e.g. "deu+eng"
    rotation: Mapped[int | None] = mapped_column(Integer)  # degrees the page was turned to be read
    # What ekakte's 2D reference codes on the page say (the first pages; ekakte.ocr.task.codes_text);
    # None when it was not looked at.
    codes: Mapped[str | None] = mapped_column(String(1000))
    # Whether the OCR worker found the page blank (ekakte.mailroom.detect.is_blank); None: not looked at.
    blank: Mapped[bool | None] = mapped_column(Boolean)
    # Tesseract's text-only PDF page, kept until the document's last page is read and its searchable
    # rendition is made (ekakte.ocr), then cleared. Deferred: nothing else ever reads it.
    layer: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    reason: Mapped[str | None] = mapped_column(String(500))  # why failed / skipped, or the last error
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)
    ocr_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)
    # A copy of the team of the page's case, for the text indexes, which are per team (migration 0007),
    # signed by the document's restricted flag (migration 0011): the team's id for a page of an
    # unrestricted document, its negative for one of a restricted document, NULL for a case of no team
    # (so no foreign key). Written with the page (ingest.py), rewritten by triggers when the case's team
    # or the document's flag changes. Never what decides access: the search checks the page's document
    # and case themselves.
    team_id: Mapped[int | None] = mapped_column(Integer)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)


class Principal(Base):
    """A user (or service) ekakte knows. Nobody else gets anything."""

    __tablename__ = "principals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    health_clearance: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    # argon2id of a local password (ekakte.sessions), None for those who sign in only at the identity
    # provider.
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    password_set_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP, nullable=True)


class PrincipalRole(Base):
    __tablename__ = "principal_roles"

    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(30), primary_key=True)


class TeamMember(Base):
    __tablename__ = "team_members"

    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)


# SQLite makes only INTEGER PRIMARY KEY an auto-incrementing rowid.
AUDIT_ID = BigInteger().with_variant(Integer, "sqlite")


class AuditEntry(Base):
    """Append-only, hash-chained: each entry's hash covers its fields and the previous entry's hash."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_case_number", "case_number"),
        Index("ix_audit_log_actor", "actor"),
        # The recorded checks of scanned batches, each naming its seal: verify finds a removed seal by them.
        Index(
            "ix_audit_log_scan_checks",
            "id",
            postgresql_where=text("action = 'scan.check'"),
            sqlite_where=text("action = 'scan.check'"),
        ),
    )

    id: Mapped[int] = mapped_column(AUDIT_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    on_behalf_of: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(10))
    case_number: Mapped[str | None] = mapped_column(String(64))
    document_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str | None] = mapped_column(String(500))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # How the request came in (migration 0013): NULL in the entries written before, whose hashes do not
    # cover them; set in every entry since, whose hashes do (audit._fields).
    channel: Mapped[str | None] = mapped_column(String(10))
    client_address: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))


class LoginThrottle(Base):
    """Failed sign-ins of a user ("user:NAME") or from a client address ("address:IP")."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    first_failure_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    locked_until: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP, nullable=True)


class WebSession(Base):
    """A signed-in session of the service, by the SHA-256 of its cookie."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal: Mapped[str] = mapped_column(String(100), index=True)
    method: Mapped[str] = mapped_column(String(10))  # "oidc" or "password"
    created_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    last_seen_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    expires_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    csrf_token: Mapped[str] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The words of the session's last search, highlighted in the documents opened from it.
    search_words: Mapped[str | None] = mapped_column(String(1000), nullable=True)


class LoginFlow(Base):
    """An OpenID sign-in under way, by the SHA-256 of its `state`."""

    __tablename__ = "login_flows"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    return_to: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)


class ArchiveFact(Base):
    """Something the archive remembers about itself: `bootstrap` (its first admin, set once by `init`),
    `protocol_key` (the fingerprint of its deletion protocol's key)."""

    __tablename__ = "archive_facts"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(500))
    recorded_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)


class RetentionRuleSet(Base):
    """A rules file as loaded, kept verbatim: version N is what `retention rules show --version N` shows."""

    __tablename__ = "retention_rule_sets"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    loaded_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    loaded_by: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)


class LegalHold(Base):
    """A Löschsperre on a case or one document: nothing it covers is deleted while it is active."""

    __tablename__ = "legal_holds"
    __table_args__ = (
        CheckConstraint("(case_id IS NULL) <> (document_id IS NULL)", name="one_target"),
        Index("ix_legal_holds_case_id", "case_id"),
        Index("ix_legal_holds_document_id", "document_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    # No foreign key: a hold is evidence and outlives nothing it protects (a held document is never deleted).
    document_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reason: Mapped[str] = mapped_column(String(500))
    until: Mapped[date | None] = mapped_column(Date)  # active through this day; None: until released
    created_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    created_by: Mapped[str] = mapped_column(String(100))
    released_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)
    released_by: Mapped[str | None] = mapped_column(String(100))


class DeletionRecord(Base):
    """One line of the Löschprotokoll: what was deleted, when and by which rule, without the personal data
    itself (the case number only as a keyed hash)."""

    __tablename__ = "deletion_protocol"
    __table_args__ = (Index("ix_deletion_protocol_deleted_at", "deleted_at"),)

    id: Mapped[int] = mapped_column(AUDIT_ID, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(String(36), unique=True)
    document_type: Mapped[str] = mapped_column(String(64))
    case_hash: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(100))
    rule_version: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)
    deleted_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    deleted_by: Mapped[str] = mapped_column(String(100))
    sweep_id: Mapped[str] = mapped_column(String(36))
    sha256: Mapped[str] = mapped_column(String(64))
    objects: Mapped[int] = mapped_column(Integer)  # how many objects (original and derived) were removed
    # How the archive's right to the record was met (ekakte.retention.disposal); None before 0015.
    disposal: Mapped[str | None] = mapped_column(String(500))


class DisposalState:
    """States of a record offered to the archive (ekakte.retention.disposal)."""

    OFFERED = "offered"  # in an Anbieteverzeichnis (0501); no answer yet
    UNDECIDED = "undecided"  # the archive answered B: not decided yet
    KEEP = "keep"  # A: archivwürdig, to be handed over
    DESTROY = "destroy"  # V: released for destruction; the sweep deletes it
    HANDED_OVER = "handed_over"  # in a written Aussonderung (0503); waiting for the import confirmation
    ARCHIVED = "archived"  # the archive confirmed the import (0506), with its reference; the sweep deletes it
    FAILED = "failed"  # the archive reported the import failed (0506); it may be handed over again


class DisposalProcess(Base):
    """One Aussonderung: an offer (0501) under its process id, and what was exchanged since."""

    __tablename__ = "disposal_processes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    offered_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    offered_by: Mapped[str] = mapped_column(String(100))
    recipient: Mapped[str] = mapped_column(String(200))
    records: Mapped[int] = mapped_column(Integer)
    offer_receipt_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)  # 0504
    appraised_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)  # the last 0502
    handed_over_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)  # the last 0503 written
    handover_receipt_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)  # 0507
    confirmed_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)  # the last 0506


class DisposalRecord(Base):
    """A document offered to the archive, and the archive's answers about it. No foreign key to the
    document: the row is the evidence of what was offered and answered, and outlives the document."""

    __tablename__ = "disposal_records"
    __table_args__ = (Index("ix_disposal_records_process_state", "process_id", "state"),)

    document_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    process_id: Mapped[str] = mapped_column(ForeignKey("disposal_processes.id"))
    file_id: Mapped[uuid.UUID] = mapped_column(Uuid)  # the Akte (case) it was offered in
    state: Mapped[str] = mapped_column(String(20))
    offered_on: Mapped[date] = mapped_column(Date)
    decided_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)
    handed_over_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)
    archive_reference: Mapped[str | None] = mapped_column(String(500))
    failure: Mapped[str | None] = mapped_column(String(1000))


class DisposalMessage(Base):
    """An xdomea message of a process, written (`out`) or received (`in`), by its SHA-256."""

    __tablename__ = "disposal_messages"
    __table_args__ = (
        Index("ix_disposal_messages_process_id", "process_id"),
        Index("ix_disposal_messages_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[str] = mapped_column(ForeignKey("disposal_processes.id"))
    kind: Mapped[str] = mapped_column(String(4))  # 0501 … 0507
    direction: Mapped[str] = mapped_column(String(3))  # in, out
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    by: Mapped[str] = mapped_column(String(100))
    records: Mapped[int] = mapped_column(Integer)  # how many records it named


class Stack(Base):
    """A scanned stack of mail (one PDF or multi-page TIFF holding many documents), split at its cover and
    separator sheets. Recorded by its SHA-256, once: importing the same bytes again finishes or repeats
    the same split. The stack's file itself is not stored; its parts are (StackPart)."""

    __tablename__ = "stacks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(1000))
    media_type: Mapped[str] = mapped_column(String(100))
    page_count: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("import_batches.id"), index=True)
    station: Mapped[str] = mapped_column(String(100))
    operator: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    finished_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)  # every document part stored


class StackPart(Base):
    """Pages first_page..last_page of a stack and what they became: a document (its id and SHA-256, with
    the metadata of the cover sheet it followed), or a sheet (`cover`, `separator`, with what its code
    said) or a sheet's blank back (`back`), which are recorded here and not stored. No foreign key to the
    document: the row shows which pages of which scan became which document after the document is gone."""

    __tablename__ = "stack_parts"

    stack_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stacks.id"), primary_key=True)
    first_page: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_page: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    case_number: Mapped[str | None] = mapped_column(String(64))
    document_type: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(500))
    document_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)


class PostkorbItem(Base):
    """A document that came without a case (no cover sheet, a separator sheet, no case number found):
    it waits in the Postkorb case (POSTKORB_CASE) until the triage role assigns it (`assigned`), and the
    row stays as the record of how it got its case. No foreign key to the document: the record outlives
    it."""

    __tablename__ = "postkorb"
    __table_args__ = (Index("ix_postkorb_state_arrived", "state", "arrived_at", "document_id"),)

    document_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    arrived_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    reason: Mapped[str] = mapped_column(String(500))  # why no case was found for it
    state: Mapped[str] = mapped_column(String(20))  # waiting, assigned
    decided_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    case_number: Mapped[str | None] = mapped_column(String(64))  # the case it was assigned to
    how: Mapped[str | None] = mapped_column(String(500))  # who or what assigned it, and on what grounds
    # When the sort (a case number in the first pages' text) looked at it, and what it found if it did not
    # assign it (no case number, several, an unknown case).
    sorted_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)
    finding: Mapped[str | None] = mapped_column(String(500))


class PostkorbReturn(Base):
    """A document of the Postkorb the triage role sent back to the scanning station (not this job centre's
    mail, a page to scan again, a letter for another authority): what the station needs to find the
    paper, why, and once the station took it back, who and when. The document itself (row, pages and
    object) is deleted, with a line in the deletion protocol; `deleted_at` is set when that is done (a
    return interrupted before is finished by the next return or sweep). No foreign key: the row
    outlives the document."""

    __tablename__ = "postkorb_returns"
    __table_args__ = (Index("ix_postkorb_returns_station", "station", "returned_at"),)

    document_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    returned_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    returned_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(500))
    station: Mapped[str] = mapped_column(String(100))
    operator: Mapped[str] = mapped_column(String(100))
    batch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    original_filename: Mapped[str] = mapped_column(String(1000))
    received_on: Mapped[date] = mapped_column(Date)
    page_count: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    deleted_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)
    taken_back_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)
    taken_back_by: Mapped[str | None] = mapped_column(String(100))


class DocumentOpened(Base):
    """Someone of a team opened a document of its case (read its content): the first time, and who. A
    case's document without a row for the case's team is new to the team (its inbox, the case page)."""

    __tablename__ = "document_opened"

    document_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    team_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    opened_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    opened_by: Mapped[str] = mapped_column(String(100))


class ScanFile(Base):
    """One line of a batch's scan protocol: a file the batch met, its SHA-256, size and pages, and what
    became of it: `stored`, `already_stored`, `refused` (with the reason), or `stack` (split; its parts
    are in stack_parts). No foreign key to the document: the line outlives it."""

    __tablename__ = "scan_files"
    __table_args__ = (Index("ix_scan_files_batch_id", "batch_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("import_batches.id"))
    name: Mapped[str] = mapped_column(String(1000))
    at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(1000))
    sha256: Mapped[str | None] = mapped_column(String(64))  # None: refused before it could be read
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    page_count: Mapped[int | None] = mapped_column(Integer)
    document_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    stack_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class ScanRecord(Base):
    """What a scanned document's transfer note (Transfervermerk) says of its scanning, written in the
    transaction that stores it: who, when, where, with which settings, each page's resolution and colour
    mode (JSON), the anomalies found (JSON) and the blank pages removed (JSON). No foreign key: the record
    is evidence and outlives the document."""

    __tablename__ = "scan_records"
    __table_args__ = (Index("ix_scan_records_batch_id", "batch_id", "scanned_at"),)

    document_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    stack_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    first_page: Mapped[int | None] = mapped_column(Integer)  # where in its stack it began
    scanned_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    scanned_by: Mapped[str] = mapped_column(String(100))
    station: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64))
    page_count: Mapped[int | None] = mapped_column(Integer)
    pages: Mapped[str] = mapped_column(Text)
    settings: Mapped[str] = mapped_column(Text)
    anomalies: Mapped[str] = mapped_column(Text)
    removed: Mapped[str | None] = mapped_column(Text)


class ScanCheck(Base):
    """The second person's check of a batch before its paper may go: taken on by `checked_by` at
    `started_at` with the sample drawn then (open while `result` is None: only they see the sample's
    pages, ekakte.scanning.checks.awaiting_check), then recorded once, passed or failed."""

    __tablename__ = "scan_checks"

    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("import_batches.id"), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    checked_by: Mapped[str] = mapped_column(String(100))
    checked_at: Mapped[datetime | None] = mapped_column(UTC_TIMESTAMP)
    result: Mapped[str | None] = mapped_column(String(20))  # passed, failed; None: under way
    note: Mapped[str | None] = mapped_column(String(1000))
    sample: Mapped[str] = mapped_column(Text)  # JSON: the documents to look at
    documents: Mapped[int] = mapped_column(Integer)  # how many the batch held


class ScanSeal(Base):
    """A batch's manifest, signed with the archive's Ed25519 key, chained to the previous seal by the
    manifest's SHA-256 (`previous`; None for the first). The signature is detached, so that a time stamp
    or a qualified seal can be added beside it later without changing the manifest."""

    __tablename__ = "scan_seals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    sealed_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    manifest: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    previous: Mapped[str | None] = mapped_column(String(64), unique=True)
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(200))


class Rendition(Base):
    """A derived object stored beside a document's original: the searchable PDF (`kind` searchable-pdf)."""

    __tablename__ = "renditions"

    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    made_at: Mapped[datetime] = mapped_column(UTC_TIMESTAMP)
    engine: Mapped[str | None] = mapped_column(String(60))
    conformance: Mapped[str | None] = mapped_column(String(100))
