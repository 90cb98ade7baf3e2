"""The text index keeps restricted pages apart (migration 0011): pages.team_id is the case's team, negative
for the pages of a restricted document, on both stacks; the index hands restricted pages only to callers
with the health clearance, whatever changes the case's team or the document's flag."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text, update

from ekakte.access import Scope
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import Case, Document, OcrState, Page, Team
from ekakte.ingest import DocumentMeta, import_document
from ekakte.policy import restrict_type, unrestrict_type
from ekakte.principals import add_user, assign_case
from ekakte.search import parse_query, search
from ekakte.search.postgres import PostgresDialect
from ekakte.search.ranking import dialect_for, index_teams
from ekakte.search.sqlite import SqliteDialect
from ekakte.setup import initialize
from tests.conftest import ADMIN, CASE, OPERATOR, OTHER_CASE, OTHER_TEAM, READER, TEAM
from tests.integration.test_schema import archive_at

PLAIN = Actor("plain-caseworker")  # caseworker of TEAM without the health clearance
BOTH = Actor("caseworker-of-both")  # of both teams (every team of the archive), without the clearance
BOTH_CLEARED = Actor("cleared-caseworker-of-both")  # of both teams, with the clearance
SECRET = "Walrossbart"  # a word on the restricted pages only

TEXTS = {
    "gutachten": (CASE, "Gutachten", f"Ärztliches Gutachten zur Erwerbsfähigkeit: {SECRET} Mietvertrag."),
    "antrag": (CASE, "Antrag", "Antrag auf Bürgergeld, Mietvertrag anbei."),
    "fremd": (OTHER_CASE, "Gutachten", f"Gutachten einer anderen Bedarfsgemeinschaft, {SECRET}."),
}


@pytest.fixture
def docs(archive: Archive, make_scan: Any) -> dict[str, uuid.UUID]:
    """A restricted and an unrestricted document of TEAM (two pages each), a restricted one of
    OTHER_TEAM; the text set on every page as a worker would record it."""
    assign_case(archive, ADMIN, OTHER_CASE, OTHER_TEAM)
    add_user(archive, ADMIN, PLAIN.name, ["caseworker"], [TEAM])
    add_user(archive, ADMIN, BOTH.name, ["caseworker"], [TEAM, OTHER_TEAM])
    add_user(archive, ADMIN, BOTH_CLEARED.name, ["caseworker"], [TEAM, OTHER_TEAM], health_clearance=True)
    ids = {}
    for i, (key, (case, doc_type, page_text)) in enumerate(TEXTS.items()):
        meta = DocumentMeta(case, doc_type, date(2026, 2, 1 + i), f"{doc_type} {key}")
        ids[key] = import_document(archive, OPERATOR, make_scan(seed=700 + i, pages=2), meta).document_id
        with archive.transaction() as session:
            session.execute(
                update(Page)
                .where(Page.document_id == ids[key])
                .values(text=page_text, ocr_state=OcrState.DONE)
            )
    return ids


def copies(archive: Archive) -> dict[uuid.UUID, set[int | None]]:
    """Each document's pages' copies of the team; and asserts that each is its case's team, negative for
    a restricted document (and on SQLite that the FTS5 index agrees with the pages)."""
    with archive.transaction() as session:
        rows = session.execute(
            select(Document.id, Page.team_id, Case.team_id, Document.restricted)
            .join(Document, Document.id == Page.document_id)
            .join(Case, Case.id == Document.case_id)
        ).all()
        if session.get_bind().dialect.name == "sqlite":
            session.execute(text("INSERT INTO pages_fts(pages_fts, rank) VALUES ('integrity-check', 1)"))
    wrong = [r for r in rows if r[1] != (-r[2] if r[3] and r[2] is not None else r[2])]
    assert rows and not wrong, wrong
    out: dict[uuid.UUID, set[int | None]] = {}
    for document_id, copy, _team, _restricted in rows:
        out.setdefault(document_id, set()).add(copy)
    return out


def team_id(archive: Archive, name: str) -> int:
    with archive.transaction() as session:
        return int(session.execute(select(Team.id).where(Team.name == name)).scalar_one())


def found(archive: Archive, docs: dict[str, uuid.UUID], query: str, who: Actor) -> list[str]:
    keys = {v: k for k, v in docs.items()}
    return sorted(keys[h.document_id] for h in search(archive, who, query).hits)


def index_candidates(archive: Archive, word: str, scope: Scope) -> list[Any]:
    """What the text index hands a search of this scope for `word`, with no scope filters: the pages
    the index itself lets through, before the SQL check of documents and cases."""
    with archive.reading() as session:
        dialect = dialect_for(session)
        teams, restricted = index_teams(session, dialect, scope)
        return dialect.candidates(session, parse_query(word), teams, [], 100, restricted=restricted)


def test_the_copy_is_the_cases_team_signed_by_the_documents_restriction(
    archive: Archive, docs: dict[str, uuid.UUID]
) -> None:
    """After the import, after `case assign`, after `type restrict` and `unrestrict`, and after an
    administrator's UPDATE of a document's flag: each page's copy is (sign of restricted) × (case team)."""
    a, b = team_id(archive, TEAM), team_id(archive, OTHER_TEAM)
    assert copies(archive) == {docs["gutachten"]: {-a}, docs["antrag"]: {a}, docs["fremd"]: {-b}}
    assign_case(archive, ADMIN, CASE, OTHER_TEAM)
    assert copies(archive) == {docs["gutachten"]: {-b}, docs["antrag"]: {b}, docs["fremd"]: {-b}}
    assign_case(archive, ADMIN, CASE, TEAM)
    restrict_type(archive, ADMIN, "Antrag")
    assert copies(archive) == {docs["gutachten"]: {-a}, docs["antrag"]: {-a}, docs["fremd"]: {-b}}
    unrestrict_type(archive, ADMIN, "Gutachten")
    assert copies(archive) == {docs["gutachten"]: {a}, docs["antrag"]: {-a}, docs["fremd"]: {b}}
    restrict_type(archive, ADMIN, "Gutachten")
    unrestrict_type(archive, ADMIN, "Antrag")
    assert copies(archive) == {docs["gutachten"]: {-a}, docs["antrag"]: {a}, docs["fremd"]: {-b}}
    with archive.transaction() as session:  # whoever changes the flag, the trigger follows
        session.execute(update(Document).where(Document.id == docs["antrag"]).values(restricted=True))
    assert copies(archive)[docs["antrag"]] == {-a}


