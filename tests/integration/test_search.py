"""Full-text search on both stacks: the query language, German forms, access filtering, hostile queries,
the next results."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy import text as sql

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.db.models import AuditEntry, Case, Document, OcrState, Page
from ekakte.errors import ExitCode, InvalidInput, NotPermitted
from ekakte.ingest import DocumentMeta, import_document
from ekakte.principals import add_team, add_user, assign_case, disable_user
from ekakte.search import SearchResult, parse_query, search
from ekakte.search.postgres import PostgresDialect
from ekakte.search.sqlite import SqliteDialect
from tests.conftest import ADMIN, CASE, OPERATOR, OTHER_CASE, OTHER_TEAM, READER, TEAM, scans
from tests.integration.test_cli import Cli

PLAIN = Actor("plain-caseworker")  # caseworker of the same team, without the health clearance

TEXTS = {
    "miete": (
        "Mietvertrag",
        "Die Mietverträge für die Wohnung in Köln, Buchenstraße 5, liegen bei. Grundmiete 450,00 Euro.",
    ),
    "konto": (
        "Kontoauszug",
        "Kontoauszug März 2026: Gutschrift Jobcenter 563,00 Euro, Lastschrift Stadtwerke.",
    ),
    "bescheid": (
        "Bescheid",
        "Bewilligungsbescheid vom 03.11.2026 über Bürgergeld für die Bedarfsgemeinschaft.",
    ),
    "gutachten": ("Gutachten", "Ärztliches Gutachten zur Erwerbsfähigkeit: Mietvertrag nicht relevant."),
    "fremd": ("Mietvertrag", "Mietvertrag einer anderen Bedarfsgemeinschaft, Wohnung in Bonn."),
}


@pytest.fixture
def corpus(archive: Archive, make_scan: Any) -> dict[str, uuid.UUID]:
    """One document per text; "fremd" in a case of the other team. The page text is set as a worker
    would record it (OCR itself is tested in test_ocr.py), so these tests are about the index."""
    assign_case(archive, ADMIN, OTHER_CASE, OTHER_TEAM)
    add_user(archive, ADMIN, PLAIN.name, ["caseworker"], ["team-a"])
    ids = {}
    for i, (key, (doc_type, text)) in enumerate(TEXTS.items()):
        case = OTHER_CASE if key == "fremd" else CASE
        meta = DocumentMeta(case, doc_type, date(2026, 1, 1 + i), f"{doc_type} {key}")
        ids[key] = import_document(archive, OPERATOR, make_scan(seed=500 + i), meta).document_id
        with archive.transaction() as session:
            session.execute(
                update(Page)
                .where(Page.document_id == ids[key], Page.number == 1)
                .values(text=text, ocr_state=OcrState.DONE)
            )
    return ids


@pytest.fixture(params=["teams asked of the index", "words alone"])
def index_teams(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Either way a search may read the text index (ekakte.search.ranking.index_teams): with the caller's
    teams, or, for a caller of most teams, with the words alone. Both must find exactly what the caller
    may see."""
    share = float("inf") if request.param == "teams asked of the index" else 0.0
    monkeypatch.setattr(PostgresDialect, "teams_share", share)
    monkeypatch.setattr(SqliteDialect, "teams_share", share)
    return str(request.param)


def found(
    archive: Archive, corpus: dict[str, uuid.UUID], query: str, who: Actor = READER, **options: Any
) -> list[str]:
    """The corpus keys of the documents the search returns, sorted."""
    keys = {v: k for k, v in corpus.items()}
    return sorted(keys[h.document_id] for h in search(archive, who, query, **options).hits)


def test_words_are_anded(archive: Archive, corpus: dict[str, uuid.UUID]) -> None:
    assert found(archive, corpus, "Gutschrift") == ["konto"]
    assert found(archive, corpus, "Gutschrift Stadtwerke") == ["konto"]
    assert found(archive, corpus, "Gutschrift Wohnung") == []


def test_a_quoted_phrase_matches_only_in_order(archive: Archive, corpus: dict[str, uuid.UUID]) -> None:
    assert found(archive, corpus, '"Gutschrift Jobcenter"') == ["konto"]
    assert found(archive, corpus, '"Jobcenter Gutschrift"') == []
    assert found(archive, corpus, 'Köln "Grundmiete 450"') == ["miete"]


