"""Reads append their audit entries by group commit (audit.Appender): many concurrent lookups, one chain
that verifies whole, one entry per lookup, several written together; and no answer without its entry."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from ekakte import api
from ekakte.access import appender
from ekakte.archive import Archive
from ekakte.db.models import AuditEntry
from ekakte.errors import DatabaseError
from tests.conftest import ADMIN, CASE, READER


def test_concurrent_lookups_make_one_entry_each_in_one_chain(archive: Archive) -> None:
    api.add_user(archive, ADMIN, "pruefer", ["auditor"])
    with archive.reading() as session:
        before = int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
    threads, per_thread = 12, 15
    errors: list[BaseException] = []

    def lookups() -> None:
        try:
            for _ in range(per_thread):
                api.case_documents(archive, READER, CASE)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=lookups) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert errors == []
    with archive.reading() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.id > 0).order_by(AuditEntry.id)))
    lookups_recorded = [e for e in entries[before:] if e.action == "case.show" and e.actor == READER.name]
    assert len(lookups_recorded) == threads * per_thread
    assert api.verify_audit_trail(archive, api.Actor("pruefer")).ok
    # Written together: entries of one batch share their time (and were committed at once).
    assert max(Counter(e.at for e in lookups_recorded).values()) > 1


def test_no_answer_without_its_entry(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = appender(archive)

    @contextmanager
    def broken() -> Iterator[object]:
        raise DatabaseError("database went away")
        yield  # pragma: no cover

    monkeypatch.setattr(writer, "_transaction", broken)
    with pytest.raises(DatabaseError):
        api.case_documents(archive, READER, CASE)
    monkeypatch.undo()
    assert api.case_documents(archive, READER, CASE).case.case_number == CASE
