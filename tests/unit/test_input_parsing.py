from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from ekakte.errors import InvalidInput
from ekakte.hotfolder import MAX_SIDECAR_BYTES, read_sidecar
from ekakte.ingest import parse_date


@pytest.mark.parametrize(
    ("text", "expected"), [("2026-11-02", date(2026, 11, 2)), ("02.11.2026", date(2026, 11, 2))]
)
def test_dates_in_iso_and_german_form(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["2026-02-30", "11/02/2026", "gestern", "", "1899-12-31"])
def test_bad_dates_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="invalid date"):
        parse_date(text)


def test_a_date_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidInput, match="in the future"):
        parse_date((date.today() + timedelta(days=1)).isoformat())


def sidecar(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "scan.json"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_a_valid_sidecar(tmp_path: Path) -> None:
    got = read_sidecar(sidecar(tmp_path, '{"case": "12345BG0001234", "type": "Antrag", "title": "Grüße"}'))
    assert got == {"case": "12345BG0001234", "type": "Antrag", "title": "Grüße"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid UTF-8 JSON"),
        (b"\xff\xfe{}", "not valid UTF-8 JSON"),
        ('["case"]', "must be a JSON object"),
        ('{"case": "x", "tpye": "Antrag"}', "unknown field"),
        ('{"case": 12345}', "'case' must be a string"),
        ("[" * 100_00 + "]" * 100_00, "not valid UTF-8 JSON"),
    ],
)
def test_bad_sidecars_are_refused_with_a_reason(tmp_path: Path, content: str | bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        read_sidecar(sidecar(tmp_path, content))


def test_a_huge_sidecar_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="larger than"):
        read_sidecar(sidecar(tmp_path, '{"title": "' + "x" * MAX_SIDECAR_BYTES + '"}'))
