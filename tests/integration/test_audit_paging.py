"""`audit_entries` pages through the trail newest first (after=cursor, limit), and `ekakte audit show` prints
every matching entry page by page, each entry with the channel, client and request it came with."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from ekakte import audit
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.cli import main
from ekakte.db.models import AuditEntry
from ekakte.errors import InvalidInput
from ekakte.paging import MAX_LIMIT as MAX_PAGE
from ekakte.principals import add_user
from ekakte.trail import audit_entries
from tests.conftest import ADMIN, CASE, OTHER_CASE, READER

AUDITOR = Actor("auditor")
Run = Callable[..., str]


@pytest.fixture
def auditor(archive: Archive) -> Actor:
    add_user(archive, ADMIN, AUDITOR.name, ["auditor"])
    return AUDITOR


def _append(archive: Archive, count: int, actor: Actor = READER, case_number: str = CASE) -> None:
    """`count` real entries, appended as every use case appends them, in one transaction."""
    with archive.transaction() as session:
        for n in range(count):
            audit.append(session, actor, "case.show", "allowed", case_number=case_number, reason=f"entry {n}")


def _ids(archive: Archive, up_to: int) -> list[int]:
    """Every entry's id up to `up_to`, newest first: what a listing that started at `up_to` must show."""
    with archive.reading() as session:
        stmt = select(AuditEntry.id).where(AuditEntry.id <= up_to).order_by(AuditEntry.id.desc())
        return list(session.scalars(stmt))


def _reads(archive: Archive) -> int:
    with archive.reading() as session:
        stmt = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "audit.read")
        return int(session.scalar(stmt) or 0)


def test_pages_follow_each_other_newest_first_without_gaps_or_repeats(
    archive: Archive, auditor: Actor
) -> None:
    _append(archive, 23)
    pages = [audit_entries(archive, auditor, limit=7)]
    while pages[-1].next is not None:
        pages.append(audit_entries(archive, auditor, after=pages[-1].next, limit=7))
    listed = [e.id for page in pages for e in page]
    # The first page starts with its own audit.read; the later pages' own entries are newer than the
    # cursor and are not in them.
    assert listed == _ids(archive, listed[0])
    assert len(pages) > 3 and all(len(page) == 7 for page in pages[:-1]) and len(pages[-1]) <= 7


def test_filters_hold_across_pages(archive: Archive, auditor: Actor) -> None:
    """A page is cut after the filters: it never comes up short because of entries it leaves out."""
    other = Actor("lena")
    for _ in range(4):
        _append(archive, 2, READER, CASE)
        _append(archive, 3, other, CASE)
        _append(archive, 1, READER, OTHER_CASE)
    with archive.reading() as session:
        wanted = audit.query(session, case_number=CASE, user=READER.name, limit=MAX_PAGE)
    assert len(wanted) >= 8
    pages = [audit_entries(archive, auditor, case_number=CASE, user=READER.name, limit=3)]
    while pages[-1].next is not None:
        last = pages[-1].next
        pages.append(audit_entries(archive, auditor, case_number=CASE, user=READER.name, after=last, limit=3))
    assert [e for page in pages for e in page] == wanted
    assert all(len(page) == 3 for page in pages[:-1])


@pytest.mark.parametrize(
    ("paging", "message"),
    [
        ({"limit": 0}, f"a page holds 1 to {MAX_PAGE} entries, not 0"),
        ({"limit": MAX_PAGE + 1}, f"a page holds 1 to {MAX_PAGE} entries, not {MAX_PAGE + 1}"),
        ({"after": "0"}, "the cursor is not one ekakte gave out"),
        ({"after": "WyJob2xkcyIsWzFdXQ"}, "the cursor is not one of the audit list"),
    ],
)
def test_a_page_of_no_size_or_after_no_entry_is_refused(
    archive: Archive, auditor: Actor, paging: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        audit_entries(archive, auditor, **paging)
    assert str(refused.value) == message


@pytest.fixture
def cli(
    stack_env: dict[str, str],
    archive: Archive,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Run:
    """`ekakte …` in this process, as this OS user, an auditor."""
    add_user(archive, ADMIN, Actor.from_os().name, ["auditor"])
    for key in [k for k in os.environ if k.startswith("EKAKTE_")]:
        monkeypatch.delenv(key)
    for key, value in stack_env.items():
        monkeypatch.setenv(key, value)

    def run(*args: str) -> str:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main(list(args))
        out, err = capsys.readouterr()
        assert exited.value.code == 0, err
        return out

    return run


def test_audit_show_prints_every_entry_page_after_page(archive: Archive, cli: Run) -> None:
    _append(archive, 2 * MAX_PAGE + 100)
    reads = _reads(archive)
    listed = json.loads(cli("audit", "show", "--json"))
    ids = [e["id"] for e in listed]
    assert len(ids) > 2 * MAX_PAGE and ids == _ids(archive, ids[0])
    assert _reads(archive) == reads + 3  # three pages, each read audited

    text = cli("audit", "show").splitlines()
    assert len(text) == len(ids) + 3  # and the three reads of the JSON listing
    assert [int(line.split()[0]) for line in text[3:]] == ids


def test_audit_show_limit_caps_the_listing_at_the_newest(archive: Archive, cli: Run) -> None:
    _append(archive, MAX_PAGE + 200)
    reads = _reads(archive)
    listed = json.loads(cli("audit", "show", "--limit", str(MAX_PAGE + 50), "--json"))
    ids = [e["id"] for e in listed]
    assert ids == _ids(archive, ids[0])[: MAX_PAGE + 50]
    assert _reads(archive) == reads + 2
    assert json.loads(cli("audit", "show", "--user", "nobody", "--json")) == []
    assert len(cli("audit", "show", "--limit", "5").splitlines()) == 5


def test_audit_show_says_how_each_request_came_in(archive: Archive, cli: Run) -> None:
    from ekakte.documents import case_documents

    api = Actor(READER.name, channel="api", client_address="10.20.30.40", request_id="req-7f3a")
    web = Actor(READER.name, channel="web", client_address="::ffff:192.0.2.8")
    for actor in (api, web, READER):
        case_documents(archive, actor, CASE)
    listed = json.loads(cli("audit", "show", "--user", READER.name, "--json"))
    assert [(e["channel"], e["client_address"], e["request_id"]) for e in listed[:3]] == [
        ("cli", None, None),
        ("web", "192.0.2.8", None),
        ("api", "10.20.30.40", "req-7f3a"),
    ]
    lines = cli("audit", "show", "--user", READER.name).splitlines()
    assert "  cli  12345BG0001234  own team" in lines[0]
    assert "  web 192.0.2.8  12345BG0001234  own team" in lines[1]
    assert "  api 10.20.30.40 request req-7f3a  12345BG0001234  own team" in lines[2]