def test_german_forms_and_umlauts_match(archive: Archive, corpus: dict[str, uuid.UUID]) -> None:
    # PostgreSQL stems ("Mietverträge" -> mietvertrag); SQLite matches the word as a prefix with the
    # umlaut folded ("mietvertrag" is a prefix of "mietvertrage"). Either way the caseworker finds it.
    assert "miete" in found(archive, corpus, "Mietvertrag")
    assert found(archive, corpus, "bürgergeld") == ["bescheid"]
    assert found(archive, corpus, "MÄRZ") == ["konto"]
    assert found(archive, corpus, "Buchenstraße") == ["miete"]  # ß stays ß (casefold would make it ss)


def test_results_have_the_page_a_marked_snippet_and_the_best_first(
    archive: Archive, corpus: dict[str, uuid.UUID]
) -> None:
    hits = search(archive, READER, "Mietvertrag").hits
    assert {h.document_type for h in hits} <= {"Mietvertrag", "Gutachten"}
    top = hits[0]
    assert top.page == 1 and top.case_number == CASE
    assert "[" in top.snippet and "]" in top.snippet
    assert [h.rank for h in hits] == sorted((h.rank for h in hits), reverse=True)


def test_other_teams_and_restricted_documents_are_not_found_or_counted(
    archive: Archive, corpus: dict[str, uuid.UUID], index_teams: str
) -> None:
    assert found(archive, corpus, "Mietvertrag", READER) == ["gutachten", "miete"]  # cleared for health data
    assert found(archive, corpus, "Mietvertrag", PLAIN) == ["miete"]  # no Gutachten without the clearance
    assert found(archive, corpus, "Bonn", READER) == []  # the other team's case: nothing, not even a count
    assert found(archive, corpus, "Bonn", READER, case_number=OTHER_CASE) == []


def pages_follow_their_cases(archive: Archive) -> None:
    """Every page's copy of its case's team is the case's (migration 0007), negative for a restricted
    document's pages (0011), and on SQLite the FTS5 index agrees with the pages it indexes."""
    with archive.transaction() as session:
        rows = session.execute(
            select(Page.id, Page.team_id, Case.team_id, Document.restricted)
            .join(Document, Document.id == Page.document_id)
            .join(Case, Case.id == Document.case_id)
        ).all()
        if session.get_bind().dialect.name == "sqlite":
            session.execute(sql("INSERT INTO pages_fts(pages_fts, rank) VALUES ('integrity-check', 1)"))
    assert rows and all(
        page_team == signed(case_team, restricted) for _id, page_team, case_team, restricted in rows
    ), rows


def signed(team: int | None, restricted: bool) -> int | None:
    """The copy of a case's team a page carries (migration 0011)."""
    return -team if restricted and team is not None else team


def test_a_case_given_to_another_team_is_found_by_that_team_only(
    archive: Archive, corpus: dict[str, uuid.UUID], index_teams: str, make_scan: Any
) -> None:
    pages_follow_their_cases(archive)
    assign_case(archive, ADMIN, OTHER_CASE, TEAM)
    assert found(archive, corpus, "Bonn") == ["fremd"]
    assert found(archive, corpus, "Mietvertrag") == ["fremd", "gutachten", "miete"]
    assign_case(archive, ADMIN, CASE, OTHER_TEAM)
    assert found(archive, corpus, "Mietvertrag") == ["fremd"]
    assert found(archive, corpus, "Gutschrift") == []
    pages_follow_their_cases(archive)
    # A case the archive gets its first scan for is nobody's: its pages are found once it is assigned.
    new_case = "11111BG1111111"
    doc = import_document(archive, OPERATOR, make_scan(seed=950), DocumentMeta(new_case, "Antrag"))
    with archive.transaction() as session:
        session.execute(
            update(Page)
            .where(Page.document_id == doc.document_id)
            .values(text="Zauberwort", ocr_state="done")
        )
    assert search(archive, READER, "Zauberwort").hits == []
    assign_case(archive, ADMIN, new_case, TEAM)
    assert [h.case_number for h in search(archive, READER, "Zauberwort").hits] == [new_case]
    pages_follow_their_cases(archive)


def test_the_pages_team_copy_never_decides_access(
    archive: Archive, corpus: dict[str, uuid.UUID], index_teams: str
) -> None:
    """If a page's copy of its team were wrong (written by hand, say), the search still checks the case:
    the other team's document stays unseen."""
    team_a = _team_id(archive, TEAM)
    with archive.transaction() as session:
        session.execute(update(Page).where(Page.document_id == corpus["fremd"]).values(team_id=team_a))
    assert found(archive, corpus, "Bonn") == []
    assert found(archive, corpus, "Mietvertrag") == ["gutachten", "miete"]


