"""A checked batch's manifest: canonical JSON of what its seal protects, built from the database, sealed
once, and rebuilt by `verify` to name what changed since.

The manifest holds no social data: each protocol line and each transfer-note record appears by the SHA-256
of its canonical JSON (ekakte.scanning.records.compact), each document by its id and its original's
SHA-256, the check by its result, time, checker and the hash of its note. So it can be kept and shown
after the documents are deleted, while any change to a line, a record, a hash or the check is found.
The signature lies beside it (scan_seals.signature), never in it: a time stamp (RFC 3161) or a qualified
seal over the same bytes can be added later in the same way.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ekakte.db.models import (
    DeletionRecord,
    Document,
    ImportBatch,
    ScanCheck,
    ScanFile,
    ScanRecord,
    ScanSeal,
)
from ekakte.scanning.records import compact
from ekakte.scanning.seals import digest

FORMAT = "ekakte-scan-manifest/1"


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite gives back UTC without saying so
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _id(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def file_line(row: ScanFile) -> dict[str, Any]:
    return {
        "id": row.id, "name": row.name, "at": _time(row.at), "status": row.status, "reason": row.reason,
        "sha256": row.sha256, "size_bytes": row.size_bytes, "page_count": row.page_count,
        "document_id": _id(row.document_id), "stack_id": _id(row.stack_id),
    }  # fmt: skip


def record_line(row: ScanRecord) -> dict[str, Any]:
    return {
        "document_id": str(row.document_id), "batch_id": _id(row.batch_id), "stack_id": _id(row.stack_id),
        "first_page": row.first_page, "scanned_at": _time(row.scanned_at), "scanned_by": row.scanned_by,
        "station": row.station, "filename": row.filename, "sha256": row.sha256, "page_count": row.page_count,
        "pages": row.pages, "settings": row.settings, "anomalies": row.anomalies, "removed": row.removed,
    }  # fmt: skip


def contents(session: Session, batch_id: uuid.UUID) -> dict[str, Any]:
    """What the seal of a batch protects, as it stands in the database now (without `previous` and
    `sealed_at`, which the seal adds)."""
    batch = session.get(ImportBatch, batch_id)
    check = session.get(ScanCheck, batch_id)
    if batch is None or check is None:
        raise LookupError(f"batch {batch_id} is not recorded or not checked")
    files = session.scalars(select(ScanFile).where(ScanFile.batch_id == batch_id).order_by(ScanFile.id))
    records = session.scalars(
        select(ScanRecord).where(ScanRecord.batch_id == batch_id).order_by(ScanRecord.document_id)
    )
    return {
        "format": FORMAT,
        "batch": {
            "id": str(batch.id), "station": batch.station, "operator": batch.operator,
            "started_at": _time(batch.started_at), "finished_at": _time(batch.finished_at),
        },
        "files": [{"line": digest(compact(file_line(f)).encode()), "sha256": f.sha256} for f in files],
        "documents": [
            {"id": str(r.document_id), "sha256": r.sha256, "record": digest(compact(record_line(r)).encode())}
            for r in records
        ],
        "check": {
            "result": check.result, "checked_at": _time(check.checked_at), "checked_by": check.checked_by,
            "note": None if check.note is None else digest(check.note.encode()),
            "sample": sorted(json.loads(check.sample)), "documents": check.documents,
        },
    }  # fmt: skip


def sealed_bytes(body: dict[str, Any], previous: str | None, sealed_at: datetime) -> bytes:
    return compact({**body, "previous": previous, "sealed_at": _time(sealed_at)}).encode()


def differences(session: Session, seal: ScanSeal) -> list[str]:
    """What in the database no longer matches the sealed manifest of `seal`'s batch, each named."""
    sealed = json.loads(seal.manifest)
    try:
        now = contents(session, seal.batch_id)
    except LookupError as exc:
        return [str(exc)]
    found = []
    for part in ("batch", "check"):
        if sealed.get(part) != now[part]:
            changed = sorted(k for k in now[part] if sealed.get(part, {}).get(k) != now[part][k])
            found.append(f"the {part} record changed ({', '.join(changed)})")
    found += _lines(sealed.get("files", []), now["files"])
    found += _documents(session, sealed.get("documents", []), now["documents"])
    return found


def _lines(sealed: list[dict[str, Any]], now: list[dict[str, Any]]) -> list[str]:
    if len(sealed) != len(now):
        return [f"the protocol has {len(now)} file lines, the seal {len(sealed)}"]
    return [
        f"protocol line {n} (a file with SHA-256 {s.get('sha256')}) changed"
        for n, (s, c) in enumerate(zip(sealed, now, strict=True), 1)
        if s != c
    ]


def _documents(session: Session, sealed: list[dict[str, Any]], now: list[dict[str, Any]]) -> list[str]:
    found = []
    current = {d["id"]: d for d in now}
    ids = [uuid.UUID(d["id"]) for d in sealed]
    stored = dict(session.execute(select(Document.id, Document.sha256).where(Document.id.in_(ids))).all())
    gone = [i for i in ids if i not in stored]
    # A deleted document is accounted for by its line in the deletion protocol (the sweep's, or a
    # return's), which names the same SHA-256.
    accounted: dict[str, str] = {}
    if gone:
        accounted = {
            doc_id: sha256
            for doc_id, sha256 in session.execute(
                select(DeletionRecord.document_id, DeletionRecord.sha256).where(
                    DeletionRecord.document_id.in_([str(g) for g in gone])
                )
            )
        }
    for doc in sealed:
        doc_id = doc["id"]
        mine = current.pop(doc_id, None)
        if mine is None:
            found.append(f"document {doc_id}: its transfer-note record is gone")
        elif mine["record"] != doc["record"]:
            found.append(f"document {doc_id}: its transfer-note record changed")
        if uuid.UUID(doc_id) not in stored:
            if doc_id not in accounted:
                found.append(f"document {doc_id}: gone, with no line in the deletion protocol")
            elif accounted[doc_id] != doc["sha256"]:
                found.append(f"document {doc_id}: its line in the deletion protocol names another SHA-256")
        elif stored[uuid.UUID(doc_id)] != doc["sha256"]:
            found.append(f"document {doc_id}: its SHA-256 differs from the sealed one")
        elif mine is not None and mine["sha256"] != doc["sha256"]:
            found.append(f"document {doc_id}: the record's SHA-256 differs from the sealed one")
    found += [f"document {doc_id}: recorded in the batch after it was sealed" for doc_id in current]
    return found
