"""Long work (rules load, sweep, verify) reports its progress and stops at a step boundary when asked."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ekakte.archive import Archive
from ekakte.integrity import verify
from ekakte.principals import add_user
from ekakte.retention.schedule import close_case, load_rules
from ekakte.retention.sweep import sweep
from tests.conftest import ADMIN, CASE, TEN_YEARS_RULES
from tests.integration.test_retention import RECORDS, SWEEP_DAY, due, stored, visible


@pytest.fixture
def records(archive: Archive) -> Archive:
    add_user(archive, ADMIN, RECORDS.name, ["records_manager"])
    return archive


def test_a_sweep_asked_to_stop_ends_after_its_batch_and_the_next_run_finishes(
    records: Archive, make_scan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ekakte.retention.sweep as sweeping

    monkeypatch.setattr(sweeping, "BATCH", 2)
    rules = tmp_path / "rules.toml"
    rules.write_text(TEN_YEARS_RULES)
    load_rules(records, RECORDS, rules)
    docs = [stored(records, make_scan) for _ in range(5)]
    close_case(records, RECORDS, CASE, date(2015, 3, 10))
    steps: list[str] = []
    report = sweep(
        records, RECORDS, as_of=SWEEP_DAY, on_step=lambda step, _ids: steps.append(step),
        should_stop=lambda: "purge" in steps,
    )  # fmt: skip
    assert (report.deleted, report.stopped, steps) == (2, True, ["mark", "objects", "purge"])
    assert "before it was stopped" in report.summary()
    assert sum(visible(records, d) for d in docs) == 3  # what is left waits, visible
    rest = sweep(records, RECORDS, as_of=SWEEP_DAY)
    assert (rest.deleted, rest.stopped, rest.complete) == (3, False, True)


def test_verify_counts_what_it_checked_and_stops_when_asked(records: Archive, make_scan: Any) -> None:
    for _ in range(4):
        stored(records, make_scan)
    seen: list[int] = []
    report = verify(records, ADMIN, progress=seen.append, should_stop=lambda: len(seen) >= 2)
    assert (seen, report.documents_checked, report.stopped) == ([1, 2], 2, True)
    assert "before verify was stopped" in report.summary() and report.objects_listed == 0
    full = verify(records, ADMIN, progress=seen.append)
    assert (full.documents_checked, full.stopped, seen[-1]) == (4, False, 4)


def test_a_rules_load_asked_to_stop_keeps_the_rules_and_a_second_load_finishes(
    records: Archive, make_scan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ekakte.retention.schedule as scheduling

    monkeypatch.setattr(scheduling, "_CHUNK", 2)
    docs = [stored(records, make_scan) for _ in range(5)]
    close_case(records, RECORDS, CASE, date(2015, 3, 10))
    rules = tmp_path / "rules.toml"
    rules.write_text(TEN_YEARS_RULES)
    seen: list[int] = []
    _loaded, done = load_rules(records, RECORDS, rules, progress=seen.append, should_stop=lambda: bool(seen))
    assert (done.stopped, done.changed, seen) == (True, 2, [2])
    assert sum(due(records, d)[0] is not None for d in docs) == 2  # the rest keep their earlier date
    _loaded, again = load_rules(records, RECORDS, rules, progress=seen.append)
    assert not again.stopped and all(due(records, d)[0] == date(2025, 12, 31) for d in docs)
    assert seen[1:] == [2, 4, 5]
