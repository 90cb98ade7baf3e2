"""Reading an original as a stream (documents.open_original), on both stacks: what a server sends."""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import AuditEntry
from ekakte.documents import Original, export_original, open_original
from ekakte.errors import ChecksumMismatch, IntegrityError, NotPermitted
from ekakte.ingest import DocumentMeta, import_document
from ekakte.principals import add_user
from ekakte.storage.base import CHUNK_SIZE
from tests.conftest import ADMIN, CASE, OPERATOR, OTHER_TEAM, READER, TEAM
from tests.integration.test_archive import overwrite_object

MakeScan = Callable[..., Path]


def noise_png(tmp_path: Path, megabytes: float = 3.5) -> Path:
    """A valid PNG of random grey pixels: incompressible, so the object spans several chunks."""
    side = int((megabytes * 2**20) ** 0.5)
    pixels = random.Random(7).randbytes(side * side)
    path = tmp_path / "noise.png"
    Image.frombytes("L", (side, side), pixels).save(path, compress_level=1)
    return path


def entries(archive: Archive, document_id: uuid.UUID) -> list[tuple[str, str, str | None]]:
    with archive.reading() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.document_id == str(document_id)).order_by(AuditEntry.id)
        )
        return [(e.action, e.outcome, e.reason) for e in rows]


def received(original: Original) -> tuple[bytes, Exception | None]:
    """Everything a client got before the stream stopped, and why it stopped."""
    got = io.BytesIO()
    try:
        for chunk in original:
            got.write(chunk)
    except Exception as exc:
        return got.getvalue(), exc
    return got.getvalue(), None


@pytest.fixture
def big(archive: Archive, tmp_path: Path) -> tuple[uuid.UUID, bytes]:
    path = noise_png(tmp_path)
    doc_id = import_document(archive, OPERATOR, path, DocumentMeta(CASE, "Nachweis")).document_id
    return doc_id, path.read_bytes()


def test_an_intact_original_streams_exactly_its_bytes_with_its_facts(
    archive: Archive, big: tuple[uuid.UUID, bytes]
) -> None:
    doc_id, data = big
    assert len(data) > 3 * CHUNK_SIZE
    with open_original(archive, READER, doc_id) as original:
        info = original.info
        got, error = received(original)
    assert error is None and got == data
    assert (info.media_type, info.size_bytes, info.original_filename) == ("image/png", len(data), "noise.png")
    assert entries(archive, doc_id)[-1][:2] == ("doc.get", "allowed")
    assert [e for e in entries(archive, doc_id) if e[0] == "doc.get"] == [entries(archive, doc_id)[-1]]


def test_a_corrupt_original_yields_every_chunk_but_the_last_and_then_raises(
    archive: Archive, big: tuple[uuid.UUID, bytes]
) -> None:
    doc_id, data = big
    with open_original(archive, READER, doc_id) as original:
        flipped = data[:-1] + bytes([data[-1] ^ 0x01])  # bit rot in the very last byte: same size
        overwrite_object(archive, original.info.storage_key, flipped)
    with open_original(archive, READER, doc_id) as original:
        got, error = received(original)
    assert isinstance(error, ChecksumMismatch) and "is corrupt" in str(error)
    # A strict prefix: all chunks but the last, which would have completed a plausible file.
    assert data.startswith(got) and len(data) - CHUNK_SIZE <= len(got) < len(data)
    reasons = [r for action, outcome, r in entries(archive, doc_id) if outcome == "failed"]
    assert len(reasons) == 1 and "not read in full" in str(reasons[0])