def test_a_restricted_scan_of_an_unassigned_case_has_no_team_until_the_case_is_assigned(
    archive: Archive, docs: dict[str, uuid.UUID], make_scan: Any
) -> None:
    new_case = "11111BG1111111"
    doc = import_document(archive, OPERATOR, make_scan(seed=790), DocumentMeta(new_case, "Gutachten"))
    assert copies(archive)[doc.document_id] == {None}
    assign_case(archive, ADMIN, new_case, TEAM)
    assert copies(archive)[doc.document_id] == {-team_id(archive, TEAM)}


def test_the_index_hands_no_restricted_page_to_a_caller_without_the_clearance(
    archive: Archive, docs: dict[str, uuid.UUID]
) -> None:
    """Asked as the search asks it, for a word that is on restricted pages of the caller's team only, the
    index gives a caller without the clearance nothing at all (not even for the SQL check to pass over),
    also a caller of every team; a caller with the clearance gets the pages."""
    a, b = team_id(archive, TEAM), team_id(archive, OTHER_TEAM)
    assert index_candidates(archive, SECRET, Scope(frozenset({a}), False)) == []
    assert index_candidates(archive, SECRET, Scope(frozenset({a, b}), False)) == []
    # The unrestricted pages of the same team are still handed out.
    assert len(index_candidates(archive, "Bürgergeld", Scope(frozenset({a}), False))) == 2
    cleared = index_candidates(archive, SECRET, Scope(frozenset({a}), True))
    assert {str(r[1]).replace("-", "") for r in cleared} == {docs["gutachten"].hex}
    assert len(cleared) == 2
    # A cleared caller of every team asks for the words alone, and gets both teams' restricted pages.
    with archive.reading() as session:
        assert index_teams(session, dialect_for(session), Scope(frozenset({a, b}), True)) == (None, True)
    assert len(index_candidates(archive, SECRET, Scope(frozenset({a, b}), True))) == 4