def test_a_scan_imported_while_its_case_changes_team_gets_the_new_team(
    archive: Archive, corpus: dict[str, uuid.UUID], make_scan: Any
) -> None:
    """While another transaction is giving the case to another team, the import waits for it (on
    PostgreSQL the case row's lock, on SQLite the write lock), and its pages get the new team."""
    import threading
    import time

    team_b = _team_id(archive, OTHER_TEAM)
    imported: list[uuid.UUID] = []
    importer = threading.Thread(
        target=lambda: imported.append(
            import_document(archive, OPERATOR, make_scan(seed=960), DocumentMeta(CASE, "Antrag")).document_id
        )
    )
    with archive.transaction() as session:  # a reassignment, not yet committed
        session.execute(update(Case).where(Case.case_number == CASE).values(team_id=team_b))
        importer.start()
        time.sleep(1.5)
        assert importer.is_alive()  # waiting for the case
    importer.join(timeout=60)
    assert_imported_into(archive, imported, team_b)


@pytest.mark.parametrize("how", ["case assign", "UPDATE cases"])
def test_a_case_reassigned_while_a_scan_is_being_imported_takes_the_new_pages_along(
    archive: Archive, corpus: dict[str, uuid.UUID], make_scan: Any, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """The other order: the import has read the case's team and not yet committed its pages when the
    case is reassigned, by `case assign` or by an administrator's UPDATE. The reassignment waits for the
    import (for the audit chain's lock, or for the case row, which the import holds in share mode), and its
    trigger then finds the new pages too: without waiting it would miss them, uncommitted, and they would
    keep the old team. And nothing deadlocks."""
    import threading
    import time

    from ekakte import audit

    team_b = _team_id(archive, OTHER_TEAM)
    record = audit.append
    team_read = threading.Event()

    def slow_import_record(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "importer":  # after reading the team, before the pages
            team_read.set()
            time.sleep(1.5)
        return record(*args, **kwargs)

    monkeypatch.setattr(audit, "append", slow_import_record)
    imported: list[uuid.UUID] = []
    importer = threading.Thread(
        name="importer",
        target=lambda: imported.append(
            import_document(archive, OPERATOR, make_scan(seed=970), DocumentMeta(CASE, "Antrag")).document_id
        ),
    )
    importer.start()
    assert team_read.wait(timeout=60)
    if how == "case assign":
        assign_case(archive, ADMIN, CASE, OTHER_TEAM)
    else:
        with archive.transaction() as session:
            session.execute(update(Case).where(Case.case_number == CASE).values(team_id=team_b))
    importer.join(timeout=60)
    assert_imported_into(archive, imported, team_b)


def test_a_caseworker_of_most_teams_finds_all_of_theirs_and_nothing_else(
    archive: Archive, corpus: dict[str, uuid.UUID], index_teams: str
) -> None:
    """A caseworker of several teams, of all or of some of the archive's: theirs are found, no other's."""
    both = Actor("caseworker-of-both")
    add_user(archive, ADMIN, both.name, ["caseworker"], [TEAM, OTHER_TEAM])
    assert found(archive, corpus, "Mietvertrag", both) == ["fremd", "miete"]  # no Gutachten: no clearance
    assert found(archive, corpus, "Bonn", both) == ["fremd"]
    add_team(archive, ADMIN, "team-c")
    add_team(archive, ADMIN, "team-d")
    assert found(archive, corpus, "Mietvertrag", both) == ["fremd", "miete"]
    assign_case(archive, ADMIN, OTHER_CASE, "team-c")
    assert found(archive, corpus, "Mietvertrag", both) == ["miete"]
    assert found(archive, corpus, "Bonn", both) == []


def assert_imported_into(archive: Archive, imported: list[uuid.UUID], team: int) -> None:
    """The import finished, its pages have `team`, and every page's team is its case's."""
    assert imported
    with archive.transaction() as session:
        teams = set(session.scalars(select(Page.team_id).where(Page.document_id == imported[0])))
    assert teams == {team}
    pages_follow_their_cases(archive)


def _team_id(archive: Archive, name: str) -> int:
    from ekakte.db.models import Team

    with archive.transaction() as session:
        return int(session.execute(select(Team.id).where(Team.name == name)).scalar_one())


def test_roles_without_content_access_are_refused_and_every_search_is_audited(
    archive: Archive, corpus: dict[str, uuid.UUID]
) -> None:
    add_user(archive, ADMIN, "records", ["records_manager"])
    for who in (OPERATOR, Actor("records"), ADMIN, Actor("nobody")):
        with pytest.raises(NotPermitted, match="not permitted: search"):
            search(archive, who, "Mietvertrag")
    search(archive, READER, "Kontoauszug", case_number=CASE)
    with archive.reading() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "search")))
    assert [(e.actor, e.outcome) for e in entries] == [
        (OPERATOR.name, "denied"),
        ("records", "denied"),
        (ADMIN.name, "denied"),
        ("nobody", "denied"),
        (READER.name, "allowed"),
    ]
    assert entries[-1].case_number == CASE and "Kontoauszug" in (entries[-1].reason or "")


