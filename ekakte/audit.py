"""The audit trail: append-only and hash-chained. An entry that records a change is written in the
change's transaction (`append`); one that records a read or a decision alone is appended by group commit
with those of other requests (`Appender`), before the request answers."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ekakte.actor import Actor
from ekakte.db.chunks import in_chunks
from ekakte.db.dialect import serialize_writers
from ekakte.db.models import AuditEntry, table_of
from ekakte.errors import DatabaseError, EkakteError

GENESIS = "0" * 64
# Advisory-lock key under which PostgreSQL writers append to the chain one at a time.
AUDIT_LOCK = 7284062


def _canonical_time(at: datetime) -> str:
    """One spelling of a time, whatever the driver returns (SQLite gives naive UTC, PostgreSQL aware)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    payload = json.dumps([prev_hash, fields], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _fields(entry: AuditEntry) -> dict[str, Any]:
    """What an entry's hash covers, as it was written: the request's fields only where the entry has
    them. Every entry written since migration 0013 has a channel, so its hash covers all three, and
    changing any of them (to NULL too) changes what is hashed; the entries written before have none, and
    their hashes were made without them."""
    fields = {
        "at": _canonical_time(entry.at),
        "actor": entry.actor,
        "on_behalf_of": entry.on_behalf_of,
        "action": entry.action,
        "outcome": entry.outcome,
        "case_number": entry.case_number,
        "document_id": entry.document_id,
        "reason": entry.reason,
    }
    if entry.channel is not None or entry.client_address is not None or entry.request_id is not None:
        fields.update(channel=entry.channel, client_address=entry.client_address, request_id=entry.request_id)
    return fields


# Built once, Core not ORM: every read is audited, and on that hot path building statements and the ORM
# unit of work cost more than the SQL itself.
_HEAD = select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
_INSERT = insert(table_of(AuditEntry))


def append(
    session: Session,
    actor: Actor,
    action: str,
    outcome: str,
    *,
    case_number: str | None = None,
    document_id: str | None = None,
    reason: str | None = None,
) -> str:
    """Add an entry after the current last one; returns its hash.

    Concurrent writers are serialised so the chain never forks: PostgreSQL by an advisory lock held to
    commit, SQLite by its single writer (BEGIN IMMEDIATE).
    """
    serialize_writers(session, AUDIT_LOCK)
    prev = session.scalar(_HEAD) or GENESIS
    at = datetime.now(UTC)
    fields = {
        "at": _canonical_time(at),
        **_request_fields(actor, action, outcome, case_number, document_id, reason),
    }
    digest = entry_hash(prev, fields)
    session.execute(_INSERT, {**fields, "at": at, "prev_hash": prev, "hash": digest})
    return digest


WAIT_SECONDS = 60.0  # the longest a request waits for its entry to be written


class Appender:
    """The entries of concurrent requests of one process, appended to the chain together (group commit):
    one transaction, one turn of the chain's lock and one commit for all that are waiting, instead of one
    each. Every audited read of a busy service otherwise takes turns on the chain's lock for its own
    insert and commit, and the lock, not the database, caps the rate (docs/benchmarks.md, "The HTTP
    service").

    `append` returns once the caller's entry is committed, or raises what the write raised: an answer is
    never given without its entry. Whoever finds no write under way writes the batch of all entries
    waiting then (its own among them); the others wait for that write, or write the next batch.
    For entries of their own only: an entry that must be committed with what its use case changed
    (a hold, a user) is written in that use case's transaction (`append`), as before.
    """

    def __init__(self, transaction: Callable[[], AbstractContextManager[Session]]) -> None:
        self._transaction = transaction
        self._ready = threading.Condition()
        self._queue: list[_Waiting] = []
        self._writing = False

    def append(
        self,
        actor: Actor,
        action: str,
        outcome: str,
        *,
        case_number: str | None = None,
        document_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        waiting = _Waiting(_request_fields(actor, action, outcome, case_number, document_id, reason))
        with self._ready:
            self._queue.append(waiting)
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            with self._ready:
                while self._writing and not waiting.done:
                    if not self._ready.wait(timeout=max(deadline - time.monotonic(), 0)):
                        raise DatabaseError(f"the audit trail took longer than {WAIT_SECONDS:.0f} s to write")
                if waiting.done:
                    break
                self._writing = True
                batch, self._queue = self._queue, []
            try:
                self._write(batch)
            finally:
                with self._ready:
                    self._writing = False
                    for written in batch:
                        written.done = True
                    self._ready.notify_all()
        if waiting.error is not None:
            # A fresh error for each caller: raising one object in many threads would mix their tracebacks.
            error = waiting.error
            if isinstance(error, EkakteError):
                raise type(error)(str(error), code=error.code) from error
            raise DatabaseError(f"the audit trail could not be written: {type(error).__name__}") from error

    def _write(self, batch: list[_Waiting]) -> None:
        """The batch in one transaction; if that fails, each entry alone, so that one entry the database
        refuses fails its own request only."""
        self._write_together(batch)
        if len(batch) > 1 and all(w.error is not None for w in batch):
            for waiting in batch:
                waiting.error = None
                self._write_together([waiting])

    def _write_together(self, batch: list[_Waiting]) -> None:
        try:
            with self._transaction() as session:
                serialize_writers(session, AUDIT_LOCK)
                prev = session.scalar(_HEAD) or GENESIS
                at = datetime.now(UTC)
                rows = []
                for waiting in batch:
                    fields = {**waiting.fields, "at": _canonical_time(at)}
                    digest = entry_hash(prev, fields)
                    rows.append({**fields, "at": at, "prev_hash": prev, "hash": digest})
                    prev = digest
                session.execute(_INSERT, rows)
        except BaseException as exc:  # each waiting caller raises it
            for waiting in batch:
                waiting.error = exc


@dataclass
class _Waiting:
    fields: dict[str, Any]
    done: bool = False
    error: BaseException | None = None


def _request_fields(
    actor: Actor,
    action: str,
    outcome: str,
    case_number: str | None,
    document_id: str | None,
    reason: str | None,
) -> dict[str, Any]:
    return {
        "actor": actor.name,
        "on_behalf_of": actor.on_behalf_of,
        "action": action,
        "outcome": outcome,
        "case_number": case_number,
        "document_id": document_id,
        "reason": (reason or "")[:500] or None,
        "channel": actor.channel,
        "client_address": actor.client_address,
        "request_id": actor.request_id,
    }


def _entries(session_factory: Any, page: int = 5000) -> Iterator[AuditEntry]:
    chunks = in_chunks(
        session_factory, select(AuditEntry), [AuditEntry.id], page, key=lambda row: (row[0].id,)
    )
    for rows in chunks:
        yield from (row[0] for row in rows)


@dataclass(frozen=True)
class Anchor:
    """The trail's head as it was seen at `at`: how many entries it had and the last one's hash, written
    outside the database (ekakte/anchors.py) so that a cut or re-chained trail is found against it."""

    at: datetime
    entries: int
    head: str
    head_id: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "at": _canonical_time(self.at),
            "entries": self.entries,
            "head": self.head,
            "head_id": self.head_id,
        }

    @property
    def when(self) -> str:
        return f"{self.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


@dataclass
class ChainReport:
    entries: int = 0
    head: str = GENESIS
    head_id: int | None = None
    problem: str | None = None
    bad_entry: int | None = None
    # The newest anchor the trail was checked against (every anchor is checked), None if there is none.
    anchor: Anchor | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(session_factory: Any, anchors: Sequence[Anchor] = ()) -> ChainReport:
    """Walk the chain in order; the first entry that does not check out is named. Then each anchor:
    the trail must still have the entries it saw, and the last of them must be the one it saw (by
    position, not id: ids have gaps where a transaction rolled back)."""
    report = ChainReport(anchor=max(anchors, key=lambda a: a.at) if anchors else None)
    at_position: dict[int, list[Anchor]] = {}
    for anchor in sorted(anchors, key=lambda a: a.at):
        at_position.setdefault(anchor.entries, []).append(anchor)
    expected_prev = GENESIS
    previous_id: int | None = None
    for entry in _entries(session_factory):
        if entry.prev_hash != expected_prev:
            after = f"entry {previous_id}" if previous_id is not None else "the start of the trail"
            report.problem = (
                f"entry {entry.id} does not follow {after}: an entry between them was deleted, or entry"
                f" {entry.id} was inserted"
            )
            report.bad_entry = entry.id
            return report
        if entry_hash(entry.prev_hash, _fields(entry)) != entry.hash:
            report.problem = f"entry {entry.id} was changed after it was written"
            report.bad_entry = entry.id
            return report
        expected_prev = entry.hash
        previous_id = entry.id
        report.entries += 1
        for anchor in at_position.get(report.entries, ()):
            if anchor.head != entry.hash:
                report.problem = (
                    f"the trail was re-chained: the anchor of {anchor.when} saw {anchor.entries} entries"
                    f" ending in {anchor.head[:16]}…, but entry number {report.entries} of the trail"
                    f" (id {entry.id}) is {entry.hash[:16]}…"
                )
                report.bad_entry = entry.id
                return report
    report.head = expected_prev
    report.head_id = previous_id
    longer = [a for a in anchors if a.entries > report.entries]
    if longer:
        anchor = max(longer, key=lambda a: a.entries)
        report.problem = (
            f"entries were cut off the end: the anchor of {anchor.when} saw {anchor.entries} entries,"
            f" the trail has {report.entries}"
        )
    return report


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    on_behalf_of: str | None
    action: str
    outcome: str
    case_number: str | None
    document_id: str | None
    reason: str | None
    # None in the entries written before migration 0013.
    channel: str | None
    client_address: str | None
    request_id: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": _canonical_time(self.at),
            "actor": self.actor,
            "on_behalf_of": self.on_behalf_of,
            "action": self.action,
            "outcome": self.outcome,
            "case_number": self.case_number,
            "document_id": self.document_id,
            "reason": self.reason,
            "channel": self.channel,
            "client_address": self.client_address,
            "request_id": self.request_id,
        }


def query(
    session: Session,
    *,
    case_number: str | None = None,
    user: str | None = None,
    since: date | None = None,
    after: int | None = None,
    limit: int = 1000,
) -> list[AuditRecord]:
    """Up to `limit` entries, newest first; with `after`, those older than the entry of that id (keyset
    paging: a page deep in the trail starts at its id in the primary key, not after skipping the
    entries before it)."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if after is not None:
        stmt = stmt.where(AuditEntry.id < after)
    if case_number:
        stmt = stmt.where(AuditEntry.case_number == case_number)
    if user:
        stmt = stmt.where((AuditEntry.actor == user) | (AuditEntry.on_behalf_of == user))
    if since:
        stmt = stmt.where(AuditEntry.at >= datetime(since.year, since.month, since.day, tzinfo=UTC))
    return [
        AuditRecord(
            id=e.id,
            at=e.at,
            actor=e.actor,
            on_behalf_of=e.on_behalf_of,
            action=e.action,
            outcome=e.outcome,
            case_number=e.case_number,
            document_id=e.document_id,
            reason=e.reason,
            channel=e.channel,
            client_address=e.client_address,
            request_id=e.request_id,
        )
        for e in session.scalars(stmt)
    ]
