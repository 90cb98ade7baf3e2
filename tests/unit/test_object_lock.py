"""Reading what an S3 Object Lock store says of an object: its retain-until date and legal hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ekakte.errors import StorageError
from ekakte.storage.base import ObjectLock
from ekakte.storage.s3 import _object_lock, parse_lock_date

WHEN = datetime(2031, 1, 1, 0, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2031-01-01T00:00:00.000000000Z", WHEN),  # RadosGW: nine fractional digits
        ("2031-01-01T00:00:00.123456789Z", WHEN.replace(microsecond=123456)),
        ("2031-01-01T00:00:00.000Z", WHEN),  # MinIO, AWS, moto: milliseconds
        ("2031-01-01T00:00:00Z", WHEN),
        ("2031-01-01T00:00:00.5+00:00", WHEN.replace(microsecond=500000)),
    ],
)
def test_retain_until_dates_are_read_as_every_server_writes_them(text: str, expected: datetime) -> None:
    assert parse_lock_date(text) == expected


@pytest.mark.parametrize("text", ["", "2031-01-01", "tomorrow", "2031-01-01T00:00:00+02:00"])
def test_a_date_ekakte_cannot_read_is_an_error_not_a_guess(text: str) -> None:
    with pytest.raises(StorageError, match="retain-until date"):
        parse_lock_date(text)


def test_the_lock_comes_from_the_head_answers_headers() -> None:
    lock = _object_lock(
        {
            "x-amz-object-lock-mode": "COMPLIANCE",
            "x-amz-object-lock-retain-until-date": "2031-01-01T00:00:00.000000000Z",
            "x-amz-object-lock-legal-hold": "ON",
        }
    )
    assert lock == ObjectLock("COMPLIANCE", WHEN, True)
    assert lock.describe() == "retained until 2031-01-01 00:00 UTC (COMPLIANCE) and under a legal hold"
    assert _object_lock({}) == ObjectLock(None, None, False)  # no headers: nothing protects it


def test_a_lock_protects_until_its_date_or_while_held() -> None:
    now = datetime.now(UTC)
    assert ObjectLock("GOVERNANCE", now + timedelta(seconds=1), False).protects(now)
    assert not ObjectLock("GOVERNANCE", now, False).protects(now)
    assert ObjectLock(None, None, True).protects(now)
    assert not ObjectLock(None, None, False).protects(now)
