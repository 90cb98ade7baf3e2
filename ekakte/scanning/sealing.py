"""Sealing a checked batch (its manifest signed, chained to the seal before) and checking the seals: the
signature with a trusted key, the chain, what each protects against the database now, and that every
recorded check has its seal."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ekakte.archive import Archive
from ekakte.db.models import AuditEntry, ScanCheck, ScanSeal
from ekakte.jsonable import AsJson
from ekakte.scanning import manifest
from ekakte.scanning.seals import digest, sign, signature_holds, trusted_keys


def seal_batch(archive: Archive, session: Session, batch_id: uuid.UUID, now: datetime) -> ScanSeal:
    """Seal the batch's manifest, chained to the last seal. Call it under the audit chain's lock, in the
    transaction that records the check: the chain never forks (`previous` is unique besides)."""
    last = session.scalars(select(ScanSeal).order_by(ScanSeal.id.desc()).limit(1)).first()
    previous = last.sha256 if last else None
    data = manifest.sealed_bytes(manifest.contents(session, batch_id), previous, now)
    signature, key = sign(archive.settings, data)
    seal = ScanSeal(
        batch_id=batch_id, sealed_at=now, manifest=data.decode(), sha256=digest(data), previous=previous,
        key_id=key, signature=signature,
    )  # fmt: skip
    session.add(seal)
    session.flush()
    return seal


@dataclass(frozen=True)
class SealProblem(AsJson):
    batch_id: str
    detail: str


def own_problems(seal: ScanSeal, trusted: set[str]) -> list[str]:
    """What does not hold of one seal by itself: its manifest's SHA-256, its signature with a trusted key,
    and that the manifest names the seal's batch and its `previous`."""
    found = []
    data = seal.manifest.encode()
    if digest(data) != seal.sha256:
        found.append("the manifest does not match its recorded SHA-256")
    if seal.key_id not in trusted:
        found.append(f"sealed with a key that is not trusted ({seal.key_id[:16]}…)")
    elif not signature_holds(seal.key_id, seal.signature, data):
        found.append("the signature does not match the manifest")
    sealed = _parsed(data)
    named = sealed.get("batch")
    names_batch = isinstance(named, dict) and named.get("id") == str(seal.batch_id)
    if sealed.get("previous") != seal.previous or not names_batch:
        found.append("the manifest names another batch or another previous seal")
    return found


def seal_problems(archive: Archive, *, contents: bool = True) -> list[SealProblem]:
    """Every seal by itself (own_problems), its chain link, and (`contents`) what changed in the database
    since it was made (ekakte.scanning.manifest.differences, which reads each batch's rows); a recorded
    check without its seal, and a check the audit trail names whose seal is gone."""
    trusted = trusted_keys(archive.settings)
    found: list[SealProblem] = []
    previous: str | None = None
    with archive.reading() as session:
        sealed: set[str] = set()
        for seal in session.scalars(select(ScanSeal).order_by(ScanSeal.id)):
            batch = str(seal.batch_id)
            sealed.add(seal.sha256)
            found += [SealProblem(batch, p) for p in own_problems(seal, trusted)]
            if seal.previous != previous:
                found.append(
                    SealProblem(batch, "the chain is broken: the previous seal is not the one before")
                )
            if contents:
                found += [SealProblem(batch, d) for d in manifest.differences(session, seal)]
            previous = seal.sha256
        if contents:
            found += _unsealed(session, sealed)
    return found


# How a recorded check names its seal in the audit trail (ekakte.scanning.checks.check_batch).
_AUDITED_SEAL = re.compile(r"batch ([0-9a-f-]{36}): (?:passed|failed); seal ([0-9a-f]{64})")


def _unsealed(session: Session, sealed: set[str]) -> list[SealProblem]:
    """Checks recorded without a seal, and seals the audit trail (hash-chained, anchored) names that are
    no longer there: a seal removed with its check, the last one included, is found this way."""
    found = []
    with_seal = set(session.scalars(select(ScanSeal.batch_id)))
    for batch_id in session.scalars(
        select(ScanCheck.batch_id).where(ScanCheck.result.is_not(None)).order_by(ScanCheck.batch_id)
    ):
        if batch_id not in with_seal:
            found.append(SealProblem(str(batch_id), "the check is recorded, its seal is missing"))
    # Written as the partial index is (ix_audit_log_scan_checks), so that both planners use it.
    checks = select(AuditEntry.reason).where(text("action = 'scan.check'"), AuditEntry.outcome == "allowed")
    for reason in session.scalars(checks):
        named = _AUDITED_SEAL.fullmatch(reason or "")
        if named and named.group(2) not in sealed:
            found.append(
                SealProblem(named.group(1), f"the audit trail names seal {named.group(2)}, which is gone")
            )
    return found


def _parsed(data: bytes) -> dict[str, object]:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