@pytest.mark.parametrize("change", ["shorter", "longer"])
def test_an_original_of_the_wrong_size_is_never_handed_out_whole(
    archive: Archive, big: tuple[uuid.UUID, bytes], change: str
) -> None:
    doc_id, data = big
    wrong = data[: len(data) // 2] if change == "shorter" else data + data[: 2 * CHUNK_SIZE]
    with open_original(archive, READER, doc_id) as original:
        overwrite_object(archive, original.info.storage_key, wrong)
    with open_original(archive, READER, doc_id) as original:
        got, error = received(original)
    assert isinstance(error, ChecksumMismatch)
    # Longer: stopped as soon as it passed the recorded size, before the recorded size was handed out.
    assert wrong.startswith(got) and len(got) < min(len(wrong), len(data))


def test_a_small_corrupt_original_hands_out_nothing(
    archive: Archive, make_scan: MakeScan, tmp_path: Path
) -> None:
    """One chunk is the last chunk: the corruption is known before open_original returns."""
    doc_id = import_document(archive, OPERATOR, make_scan(), DocumentMeta(CASE, "Antrag")).document_id
    with open_original(archive, READER, doc_id) as original:
        key, size = original.info.storage_key, original.info.size_bytes
    overwrite_object(archive, key, b"X" * size)
    with pytest.raises(ChecksumMismatch):
        open_original(archive, READER, doc_id)


def test_a_missing_object_raises_before_anything_is_handed_out(archive: Archive, make_scan: MakeScan) -> None:
    doc_id = import_document(archive, OPERATOR, make_scan(), DocumentMeta(CASE, "Antrag")).document_id
    with open_original(archive, READER, doc_id) as original:
        archive.store.delete(original.info.storage_key)
    with pytest.raises(IntegrityError, match="missing"):
        open_original(archive, READER, doc_id)
    assert [o for _a, o, _r in entries(archive, doc_id)][-2:] == ["allowed", "failed"]


def test_open_original_is_refused_alike_for_another_teams_document_and_for_none(
    archive: Archive, make_scan: MakeScan
) -> None:
    add_user(archive, ADMIN, "other", ["caseworker"], [OTHER_TEAM])
    add_user(archive, ADMIN, "plain", ["caseworker"], [TEAM])  # no health clearance
    doc_id = import_document(archive, OPERATOR, make_scan(), DocumentMeta(CASE, "Antrag")).document_id
    health = import_document(
        archive, OPERATOR, make_scan(seed=2), DocumentMeta(CASE, "Gutachten")
    ).document_id
    nowhere = uuid.uuid4()
    for who, what in [("other", doc_id), ("plain", health), ("other", nowhere), ("plain", nowhere)]:
        with pytest.raises(NotPermitted) as refused:
            open_original(archive, Actor(who), what)
        assert str(refused.value) == f"not permitted: document {what}"
        assert entries(archive, what)[-1][:2] == ("doc.get", "denied")


def test_a_reader_that_stops_early_lets_go_of_the_object_and_records_no_failure(
    archive: Archive, big: tuple[uuid.UUID, bytes]
) -> None:
    doc_id, data = big
    with open_original(archive, READER, doc_id) as original:
        first = next(iter(original))
    assert data.startswith(first)
    assert [o for _a, o, _r in entries(archive, doc_id)][-1] == "allowed"


def test_export_writes_the_verified_stream_and_a_corrupt_one_leaves_no_file(
    archive: Archive, big: tuple[uuid.UUID, bytes], tmp_path: Path
) -> None:
    doc_id, data = big
    out = tmp_path / "copy.png"
    assert export_original(archive, READER, doc_id, out).size_bytes == len(data)
    assert out.read_bytes() == data and out.stat().st_mode & 0o777 == 0o600
    overwrite_object(archive, export_original(archive, READER, doc_id, out, force=True).storage_key, data[1:])
    with pytest.raises(ChecksumMismatch):
        export_original(archive, READER, doc_id, tmp_path / "again.png")
    assert not (tmp_path / "again.png").exists() and list(tmp_path.glob(".again.png*")) == []
    failed = [r for _a, o, r in entries(archive, doc_id) if o == "failed"]
    assert len(failed) == 1  # one entry for the one failed export
