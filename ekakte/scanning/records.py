"""What the import records of each scan for the scan protocol: a transfer-note record per stored document
(written in the transaction that stores it) and a protocol line per file a batch met."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ekakte.archive import Archive
from ekakte.config import Settings
from ekakte.db.models import ScanFile, ScanRecord, table_of
from ekakte.scanning.pages import PageScan, anomalies

# What became of a file of a batch (scan_files.status).
STORED, ALREADY_STORED, REFUSED, STACK = "stored", "already_stored", "refused", "stack"


def compact(value: Any) -> str:
    """The one JSON spelling of what the records hold: sorted keys, no spaces, UTF-8 as it is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class ScanFacts:
    """What the import learnt of a scan before storing it: each page's resolution and colour mode, the
    archive's settings it was judged by, the anomalies found, and the blank pages removed (with the
    SHA-256 of the scan as it came, in `settings`)."""

    pages: str
    settings: str
    anomalies: str
    removed: str | None = None

    @classmethod
    def of(
        cls,
        settings: Settings,
        media_type: str,
        pages: list[PageScan],
        *,
        removed: list[int] | None = None,
        source_sha256: str | None = None,
    ) -> ScanFacts:
        judged: dict[str, Any] = {
            "media_type": media_type, "min_dpi": settings.min_dpi, "warn_dpi": settings.scan_warn_dpi,
        }  # fmt: skip
        if settings.drop_blank_pages:
            judged["drop_blank_pages"] = True
        if source_sha256 is not None:
            judged["source_sha256"] = source_sha256
        return cls(
            compact([[p.number, None if p.dpi is None else round(p.dpi), p.mode] for p in pages]),
            compact(judged),
            compact(anomalies(settings, pages)),
            compact(removed) if removed else None,
        )


def record_document(
    session: Session, row: dict[str, Any], facts: ScanFacts, now: datetime, scanned_by: str
) -> None:
    """The transfer-note record of a document being stored, in the transaction that inserts its row;
    `scanned_by` is who scanned it (whom a service imports for, not the service)."""
    session.execute(
        insert(table_of(ScanRecord)).values(
            document_id=row["id"],
            batch_id=row["batch_id"],
            scanned_at=now,
            scanned_by=scanned_by,
            station=row["station"],
            filename=row["original_filename"],
            sha256=row["sha256"],
            page_count=row["page_count"],
            pages=facts.pages,
            settings=facts.settings,
            anomalies=facts.anomalies,
            removed=facts.removed,
        )
    )


def record_file(
    archive: Archive,
    batch_id: uuid.UUID,
    name: str,
    status: str,
    *,
    reason: str | None = None,
    sha256: str | None = None,
    size_bytes: int | None = None,
    page_count: int | None = None,
    document_id: uuid.UUID | None = None,
    stack_id: uuid.UUID | None = None,
) -> None:
    """A line of the batch's scan protocol, after the file was stored, found stored, refused or split.
    Written after the document's own transaction: a crash between the two leaves a stored document of
    the batch without its line (the protocol lists its transfer-note record all the same). The hot
    folder writes the line before it moves the file to done/: after a crash between the two, a re-run
    finds the file still in the inbox and records it "already stored" in its own batch."""

    with archive.transaction() as session:
        session.add(
            ScanFile(
                batch_id=batch_id,
                name=name[:1000],
                at=datetime.now(UTC),
                status=status,
                reason=None if reason is None else reason[:1000],
                sha256=sha256,
                size_bytes=size_bytes,
                page_count=page_count,
                document_id=document_id,
                stack_id=stack_id,
            )
        )