@pytest.mark.parametrize("share", [float("inf"), 0.0], ids=["teams asked of the index", "words alone"])
def test_the_search_finds_the_same_for_callers_with_and_without_the_clearance(
    archive: Archive, docs: dict[str, uuid.UUID], monkeypatch: pytest.MonkeyPatch, share: float
) -> None:
    """Whichever way the index is asked, what each caller finds is what it may see, and follows a change
    of the policy."""
    monkeypatch.setattr(PostgresDialect, "teams_share", share)
    monkeypatch.setattr(SqliteDialect, "teams_share", share)
    assert found(archive, docs, "Mietvertrag", READER) == ["antrag", "gutachten"]
    assert found(archive, docs, "Mietvertrag", PLAIN) == ["antrag"]
    assert found(archive, docs, SECRET, READER) == ["gutachten"]
    assert found(archive, docs, SECRET, PLAIN) == []
    assert found(archive, docs, SECRET, BOTH) == []
    assert found(archive, docs, SECRET, BOTH_CLEARED) == ["fremd", "gutachten"]
    restrict_type(archive, ADMIN, "Antrag")
    assert found(archive, docs, "Mietvertrag", PLAIN) == []
    assert found(archive, docs, "Mietvertrag", READER) == ["antrag", "gutachten"]
    unrestrict_type(archive, ADMIN, "Gutachten")
    assert found(archive, docs, SECRET, PLAIN) == ["gutachten"]
    assert found(archive, docs, SECRET, BOTH) == ["fremd", "gutachten"]


def test_a_wrong_copy_still_hides_a_restricted_page_from_a_caller_without_the_clearance(
    archive: Archive, docs: dict[str, uuid.UUID]
) -> None:
    """The copy only picks what the index reads: a restricted page whose copy says unrestricted (written
    by hand) is handed out by the index, and the SQL check of the document's flag passes over it."""
    a = team_id(archive, TEAM)
    with archive.transaction() as session:
        session.execute(update(Page).where(Page.document_id == docs["gutachten"]).values(team_id=a))
    assert len(index_candidates(archive, SECRET, Scope(frozenset({a}), False))) == 2
    assert found(archive, docs, SECRET, PLAIN) == []
    assert found(archive, docs, SECRET, READER) == ["gutachten"]  # asks for both signs of the team


