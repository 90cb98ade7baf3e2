"""The deletion protocol (Löschprotokoll) and the key of the keyed hash that stands for the case number.

Each deleted document leaves one entry (written by the sweep in the transaction that deletes its row):
no case number, no title, no text; the case appears only as HMAC-SHA256(key, case number), so that
`retention protocol --case` can find a case's entries while a reader without the key cannot tell
which case an entry was.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select

from ekakte import paging
from ekakte.access import About, Action, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import Settings
from ekakte.db.models import DeletionRecord
from ekakte.errors import ConfigError
from ekakte.facts import PROTOCOL_KEY, fact, remember
from ekakte.jsonable import AsJson
from ekakte.keyfiles import make_key_file, read_key_file
from ekakte.paging import Page, check_limit

PROTOCOL_KEY_FILE = "protocol.key"


def ensure_protocol_key(settings: Settings) -> None:
    """At `ekakte init`: make the key file under the home folder unless a key is configured."""
    if settings.protocol_key:
        return
    make_key_file(settings.home / PROTOCOL_KEY_FILE)


def protocol_key(settings: Settings) -> bytes:
    """EKAKTE_PROTOCOL_KEY, else the key file under the home folder; ConfigError when there is neither.
    Every machine that sweeps must use the same key, or the protocol cannot be searched by case."""
    if settings.protocol_key:
        return settings.protocol_key.encode()
    path = settings.home / PROTOCOL_KEY_FILE
    key = read_key_file(
        path,
        "protocol key",
        f"no protocol key: set EKAKTE_PROTOCOL_KEY (the same on every machine), or the key file {path}",
        code="no-protocol-key",
    )

    if len(key) < 32:
        raise ConfigError(f"the protocol key in {path} is shorter than 32 characters: damaged?")
    return key.encode()


def archive_protocol_key(archive: Archive) -> bytes:
    """The protocol key, checked against the fingerprint the archive recorded when it first used one:
    a host whose EKAKTE_PROTOCOL_KEY (or key file) differs would write entries nobody can find by case,
    so it is refused (ConfigError) instead. The first use records the fingerprint."""
    key = protocol_key(archive.settings)
    mine = hmac.new(key, b"ekakte protocol key fingerprint", hashlib.sha256).hexdigest()
    with archive.reading() as session:
        recorded = fact(session, PROTOCOL_KEY)
    if recorded is None:
        with archive.transaction() as session:
            recorded = remember(session, PROTOCOL_KEY, mine)
    if not hmac.compare_digest(recorded, mine):
        raise ConfigError(
            "this protocol key is not the archive's (its fingerprint differs from the one recorded when the"
            " archive first used a key): set the same EKAKTE_PROTOCOL_KEY on every host, or copy the"
            " first host's protocol.key"
        )
    return key


def case_hash(key: bytes, case_number: str) -> str:
    return hmac.new(key, case_number.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ProtocolEntry(AsJson):
    document_id: str
    document_type: str
    case_hash: str
    rule: str
    rule_version: int
    due_on: date
    deleted_at: datetime
    deleted_by: str
    sweep_id: str
    sha256: str
    objects: int
    disposal: str | None = None  # how the archive's right was met (None: deleted before the Aussonderung)


def protocol(
    archive: Archive,
    actor: Actor,
    *,
    since: date | None = None,
    case_number: str | None = None,
    limit: int | None = None,
    after: str | None = None,
) -> Page[ProtocolEntry]:
    """The deletion protocol, oldest first; `case_number` finds a case's entries through its keyed hash
    (the protocol itself never holds the number). `limit` a page, `after` the cursor of the one before."""
    number = archive.settings.case_number(case_number) if case_number else None
    check_limit(limit)
    last = paging.decode("protocol", after, [int])[0] if after else 0
    about = About(case_number=number, detail="retention protocol")
    decided(archive, actor, Action.PROTOCOL_READ, "retention protocol", about=about)
    stmt = select(DeletionRecord).where(DeletionRecord.id > last).order_by(DeletionRecord.id)
    if since:
        stmt = stmt.where(
            DeletionRecord.deleted_at >= datetime(since.year, since.month, since.day, tzinfo=UTC)
        )
    if number:
        stmt = stmt.where(DeletionRecord.case_hash == case_hash(archive_protocol_key(archive), number))
    if limit is not None:
        stmt = stmt.limit(limit + 1)
    with archive.reading() as session:
        rows = [(r.id, _entry(r)) for r in session.scalars(stmt)]
    page = paging.cut("protocol", rows, limit, lambda row: [row[0]])
    return Page([entry for _id, entry in page.items], page.next)


def _entry(r: DeletionRecord) -> ProtocolEntry:
    return ProtocolEntry(
        r.document_id, r.document_type, r.case_hash, r.rule, r.rule_version, r.due_on, r.deleted_at,
        r.deleted_by, r.sweep_id, r.sha256, r.objects, r.disposal,
    )  # fmt: skip
