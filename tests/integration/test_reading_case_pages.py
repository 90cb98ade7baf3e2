"""A case's documents page by page (case_documents with limit and after), on both stacks."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.documents import MAX_PAGE, CaseView, case_documents
from ekakte.errors import ExitCode, InvalidInput, NotPermitted
from ekakte.ingest import DocumentMeta, import_document
from ekakte.principals import add_user
from tests.conftest import ADMIN, CASE, OPERATOR, OTHER_TEAM, READER, TEAM
from tests.integration.test_cli import Cli

MakeScan = Callable[..., Path]
PLAIN = Actor("plain")  # a caseworker of TEAM without the health clearance
RECORDS = Actor("records")  # a records manager without it: sees restricted documents, withheld


@pytest.fixture
def case_file(archive: Archive, make_scan: MakeScan) -> list[tuple[uuid.UUID, str]]:
    """13 documents newest first as (id, type): Gutachten (restricted) at every third place, two pairs
    received on the same day, so that pages end inside a day."""
    add_user(archive, ADMIN, PLAIN.name, ["caseworker"], [TEAM])
    add_user(archive, ADMIN, RECORDS.name, ["records_manager"])
    stored = []
    for i in range(13):
        kind = "Gutachten" if i % 3 == 1 else "Antrag"
        day = date(2026, 1, 1 + i // 2 * 3)  # 0 and 1 the same day, 2 and 3, …
        meta = DocumentMeta(CASE, kind, day, f"Dokument {i}")
        stored.append((import_document(archive, OPERATOR, make_scan(seed=i), meta).document_id, kind))
    return stored[::-1]  # later imports of the same day are newer: the whole list reverses


def all_pages(archive: Archive, who: Actor, limit: int, **kwargs: str) -> list[CaseView]:
    pages = [case_documents(archive, who, CASE, limit=limit, **kwargs)]
    while pages[-1].next is not None:
        pages.append(case_documents(archive, who, CASE, limit=limit, after=pages[-1].next, **kwargs))
    return pages


@pytest.mark.parametrize("limit", [1, 2, 4, 5, 13, 50])
def test_pages_cover_the_case_in_order_without_gaps_or_repeats(
    archive: Archive, case_file: list[tuple[uuid.UUID, str]], limit: int
) -> None:
    whole = [d.id for d in case_documents(archive, READER, CASE).documents]
    assert whole == [doc_id for doc_id, _kind in case_file]
    pages = all_pages(archive, READER, limit)
    assert [d.id for page in pages for d in page.documents] == whole
    assert all(len(page.documents) == limit for page in pages[:-1])
    assert 1 <= len(pages[-1].documents) <= limit and pages[-1].next is None


@pytest.mark.parametrize("limit", [1, 2, 3, 4])
def test_restricted_documents_between_pages_neither_shorten_a_page_nor_show_in_a_cursor(
    archive: Archive, case_file: list[tuple[uuid.UUID, str]], limit: int
) -> None:
    visible = [doc_id for doc_id, kind in case_file if kind != "Gutachten"]
    hidden = {doc_id for doc_id, kind in case_file if kind == "Gutachten"}
    pages = all_pages(archive, PLAIN, limit)
    assert [d.id for page in pages for d in page.documents] == visible
    assert all(len(page.documents) == limit for page in pages[:-1])  # full, restricted ones or not
    # The last visible document ends the case for this reader, whatever restricted ones follow it.
    assert pages[-1].next is None and len(pages) == -(-len(visible) // limit)
    for page in pages:
        cursor = page.next
        if cursor is not None:
            decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            assert page.documents[-1].id.hex in decoded  # the page's own last document, nothing else
            assert not any(h.hex in decoded for h in hidden)


def test_a_records_manager_pages_through_restricted_documents_withheld(
    archive: Archive, case_file: list[tuple[uuid.UUID, str]]
) -> None:
    pages = all_pages(archive, RECORDS, 4)
    docs = [d for page in pages for d in page.documents]
    assert [d.id for d in docs] == [doc_id for doc_id, _kind in case_file]
    assert all(d.withheld == (d.document_type == "Gutachten") for d in docs)


def test_pages_of_one_type(archive: Archive, case_file: list[tuple[uuid.UUID, str]]) -> None:
    pages = all_pages(archive, READER, 3, document_type="gutachten")
    assert [d.id for page in pages for d in page.documents] == [
        doc_id for doc_id, kind in case_file if kind == "Gutachten"
    ]
    assert [len(p.documents) for p in pages] == [3, 1]


def test_each_page_is_decided_and_audited_and_refused_alike_for_another_team(
    archive: Archive, case_file: list[tuple[uuid.UUID, str]]
) -> None:
    from tests.integration.test_access import last_entry

    first = case_documents(archive, READER, CASE, limit=5)
    assert first.next is not None
    add_user(archive, ADMIN, "other", ["caseworker"], [OTHER_TEAM])
    with pytest.raises(NotPermitted, match=f"^not permitted: case {CASE}$"):
        case_documents(archive, Actor("other"), CASE, limit=5, after=first.next)
    entry = last_entry(archive)
    assert (entry.action, entry.outcome, entry.actor) == ("case.show", "denied", "other")


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE + 1])
def test_a_page_size_out_of_range_is_refused(archive: Archive, limit: int) -> None:
    with pytest.raises(InvalidInput, match=f"a page holds 1 to {MAX_PAGE} entries, not {limit}$"):
        case_documents(archive, READER, CASE, limit=limit)


@pytest.mark.parametrize(
    "cursor", ["", "nonsense", base64.urlsafe_b64encode(b"2026-01-01|yesterday|abc").decode(), "ä"]
)
def test_a_cursor_that_no_page_gave_is_refused(
    archive: Archive, case_file: list[tuple[uuid.UUID, str]], cursor: str
) -> None:
    with pytest.raises(InvalidInput, match=r"^the cursor is not one"):
        case_documents(archive, READER, CASE, limit=2, after=cursor)


def test_the_json_view_says_where_the_next_page_starts(
    archive: Archive, case_file: list[tuple[uuid.UUID, str]]
) -> None:
    page = case_documents(archive, READER, CASE, limit=2).as_json()
    assert len(page["documents"]) == 2 and isinstance(page["next"], str)
    assert case_documents(archive, READER, CASE).as_json()["next"] is None


# --- `ekakte case show` -------------------------------------------------------------------------------


def run(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    return Cli(env, monkeypatch, capsys)(*args)


def test_case_show_prints_the_whole_case_page_after_page_or_one_page_with_limit(
    stack_env: dict[str, str],
    archive: Archive,
    case_file: list[tuple[uuid.UUID, str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import ekakte.cli.cases as cases

    add_user(archive, ADMIN, Actor.from_os().name, ["caseworker"], [TEAM])  # no clearance
    visible = [str(doc_id) for doc_id, kind in case_file if kind != "Gutachten"]
    monkeypatch.setattr(cases, "WHOLE_CASE_PAGE", 3)  # several requests for the whole case
    code, out, err = run(stack_env, monkeypatch, capsys, "case", "show", CASE)
    lines = out.splitlines()
    assert code == 0, err
    assert [line.split()[3] for line in lines[2:-1]] == visible and lines[-1] == f"{len(visible)} documents"

    code, out, _ = run(stack_env, monkeypatch, capsys, "case", "show", CASE, "--json")
    view = json.loads(out)
    assert [d["id"] for d in view["documents"]] == visible and view["next"] is None

    code, out, _ = run(stack_env, monkeypatch, capsys, "case", "show", CASE, "--limit", "5", "--json")
    first = json.loads(out)
    assert [d["id"] for d in first["documents"]] == visible[:5]
    code, out, _ = run(stack_env, monkeypatch, capsys, "case", "show", CASE, "--limit", "5")
    assert out.splitlines()[-1] == f"5 documents; more after this page: --limit 5 --after {first['next']}"
    code, out, _ = run(
        stack_env, monkeypatch, capsys, "case", "show", CASE, "--limit", "5", "--after", first["next"]
    )
    assert [line.split()[3] for line in out.splitlines()[2:-1]] == visible[5:]
    assert out.splitlines()[-1] == f"{len(visible) - 5} documents"
    code, _, err = run(stack_env, monkeypatch, capsys, "case", "show", CASE, "--limit", "0")
    assert code == ExitCode.INVALID_INPUT and "a page holds 1 to" in err
