"""Anchors of the audit chain outside the database: written by `ekakte audit anchor`, read by verify.

Whoever can write the database can rewrite the hash chain from some entry on, or cut entries off its end,
and the chain alone still verifies. An anchor (entry count, head hash, time) kept where the database's
administrators cannot rewrite it shows both. Where it is kept follows the object store:
  S3      an object under audit-anchors/ in the archive's bucket, one per anchor, with an Object Lock
          retain-until date of ANCHOR_RETENTION when the bucket has Object Lock (then not even the
          bucket's owner deletes it early); gc and verify look only under originals/.
  folder  one JSON line per anchor appended to `audit_anchors` (default <home>/audit-anchors.log),
          opened O_APPEND, so a writer adds and never rewrites; make it append-only for the archive's
          own account too (`chattr +a`), or put it on a machine the database administrators do not run.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ekakte.archive import Archive
from ekakte.audit import Anchor
from ekakte.errors import IntegrityError, StorageError, shown

ANCHOR_PREFIX = "audit-anchors/"
# How long the bucket keeps an anchor under Object Lock: as long as the trail's entries are kept (ten
# years, the longest retention period of a job centre's records).
ANCHOR_RETENTION = timedelta(days=3653)


def _line(anchor: Anchor) -> bytes:
    return (json.dumps(anchor.as_json(), sort_keys=True) + "\n").encode("ascii")


def _parse(text: str, where: str) -> Anchor:
    try:
        data = json.loads(text)
        at = datetime.strptime(data["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        anchor = Anchor(at, int(data["entries"]), str(data["head"]), data.get("head_id"))
    except (ValueError, KeyError, TypeError):
        raise IntegrityError(f"{where} is not an anchor of the audit trail: {shown(text[:80])}") from None
    if anchor.entries < 0 or len(anchor.head) != 64:
        raise IntegrityError(f"{where} is not an anchor of the audit trail: {shown(text[:80])}")
    return anchor


def _in_bucket(archive: Archive) -> bool:
    return archive.settings.storage.startswith("s3://")


def anchor_file(archive: Archive) -> Path:
    return archive.settings.audit_anchors or archive.settings.home / "audit-anchors.log"


def write_anchor(archive: Archive, anchor: Anchor) -> str:
    """Keep `anchor` outside the database; returns where it went."""
    data = _line(anchor)
    if _in_bucket(archive):
        key = f"{ANCHOR_PREFIX}{anchor.at:%Y%m%dT%H%M%S%fZ}-{anchor.entries}"
        store = archive.store
        store.put(key, io.BytesIO(data), len(data), hashlib.sha256(data).hexdigest(), "application/json")
        if store.object_lock():
            store.retain(key, anchor.at + ANCHOR_RETENTION)
        return f"{store.description} as {key}"
    path = anchor_file(archive)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
        try:
            # One write of one short line: appended whole, after whatever is there.
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StorageError(f"cannot append the anchor to {shown(path)}: {exc.strerror}") from None
    return str(path)


def read_anchors(archive: Archive) -> list[Anchor]:
    """Every anchor written so far, oldest first; IntegrityError when one cannot be read as an anchor."""
    if _in_bucket(archive):
        store = archive.store
        found = []
        for info in sorted(store.list(ANCHOR_PREFIX), key=lambda i: i.key):
            text = b"".join(store.get(info.key)).decode("utf-8", "replace")
            found.append(_parse(text, f"anchor {info.key}"))
        return found
    path = anchor_file(archive)
    try:
        with open(path, "rb") as fh:
            lines = fh.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StorageError(f"cannot read the anchors in {shown(path)}: {exc.strerror}") from None
    return [_parse(line, f"line {n} of {shown(path)}") for n, line in enumerate(lines, 1) if line.strip()]
