"""Everything at once on PostgreSQL + S3: four importers on overlapping batches, two OCR workers and a
retention sweep, each a real CLI process. Afterwards: no document twice, none lost, every page read
exactly once, the due documents deleted with one protocol entry each, the audit chain whole."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ekakte import audit
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.db.models import DeletionRecord, Document, OcrState, Page
from ekakte.ingest import DocumentMeta, import_document
from ekakte.integrity import verify
from ekakte.ocr import engine
from ekakte.principals import add_user
from ekakte.retention.schedule import close_case, load_rules
from tests.conftest import ADMIN, CASE, OPERATOR, TEN_YEARS_RULES, ekakte_process, fresh_server_env, scans
from tests.services import S3Server

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(
        not engine.available() and os.environ.get("CI") != "true", reason="tesseract is not installed"
    ),
]
DISTINCT = 24  # files, each in the inboxes of two importers
IMPORTERS = 4
DUE = 60  # documents the sweep deletes meanwhile
DUE_CASE = "77777BG0000001"


def test_importers_ocr_workers_and_a_sweep_at_once(pg_url: str, s3: S3Server, tmp_path: Path) -> None:
    env = fresh_server_env(tmp_path / "home", pg_url, s3)
    files = [
        scans.pdf_bytes([["Seite 1", f"Gleichzeitig {i}", "Bewilligungsbescheid"]], dpi=100, seed=i)
        for i in range(DISTINCT)
    ]
    digests = {hashlib.sha256(data).hexdigest() for data in files}
    inboxes = []
    for k in range(IMPORTERS):
        inbox = tmp_path / f"station-{k}"
        inbox.mkdir()
        for i in range(k * DISTINCT // IMPORTERS, k * DISTINCT // IMPORTERS + DISTINCT // 2):
            (inbox / f"scan-{i % DISTINCT:02d}.pdf").write_bytes(files[i % DISTINCT])
        inboxes.append(inbox)
    with Archive.open(load_settings(env)) as archive:
        me = Actor.from_os()
        add_user(archive, ADMIN, me.name, ["scan_operator", "service", "records_manager"])
        rules = tmp_path / "rules.toml"
        rules.write_text(TEN_YEARS_RULES)
        load_rules(archive, me, rules)
        due = []
        for i in range(DUE):
            path = tmp_path / f"due-{i}.pdf"
            path.write_bytes(scans.pdf_bytes([["Alt", str(i)]], dpi=50, seed=10_000 + i))
            meta = DocumentMeta(DUE_CASE, "Antrag", date(2014, 5, 1))
            due.append(import_document(archive, OPERATOR, path, meta).document_id)
        with archive.transaction() as session:  # the old documents were read long ago
            session.execute(
                Page.__table__.update()
                .where(Page.document_id.in_(due))
                .values(ocr_state=OcrState.DONE, text="alt", attempts=1)
            )
        close_case(archive, me, DUE_CASE, date(2015, 3, 10))

    # An idle worker looks again every 0.1 s: with the default 5 s, one worker could read all the pages
    # while the other slept, and the test would show nothing of two workers at once.
    workers = [
        ekakte_process(env, "ocr", "work", "--workers", "1", "--poll", "0.1", "--json") for _ in range(2)
    ]
    importers = [
        ekakte_process(
            env,
            "import",
            "--allow-root",
            "--batch",
            str(inbox),
            "--case",
            CASE,
            "--type",
            "Bescheid",
            "--json",
        )
        for inbox in inboxes
    ]
    sweeper = ekakte_process(env, "retention", "sweep", "--as-of", "2026-01-01", "--json")
    imported = [p.communicate(timeout=600) for p in importers]
    assert [p.returncode for p in importers] == [0] * IMPORTERS, imported
    swept = sweeper.communicate(timeout=600)
    assert sweeper.returncode == 0, swept
    assert json.loads(swept[0])["deleted"] == DUE

    with Archive.open(load_settings(env)) as archive:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # the workers read what the importers stored
            with archive.reading() as session:
                pending = session.scalar(
                    select(func.count()).select_from(Page).where(Page.ocr_state == OcrState.PENDING)
                )
            if pending == 0:
                break
            time.sleep(0.5)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)  # a service is stopped so: the page in hand is finished
        reports = [json.loads(w.communicate(timeout=120)[0]) for w in workers]
        assert [w.returncode for w in workers] == [0, 0]
        assert all(r["lost"] == 0 and r["failed"] == 0 for r in reports), reports
        assert all(r["done"] > 0 for r in reports), reports  # both took part

        with archive.reading() as session:
            stored = list(
                session.scalars(select(Document.sha256).where(Document.document_type == "Bescheid"))
            )
            pages = session.execute(
                select(Page.ocr_state, Page.attempts, Page.text)
                .join(Document, Document.id == Page.document_id)
                .where(Document.document_type == "Bescheid")
            ).all()
            left_due = session.scalar(select(func.count()).select_from(Document).where(Document.id.in_(due)))
            protocol = session.scalar(
                select(func.count())
                .select_from(DeletionRecord)
                .where(DeletionRecord.document_id.in_([str(d) for d in due]))
            )
        assert sorted(stored) == sorted(digests)  # each file once: no duplicate, none lost
        assert len(pages) == DISTINCT and sum(r["done"] for r in reports) == DISTINCT
        assert all(state == OcrState.DONE and attempts == 1 for state, attempts, _ in pages)  # read once
        assert sum("Gleichzeitig" in (text or "") for _, _, text in pages) >= DISTINCT * 0.9
        assert (left_due, protocol) == (0, DUE)
        assert verify(archive, ADMIN).problems == []
        assert audit.verify_chain(archive.reading).ok
    for inbox in inboxes:
        assert [p for p in inbox.iterdir() if p.is_file()] == []
        assert len(list((inbox / "done").iterdir())) == DISTINCT // 2