def test_upgrading_from_0010_signs_the_restricted_pages_and_downgrading_unsigns_them(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    """Migration 0011 on an archive with a restricted and an unrestricted document of a team and a
    restricted one of no team: the restricted pages get the negative copy, the index (on SQLite the FTS5
    tokens) follows, and the search finds what each caller may see; its downgrade gives every page its
    case's team back, with an index that still agrees."""
    from datetime import UTC, datetime

    from alembic import command
    from alembic.config import Config

    from ekakte.db.session import make_engine
    from tests.conftest import organise

    now = datetime.now(UTC)
    with archive_at("0010", stack_env, tmp_path) as (settings, conn):
        postgres = settings.database_url.startswith("postgresql")
        conn.execute(text("INSERT INTO teams (name, created_at) VALUES ('legacy', :t)"), {"t": now})
        legacy = conn.execute(text("SELECT id FROM teams")).scalar_one()
        documents = (
            ("11111BG1111111", legacy, True),
            ("11111BG1111111", legacy, False),
            ("22222BG2222222", None, True),
        )
        for n, (number, team, restricted) in enumerate(documents, start=1):
            conn.execute(
                text(
                    "INSERT INTO cases (case_number, team_id, opened_on, created_at)"
                    " VALUES (:n, :team, :d, :t) ON CONFLICT DO NOTHING"
                ),
                {"n": number, "team": team, "d": date(2025, 1, 1), "t": now},
            )
            case_id = conn.execute(
                text("SELECT id FROM cases WHERE case_number = :n"), {"n": number}
            ).scalar_one()
            doc_id = f"0f0e0d0c-0b0a-4000-8000-00000000000{n}"
            conn.execute(
                text(
                    "INSERT INTO documents (id, case_id, document_type, received_on, station, operator,"
                    " original_filename, media_type, size_bytes, sha256, storage_key, page_count, state,"
                    " created_at, restricted) VALUES (:id, :case, :type, :d, 's', 'o', 'a.pdf',"
                    " 'application/pdf', 3, :sha, :key, 1, 'stored', :t, :restricted)"
                ),
                {
                    "id": doc_id if postgres else doc_id.replace("-", ""),
                    "case": case_id,
                    "type": "Gutachten" if restricted else "Antrag",
                    "d": date(2025, 1, 1),
                    "sha": str(n) * 64,
                    "key": f"originals/{n}",
                    "t": now,
                    "restricted": restricted,
                },
            )
            conn.execute(
                text(
                    "INSERT INTO pages (document_id, number, text, ocr_state, attempts, team_id)"
                    " SELECT id, 1, :text, 'done', 0, :team FROM documents WHERE sha256 = :sha"
                ),
                {"text": f"Widerspruch {SECRET} Nummer {n}", "team": team, "sha": str(n) * 64},
            )

    def pages() -> list[tuple[str, int | None]]:
        engine = create_engine(settings.database_url)
        with engine.begin() as conn:
            rows = conn.execute(
                text(
                    "SELECT documents.document_type, pages.team_id FROM pages"
                    " JOIN documents ON documents.id = pages.document_id ORDER BY documents.sha256"
                )
            ).all()
            if not postgres:
                conn.execute(text("INSERT INTO pages_fts(pages_fts, rank) VALUES ('integrity-check', 1)"))
        engine.dispose()
        return [tuple(r) for r in rows]  # type: ignore[misc]

    initialize(settings)  # upgrades to head
    assert pages() == [("Gutachten", -legacy), ("Antrag", legacy), ("Gutachten", None)]
    organise(settings)
    cleared, plain = Actor("legacy-cleared"), Actor("legacy-plain")
    with Archive.open(settings) as archive:
        add_user(archive, ADMIN, cleared.name, ["caseworker"], ["legacy"], health_clearance=True)
        add_user(archive, ADMIN, plain.name, ["caseworker"], ["legacy"])
        assert sorted(h.document_type for h in search(archive, cleared, SECRET).hits) == [
            "Antrag",
            "Gutachten",
        ]
        assert [h.document_type for h in search(archive, plain, SECRET).hits] == ["Antrag"]
        assert len(index_candidates(archive, SECRET, Scope(frozenset({legacy}), False))) == 1
        assign_case(archive, ADMIN, "22222BG2222222", "legacy")
    assert pages() == [("Gutachten", -legacy), ("Antrag", legacy), ("Gutachten", -legacy)]

    from importlib.resources import files

    cfg = Config()
    cfg.set_main_option("script_location", str(files("ekakte.migrations")))
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0010")
    finally:
        engine.dispose()
    assert pages() == [("Gutachten", legacy), ("Antrag", legacy), ("Gutachten", legacy)]
    initialize(settings)  # and up again
    assert pages() == [("Gutachten", -legacy), ("Antrag", legacy), ("Gutachten", -legacy)]


@pytest.mark.parametrize("first", ["document's flag", "case's team"])
def test_a_flag_and_a_team_changed_at_the_same_time_leave_the_copy_right(
    archive: Archive, docs: dict[str, uuid.UUID], first: str
) -> None:
    """An administrator's UPDATE of a document's flag and one of its case's team, in two transactions at
    once, either first: the second waits for the first (on PostgreSQL the case's trigger takes a share
    lock of the case's documents, and a document's UPDATE waits for it), and the pages end up with the
    new team, signed by the new flag, not with what the second read before the first committed."""
    import threading
    import time

    b = team_id(archive, OTHER_TEAM)
    flag = update(Document).where(Document.id == docs["antrag"]).values(restricted=True)
    team = update(Case).where(Case.case_number == CASE).values(team_id=b)
    errors: list[BaseException] = []

    def second_change() -> None:
        try:
            with archive.transaction() as session:
                session.execute(team if first == "document's flag" else flag)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    other = threading.Thread(target=second_change)
    with archive.transaction() as session:
        session.execute(flag if first == "document's flag" else team)
        other.start()
        time.sleep(1.5)
        assert other.is_alive()  # waiting for the first change
    other.join(timeout=60)
    assert not other.is_alive() and not errors, errors
    assert copies(archive) == {docs["gutachten"]: {-b}, docs["antrag"]: {-b}, docs["fremd"]: {-b}}