def test_dates_and_numbers_are_found_as_written(archive: Archive, corpus: dict[str, uuid.UUID]) -> None:
    # PostgreSQL's parser keeps "03.11.2026" one token (in the page and, parsed alike, in the query);
    # FTS5 splits both into 03, 11, 2026.
    assert found(archive, corpus, "03.11.2026") == ["bescheid"]
    assert found(archive, corpus, '"vom 03.11.2026"') == ["bescheid"]
    assert found(archive, corpus, "563,00 Euro") == ["konto"]


def test_only_the_newest_pages_in_scope_are_ranked_when_very_many_match(
    archive: Archive, corpus: dict[str, uuid.UUID], make_scan: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ekakte.search.postgres
    import ekakte.search.ranking

    def add(case: str, seed: int) -> uuid.UUID:
        doc = import_document(
            archive, OPERATOR, make_scan(seed=seed), DocumentMeta(case, "Antrag")
        ).document_id
        with archive.transaction() as session:
            session.execute(
                update(Page)
                .where(Page.document_id == doc)
                .values(text="Antrag Weiterbewilligung", ocr_state="done")
            )
        return doc

    mine = [add(CASE, 700 + i) for i in range(3)]
    add(OTHER_CASE, 710)  # newer still, but another team's: it must not take a place in the window
    monkeypatch.setattr(ekakte.search.ranking, "RANK_WINDOW", 2)
    result = search(archive, READER, "Weiterbewilligung")
    assert result.window_full
    assert sorted(h.document_id for h in result.hits) == sorted(mine[1:])
    narrow = search(archive, READER, "Weiterbewilligung", limit=1)
    assert narrow.window_full and len(narrow.hits) == 1
    monkeypatch.setattr(ekakte.search.ranking, "RANK_WINDOW", 3)
    result = search(archive, READER, "Weiterbewilligung")
    assert not result.window_full and sorted(h.document_id for h in result.hits) == sorted(mine)
    # PostgreSQL reads the ids in slices from the newest down; with one id a slice, every step runs.
    monkeypatch.setattr(ekakte.search.postgres, "FIRST_SLICE", 1)
    for window, expected, full in ((2, mine[1:], True), (3, mine, False), (5, mine, False)):
        monkeypatch.setattr(ekakte.search.ranking, "RANK_WINDOW", window)
        for query in ("Weiterbewilligung", '"Antrag Weiterbewilligung"'):  # phrases: the pairs index
            result = search(archive, READER, query)
            assert result.window_full is full
            assert sorted(h.document_id for h in result.hits) == sorted(expected), query


def with_text(archive: Archive, make_scan: Any, text: str, seed: int) -> uuid.UUID:
    """A stored document whose one page has `text` as if OCR had read it."""
    doc = import_document(archive, OPERATOR, make_scan(seed=seed), DocumentMeta(CASE, "Antrag")).document_id
    with archive.transaction() as session:
        session.execute(update(Page).where(Page.document_id == doc).values(text=text, ocr_state="done"))
    return doc


def test_phrases_with_stop_words_one_indexed_word_or_odd_tokens(archive: Archive, make_scan: Any) -> None:
    """On PostgreSQL a phrase of two or more indexed words is looked up by its pairs of neighbouring
    words (stop words count as a gap), one of a single indexed word as that word."""
    first = with_text(
        archive,
        make_scan,
        "Der Antrag auf Weiterbewilligung wurde gestellt. Sehr geehrte Frau O'Brien, bitte senden Sie"
        " die Unterlagen an leistung@jobcenter-example.de bis zum 03.11.2026.",
        seed=720,
    )
    second = with_text(
        archive, make_scan, "Weiterbewilligung auf Antrag: der Antrag wurde gestellt, Frau Brien.", seed=721
    )

    def hits(query: str) -> set[uuid.UUID]:
        return {h.document_id for h in search(archive, READER, query).hits}

    assert hits('"Antrag auf Weiterbewilligung"') == {first}
    assert hits('"Weiterbewilligung auf Antrag"') == {second}
    assert hits('"der Antrag wurde gestellt"') == {second}
    assert hits('"wurde gestellt"') == {first, second}
    assert hits('"sehr geehrte"') == {first}
    assert hits('"Frau O\'Brien"') == {first}
    assert hits('"bis zum 03.11.2026"') == {first}
    assert hits('"Unterlagen an leistung@jobcenter-example.de"') == {first}
    assert hits('"gestellt Weiterbewilligung"') == set()


def test_words_the_index_leaves_out_are_named_when_nothing_is_found(
    archive: Archive, corpus: dict[str, uuid.UUID]
) -> None:
    """PostgreSQL's German configuration indexes no stop words: a search for them alone finds nothing,
    and says which words were not searched for rather than leave "no such document". FTS5 has none."""
    postgres = archive.engine.dialect.name == "postgresql"
    only_stop_words = search(archive, READER, 'sehr "für die"')
    if postgres:
        assert only_stop_words.hits == [] and only_stop_words.ignored == ("sehr", "für die")
        nothing = search(archive, READER, "und Nirgendwo")
        assert nothing.hits == [] and nothing.ignored == ("und",)
    else:
        assert only_stop_words.hits == [] and only_stop_words.ignored == ()
        assert found(archive, corpus, '"für die"') == ["bescheid", "miete"]
    # Found something: nothing to explain, though "für" is a stop word on PostgreSQL.
    anded = search(archive, READER, "für Grundmiete")
    assert [h.document_id for h in anded.hits] == [corpus["miete"]] and anded.ignored == ()


def test_every_phrase_finds_the_page_it_was_taken_from(archive: Archive, make_scan: Any) -> None:
    """Phrases of two to four words as they stand in generated letters (numbers, dates, hyphens,
    punctuation, stop words, line breaks): the document each was taken from is always found."""
    import random

    texts = {seed: "\n".join(scans.german_lines(seed, 12)) for seed in range(730, 760)}
    docs = {seed: with_text(archive, make_scan, text, seed) for seed, text in texts.items()}
    rng = random.Random(11)
    tried = 0
    while tried < 80:
        seed = rng.choice(list(texts))
        words = texts[seed].split()
        at = rng.randrange(len(words) - 4)
        phrase = words[at : at + rng.choice((2, 3, 4))]
        if not any(len(w) >= 10 and w.isalpha() for w in phrase):
            continue  # all stop words on PostgreSQL, which match nothing
        tried += 1
        query = '"' + " ".join(phrase) + '"'
        assert docs[seed] in {h.document_id for h in search(archive, READER, query, limit=200).hits}, query


def test_case_and_type_filters(archive: Archive, corpus: dict[str, uuid.UUID], index_teams: str) -> None:
    assert found(archive, corpus, "Bedarfsgemeinschaft", document_type="bescheid") == ["bescheid"]
    assert found(archive, corpus, "Euro", case_number=CASE) == ["konto", "miete"]
    with pytest.raises(InvalidInput):
        search(archive, READER, "Euro", document_type="Urkunde")


def test_pages_without_text_yet_are_not_found(archive: Archive, make_scan: Any) -> None:
    doc = import_document(archive, OPERATOR, make_scan(seed=900), DocumentMeta(CASE, "Antrag"))
    with archive.transaction() as session:  # text present but the page is still pending
        session.execute(update(Page).where(Page.document_id == doc.document_id).values(text="Zauberwort"))
    assert search(archive, READER, "Zauberwort").hits == []


HOSTILE = [
    "'; DROP TABLE pages; --",
    'Mietvertrag" OR "1"="1',
    "NEAR(Miete Köln) OR NOT Bonn",
    "pages_fts MATCH '*'",
    '"unclosed phrase Köln',
    "Miet* -Bonn ^Köln +Euro",
    "text:Köln",
    "a & b | !c <-> d",
    "\\x00 \u202e Köln",
    "💥 Köln",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_query_text_is_data_never_sql_or_index_syntax(
    archive: Archive, corpus: dict[str, uuid.UUID], query: str
) -> None:
    hits = search(archive, READER, query).hits
    assert all(h.case_number == CASE for h in hits)
    assert search(archive, READER, "Mietvertrag").hits  # and the index is still there


def test_empty_and_oversized_queries_are_refused_with_a_reason(archive: Archive) -> None:
    for query in ("", "   ", '""', "!!! ???"):
        with pytest.raises(InvalidInput, match="empty search query"):
            search(archive, READER, query)
    with pytest.raises(InvalidInput, match="too long"):
        search(archive, READER, "Miete " * 200)
    with pytest.raises(InvalidInput, match="number of results asked for must be between 1 and 200"):
        search(archive, READER, "Miete", limit=0)


def test_the_query_parser_splits_words_and_phrases() -> None:
    parsed = parse_query('Kontoauszug "Gutschrift  Jobcenter" März-2026 kontoauszug')
    assert parsed.terms == ("kontoauszug", "märz", "2026")
    assert parsed.phrases == (("gutschrift", "jobcenter"),)


def test_search_after_real_ocr_finds_the_scan(archive: Archive, tmp_path: Path) -> None:
    from ekakte.ocr import engine
    from ekakte.ocr.worker import run_ocr
    from tests.conftest import scans

    if not engine.available():
        pytest.skip("tesseract is not installed")
    lines = ["Kontoauszug Nr. 7 vom 03.11.2026", "Gutschrift Jobcenter Musterstadt 563,00 Euro"]
    page = scans.scan_page(lines, seed=3)
    path = tmp_path / "konto.pdf"
    path.write_bytes(scans.scan_pdf_bytes([page]))
    doc = import_document(archive, OPERATOR, path, DocumentMeta(CASE, "Kontoauszug")).document_id
    assert search(archive, READER, "Musterstadt").hits == []
    run_ocr(archive, OPERATOR)
    hits = search(archive, READER, '"Gutschrift Jobcenter" Musterstadt').hits
    assert [h.document_id for h in hits] == [doc]


# --------------------------------------------------------------------------------------------------
# The next results: paging with a cursor
# --------------------------------------------------------------------------------------------------

PAGED_WORD = "Nebenkostenabrechnung"


@pytest.fixture
def ranked(archive: Archive, make_scan: Any) -> list[uuid.UUID]:
    """Seven documents of TEAM's case holding PAGED_WORD one to four times (three pairs with the same
    text, so the same rank: their order is the document id's), and one of OTHER_TEAM's case holding it
    most often. Returns TEAM's documents as one search ranks them, all at once."""
    assign_case(archive, ADMIN, OTHER_CASE, OTHER_TEAM)
    for n, times in enumerate((1, 1, 2, 2, 3, 3, 4)):
        with_text(archive, make_scan, f"Schreiben {n % 2} zur " + f"{PAGED_WORD} " * times, seed=600 + n)
    other = import_document(archive, OPERATOR, make_scan(seed=610), DocumentMeta(OTHER_CASE, "Antrag"))
    with archive.transaction() as session:
        session.execute(
            update(Page)
            .where(Page.document_id == other.document_id)
            .values(text=f"{PAGED_WORD} " * 9, ocr_state="done")
        )
    whole = search(archive, READER, PAGED_WORD, limit=200)
    assert len(whole.hits) == 7 and whole.next is None
    return [h.document_id for h in whole.hits]


def pages_of(archive: Archive, query: str, limit: int, who: Actor = READER) -> list[SearchResult]:
    """Every page of a search, following its cursors to the end (there are at most 8 documents)."""
    pages, after = [], None
    for _ in range(10):
        result = search(archive, who, query, limit=limit, after=after)
        pages.append(result)
        if result.next is None:
            return pages
        assert result.hits, "a cursor only comes with results"
        after = result.next
    pytest.fail(f"the cursors did not come to an end: {[[h.document_id for h in p.hits] for p in pages]}")


def test_the_next_results_continue_the_ranking_without_gap_or_repeat(
    archive: Archive, ranked: list[uuid.UUID], index_teams: str
) -> None:
    """Page by page, with any page size, the documents come in the order of the whole ranking, each
    once, ties in rank by document id; the last page has no cursor; the other team's never comes."""
    whole = search(archive, READER, PAGED_WORD, limit=200).hits
    ranks = [h.rank for h in whole]
    assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) == 4  # ties: the pairs
    for limit in (1, 2, 3, 6, 7):
        pages = pages_of(archive, PAGED_WORD, limit)
        assert [len(p.hits) for p in pages] == [min(limit, 7 - at) for at in range(0, 7, limit)], limit
        assert [h.document_id for p in pages for h in p.hits] == ranked
        assert [h.rank for p in pages for h in p.hits] == ranks
    # Deterministic: the same search gives the same cursor, and the same next results.
    first, again = search(archive, READER, PAGED_WORD, limit=3), search(archive, READER, PAGED_WORD, limit=3)
    assert first.next == again.next and first.next is not None
    assert (
        search(archive, READER, PAGED_WORD, limit=3, after=first.next).hits
        == search(archive, READER, PAGED_WORD, limit=3, after=again.next).hits
    )


def test_the_cursor_holds_only_the_last_hit_it_follows(archive: Archive, ranked: list[uuid.UUID]) -> None:
    """Inside the opaque text: the last hit's rank and document id, which the caller was shown, and the
    check value of the caller's own search; nothing else (33 bytes)."""
    import base64

    from ekakte.search.paging import Position, read_cursor, search_check

    result = search(archive, READER, PAGED_WORD, limit=2)
    assert result.next is not None and len(base64.urlsafe_b64decode(result.next)) == 33
    check = search_check(READER, parse_query(PAGED_WORD), None, None)
    last = result.hits[-1]
    assert read_cursor(result.next, check) == Position(last.rank, last.document_id)


def test_a_cursor_of_another_search_or_a_forged_one_is_refused(
    archive: Archive, ranked: list[uuid.UUID]
) -> None:
    """A cursor continues the search it came from: another query, case, type or user is refused, and so
    is text that is no cursor; each with a one-line message that names nothing found."""
    import base64

    add_user(archive, ADMIN, PLAIN.name, ["caseworker"], [TEAM])
    cursor = search(archive, READER, PAGED_WORD, limit=2).next
    assert cursor is not None
    for other in (
        {"query": "Schreiben"},
        {"query": f"{PAGED_WORD} Schreiben"},
        {"case_number": CASE},
        {"document_type": "Antrag"},
        {"who": PLAIN},
    ):
        options = {"query": PAGED_WORD, "who": READER, **other}
        with pytest.raises(InvalidInput, match=r"^the cursor belongs to another search") as refused:
            search(archive, options.pop("who"), options.pop("query"), after=cursor, **options)
        assert "\n" not in str(refused.value)
    raw = base64.urlsafe_b64decode(cursor)
    nan = raw[:9] + bytes.fromhex("7ff8000000000000") + raw[17:]
    for forged in ("", "x", cursor[:-1], cursor + "A", cursor[:-1] + "+", "\x00" * 44, "ü" * 44):
        with pytest.raises(InvalidInput, match=r"^not a cursor of search results"):
            search(archive, READER, PAGED_WORD, after=forged)
    for forged_bytes in (b"\x02" + raw[1:], nan):
        with pytest.raises(InvalidInput, match=r"^not a cursor of search results"):
            search(archive, READER, PAGED_WORD, after=base64.urlsafe_b64encode(forged_bytes).decode())
    # The same query typed differently (case, spacing) is the same search.
    assert search(archive, READER, f"  {PAGED_WORD.upper()} ", limit=2, after=cursor).hits


def test_a_forged_cursor_only_chooses_where_the_callers_own_results_resume(
    archive: Archive, ranked: list[uuid.UUID]
) -> None:
    """A cursor made by hand for the caller's own search (it holds no secret) pointing at the other
    team's document, above or between the caller's ranks: the results are the caller's own ranking after
    that place, never the other team's document, and not a count of it."""
    from ekakte.search.paging import Position, search_check, write_cursor

    with archive.reading() as session:
        others = session.execute(
            select(Document.id).join(Case, Case.id == Document.case_id).where(Case.case_number == OTHER_CASE)
        ).scalar_one()
    check = search_check(READER, parse_query(PAGED_WORD), None, None)
    whole = search(archive, READER, PAGED_WORD, limit=200).hits
    for rank in (1e9, whole[2].rank, -1e9):
        after = write_cursor(check, Position(rank, others))
        result = search(archive, READER, PAGED_WORD, limit=200, after=after)
        expected = [h for h in whole if (-h.rank, h.document_id.hex) > (-rank, others.hex)]
        assert result.hits == expected and result.next is None
        assert others not in {h.document_id for h in result.hits}


def test_every_page_is_a_search_of_its_own_and_audited(archive: Archive, ranked: list[uuid.UUID]) -> None:
    """Each page asks the policy and writes an audit entry, saying that it continues a search; a caller
    whose account was disabled meanwhile gets no further page."""
    pages = pages_of(archive, PAGED_WORD, 3)
    assert len(pages) == 3
    with archive.reading() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "search")))
    mine = [e.reason or "" for e in entries if e.actor == READER.name][-3:]
    assert all(PAGED_WORD in reason for reason in mine)
    assert ["next results" in reason for reason in mine] == [False, True, True]
    cursor = search(archive, READER, PAGED_WORD, limit=3).next
    disable_user(archive, ADMIN, READER.name)
    with pytest.raises(NotPermitted, match="not permitted: search"):
        search(archive, READER, PAGED_WORD, limit=3, after=cursor)


