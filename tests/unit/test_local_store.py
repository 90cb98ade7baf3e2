from __future__ import annotations

import hashlib
import io
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ekakte.errors import ChecksumMismatch, IntegrityError, StorageError
from ekakte.storage import original_key, read_verified
from ekakte.storage.local import TMP_DIR, LocalStore


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    s = LocalStore(tmp_path / "objects")
    s.prepare()
    return s


def put(store: LocalStore, data: bytes, key: str | None = None) -> str:
    key = key or original_key(uuid.uuid4())
    store.put(key, io.BytesIO(data), len(data), hashlib.sha256(data).hexdigest(), "application/pdf")
    return key


def test_put_get_stat_list_delete_round_trip(store: LocalStore) -> None:
    key = put(store, b"scan bytes")
    assert b"".join(store.get(key)) == b"scan bytes"
    info = store.stat(key)
    assert info is not None and info.size == 10 and info.sha256 == hashlib.sha256(b"scan bytes").hexdigest()
    assert [o.key for o in store.list("originals/")] == [key]
    store.delete(key)
    assert store.stat(key) is None and list(store.list("")) == []
    store.delete(key)  # deleting twice is not an error


def test_object_keys_carry_no_personal_data() -> None:
    doc = uuid.UUID("3f2a0000-0000-4000-8000-000000000000")
    assert original_key(doc) == f"originals/3f/2a/{doc}"


def test_a_digest_mismatch_leaves_nothing_behind(store: LocalStore) -> None:
    key = original_key(uuid.uuid4())
    with pytest.raises(ChecksumMismatch, match="changed while it was being stored"):
        store.put(key, io.BytesIO(b"other bytes"), 11, hashlib.sha256(b"expected").hexdigest(), "x")
    assert store.stat(key) is None
    assert os.listdir(store.root / TMP_DIR) == []


def test_an_original_is_never_overwritten(store: LocalStore) -> None:
    key = put(store, b"first")
    with pytest.raises(StorageError, match="already exists"):
        put(store, b"second", key)
    assert b"".join(store.get(key)) == b"first"


def test_reads_are_verified_against_the_recorded_digest(store: LocalStore) -> None:
    key = put(store, b"original scan")
    (store.root / key).write_bytes(b"tampered scan")
    with pytest.raises(ChecksumMismatch, match="is corrupt"):
        b"".join(read_verified(store, key, hashlib.sha256(b"original scan").hexdigest(), 13))


def test_a_missing_object_is_an_integrity_error(store: LocalStore) -> None:
    with pytest.raises(IntegrityError, match="is missing"):
        b"".join(store.get(original_key(uuid.uuid4())))


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "originals/../../x", "a.meta.json"])
def test_keys_cannot_leave_the_store(store: LocalStore, key: str) -> None:
    with pytest.raises(StorageError, match="invalid object key"):
        store.stat(key)


def test_abandoned_temporaries_are_removed_only_when_old(store: LocalStore) -> None:
    old = store.root / TMP_DIR / "put-old"
    young = store.root / TMP_DIR / "put-young"
    old.write_bytes(b"x")
    young.write_bytes(b"y")
    past = (datetime.now(UTC) - timedelta(days=2)).timestamp()
    os.utime(old, (past, past))
    assert store.remove_abandoned_uploads(datetime.now(UTC) - timedelta(hours=24)) == 1
    assert not old.exists() and young.exists()
