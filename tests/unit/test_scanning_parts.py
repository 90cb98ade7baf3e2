"""Replacement scanning's pure parts: the sample, the settings, the seal key and its signatures."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest

from ekakte.config import load_settings
from ekakte.errors import ConfigError
from ekakte.scanning.checks import draw_sample, sample_size
from ekakte.scanning.records import compact
from ekakte.scanning.seals import ensure_seal_key, public_key, sign, signature_holds, trusted_keys


@pytest.mark.parametrize(
    ("setting", "documents", "size"),
    [("all", 120, 120), ("12", 120, 12), ("12", 5, 5), ("10%", 120, 12), ("10%", 3, 1), ("1%", 250, 3),
     ("100%", 7, 7), ("all", 0, 0)],
)  # fmt: skip
def test_the_sample_is_all_a_number_or_a_share_and_at_least_one(
    setting: str, documents: int, size: int
) -> None:
    assert sample_size(setting, documents) == size


def test_the_sample_depends_on_the_batch_not_on_the_order_of_scanning() -> None:
    batch = uuid.uuid4()
    docs = [uuid.uuid4() for _ in range(50)]
    chosen = draw_sample(batch, docs, 5)
    assert chosen == draw_sample(batch, list(reversed(docs)), 5) and len(set(chosen)) == 5
    assert draw_sample(uuid.uuid4(), docs, 5) != chosen  # another batch, another sample (1 in ~2 million)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("EKAKTE_CHECK_SAMPLE", "some", "check_sample must be all, a number of documents or a share"),
        ("EKAKTE_CHECK_SAMPLE", "0", "check_sample must be"),
        ("EKAKTE_CHECK_SAMPLE", "150%", "check_sample must be"),
        ("EKAKTE_SCAN_WARN_DPI", "-1", "scan_warn_dpi must be 0"),
        ("EKAKTE_PAPER_WAITING_DAYS", "9999", "paper_waiting_days must be 0 to 3650"),
        ("EKAKTE_SEAL_KEY", "abc", "seal_key must be 64 hex digits"),
        ("EKAKTE_SEAL_TRUSTED_KEYS", "nothex", "is not a public key of 64 hex digits"),
    ],
)
def test_bad_scanning_settings_are_refused_with_one_line(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({"EKAKTE_HOME": str(tmp_path), variable: value})


def test_the_seal_key_file_is_private_and_its_signatures_hold_only_for_the_signed_bytes(
    tmp_path: Path,
) -> None:
    settings = load_settings({"EKAKTE_HOME": str(tmp_path)})
    tmp_path.mkdir(exist_ok=True)
    with pytest.raises(ConfigError, match="no seal key"):
        public_key(settings)
    ensure_seal_key(settings)
    mode = stat.S_IMODE((tmp_path / "seal.key").stat().st_mode)
    assert mode == 0o600
    data = compact({"b": 1, "a": "ä"}).encode()
    assert data == '{"a":"ä","b":1}'.encode()
    signature, key = sign(settings, data)
    assert key == public_key(settings) and trusted_keys(settings) == {key}
    assert signature_holds(key, signature, data)
    assert not signature_holds(key, signature, data + b" ")
    assert not signature_holds(key, "00" * 64, data) and not signature_holds("zz", signature, data)
    ensure_seal_key(settings)  # a second init keeps the key
    assert public_key(settings) == key


def test_a_configured_seal_key_wins_and_earlier_keys_stay_trusted(tmp_path: Path) -> None:
    settings = load_settings(
        {"EKAKTE_HOME": str(tmp_path), "EKAKTE_SEAL_KEY": "22" * 32, "EKAKTE_SEAL_TRUSTED_KEYS": "AB" * 32}
    )
    assert trusted_keys(settings) == {public_key(settings), "ab" * 32}
    assert "2222" not in repr(settings)