def test_paging_stays_within_the_ranked_window(
    archive: Archive, ranked: list[uuid.UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When more pages match than are ranked, the next results come from the same window (the newest
    pages), each page saying so, and end where it ends."""
    import ekakte.search.ranking

    monkeypatch.setattr(ekakte.search.ranking, "RANK_WINDOW", 4)
    pages = pages_of(archive, PAGED_WORD, 3)
    assert [len(p.hits) for p in pages] == [3, 1] and all(p.window_full for p in pages)
    assert sorted(h.document_id for p in pages for h in p.hits) == sorted(_newest(archive, ranked, 4))


def _newest(archive: Archive, documents: list[uuid.UUID], n: int) -> list[uuid.UUID]:
    """The n documents of these whose page is newest (highest page id)."""
    with archive.reading() as session:
        rows = session.execute(
            select(Page.document_id).where(Page.document_id.in_(documents)).order_by(Page.id.desc()).limit(n)
        ).scalars()
        return list(rows)


@pytest.fixture
def search_cli(
    stack_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """The CLI as run by this OS user, a caseworker of TEAM with the health clearance."""
    with Archive.open(load_settings(stack_env)) as archive:
        add_user(archive, ADMIN, Actor.from_os().name, ["caseworker"], [TEAM], health_clearance=True)
    return Cli(stack_env, monkeypatch, capsys)


def test_the_cli_prints_the_cursor_and_takes_it_back(search_cli: Cli, ranked: list[uuid.UUID]) -> None:
    """`ekakte search` ends its text with the cursor when there is more, --json has it as "next" (null
    on the last page), --after continues; a cursor of another search or a bad --limit: exit 3, one line."""
    code, out, err = search_cli("search", PAGED_WORD, "--limit", "3")
    lines = out.splitlines()
    assert (code, err) == (0, "") and lines[-1].startswith("more results: --after ")
    cursor = lines[-1].split()[-1]
    assert [line.split()[3] for line in lines[:-1:2]] == [str(d) for d in ranked[:3]]

    code, out, _ = search_cli("search", PAGED_WORD, "--limit", "3", "--json")
    page = json.loads(out)
    assert code == 0 and page["next"] == cursor
    found, cursors = [r["document_id"] for r in page["results"]], [cursor]
    while page["next"] is not None and len(cursors) < 10:
        code, out, _ = search_cli("search", PAGED_WORD, "--limit", "3", "--after", page["next"], "--json")
        page = json.loads(out)
        found += [r["document_id"] for r in page["results"]]
        cursors.append(page["next"])
    assert found == [str(d) for d in ranked] and cursors[-1] is None
    assert set(page) == {"query", "results", "window_full", "ignored", "next"}

    code, out, _ = search_cli("search", PAGED_WORD, "--limit", "3", "--after", cursors[-2])
    assert code == 0 and len(out.splitlines()) == 2 and "more results" not in out  # the last one

    code, out, err = search_cli("search", "Schreiben", "--after", cursor)
    assert (code, out) == (ExitCode.INVALID_INPUT, "")
    assert (
        err == "ekakte: the cursor belongs to another search: continue with the same query, case and type\n"
    )
    code, out, err = search_cli("search", PAGED_WORD, "--after", "nonsense")
    assert code == ExitCode.INVALID_INPUT and err.startswith("ekakte: not a cursor of search results")
    code, out, err = search_cli("search", PAGED_WORD, "--limit", "0")
    assert (code, err) == (ExitCode.INVALID_INPUT, "ekakte: --limit must be between 1 and 200\n")
