"""The schema belongs to the Alembic scripts; commands refuse a missing or outdated one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, select, text

from ekakte.archive import Archive
from ekakte.config import Settings, load_settings
from ekakte.db.models import Base
from ekakte.db.schema import HEAD, REVISIONS, include_in_autogenerate
from ekakte.errors import SchemaError
from ekakte.setup import initialize

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def archive_at(
    revision: str, stack_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[Settings, Connection]]:
    """A new archive of the stack (on PostgreSQL the run's database started over) migrated only to
    `revision`, and a connection in a transaction on it, to fill it as an archive of that age was."""
    from importlib.resources import files

    from alembic import command

    from ekakte.db.session import make_engine

    settings = load_settings({**stack_env, "EKAKTE_HOME": str(tmp_path / "old")})
    if settings.database_url.startswith("postgresql"):
        engine = create_engine(settings.database_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    engine = make_engine(settings.database_url, create=True)
    cfg = Config()
    cfg.set_main_option("script_location", str(files("ekakte.migrations")))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            yield settings, conn
    finally:
        engine.dispose()


def test_the_revision_list_matches_the_migration_scripts() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    scripts = ScriptDirectory.from_config(cfg)
    chain = [rev.revision for rev in reversed(list(scripts.walk_revisions()))]
    assert tuple(chain) == REVISIONS
    assert scripts.get_current_head() == HEAD


# SQLite's reflection cannot read the OCR queue's expression index (schema.QUEUE_OBJECTS), and says so.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_the_migrations_produce_exactly_the_models(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        opts = {"compare_type": True, "include_object": include_in_autogenerate}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)
    engine.dispose()
    assert diff == []


def test_on_postgresql_a_page_row_keeps_its_tsvector_and_the_indexes_are_the_searchs(
    settings: Settings,
) -> None:
    """Migration 0006: a page's text leaves the row before its tsvector does, and the search's scope
    check can read documents and cases from indexes alone (see its docstring for the figures)."""
    engine = create_engine(settings.database_url)
    if engine.dialect.name != "postgresql":
        engine.dispose()
        pytest.skip("PostgreSQL's row layout; SQLite's FTS5 index lives apart from the rows")
    with engine.connect() as conn:
        storage = dict(
            conn.execute(
                text(
                    "SELECT attname, attstorage FROM pg_attribute"
                    " WHERE attrelid = 'pages'::regclass AND attname IN ('text', 'tsv')"
                )
            ).all()
        )
        indexes = dict(
            conn.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes"
                    " WHERE indexname IN ('ix_documents_search_scope', 'ix_cases_search_scope',"
                    " 'ix_pages_team_tsv', 'ix_pages_team_word_pairs')"
                )
            ).all()
        )
    engine.dispose()
    assert storage == {"text": "e", "tsv": "m"}  # EXTERNAL, MAIN
    # Migration 0009: with the restricted flag, which the scope check reads.
    assert "(id) INCLUDE (case_id, state, document_type, restricted)" in indexes["ix_documents_search_scope"]
    assert "(id) INCLUDE (team_id, case_number)" in indexes["ix_cases_search_scope"]
    # Migration 0007: the text indexes are per team.
    assert "USING gin (team_id, tsv)" in indexes["ix_pages_team_tsv"]
    assert "USING gin (team_id, ekakte_word_pairs(tsv))" in indexes["ix_pages_team_word_pairs"]


def test_init_is_idempotent(settings: Settings) -> None:
    report = initialize(settings)
    assert report.revision_before == report.revision_after == HEAD


def test_init_makes_a_private_home_and_a_private_protocol_key(tmp_path: Path) -> None:
    settings = load_settings({"EKAKTE_HOME": str(tmp_path / "new-home")})
    initialize(settings)
    assert (settings.home.stat().st_mode & 0o777) == 0o700
    key = settings.home / "protocol.key"
    assert (key.stat().st_mode & 0o777) == 0o600 and len(key.read_text().strip()) == 64


def test_an_archive_that_was_never_initialised_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="no archive database"):
        Archive.open(load_settings({"EKAKTE_HOME": str(tmp_path / "nowhere")}))
    assert not (tmp_path / "nowhere").exists()  # and nothing was conjured up by trying


def test_an_outdated_schema_names_the_command_that_fixes_it(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(SchemaError, match="does not know"):
        Archive.open(settings)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM alembic_version"))
    with pytest.raises(SchemaError, match="no ekakte schema"):
        Archive.open(settings)
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO alembic_version (version_num) VALUES ('{HEAD}')"))
    engine.dispose()
    Archive.open(settings).close()


def test_upgrading_an_archive_from_0002_keeps_its_pages_and_indexes_their_text(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    """An archive made before OCR existed (revision 0002) with pending pages: 0003 keeps every page
    and its text reaches the new search index."""
    from datetime import UTC, date, datetime

    from sqlalchemy import update

    from ekakte.db.models import Page
    from ekakte.search import search
    from tests.conftest import CASE, READER, organise

    with archive_at("0002", stack_env, tmp_path) as (settings, conn):
        now = datetime.now(UTC)
        conn.execute(
            text("INSERT INTO cases (case_number, opened_on, created_at) VALUES (:n, :d, :t)"),
            {"n": CASE, "d": date(2025, 1, 1), "t": now},
        )
        doc_id = "0f0e0d0c-0b0a-4000-8000-000000000001"
        conn.execute(
            text(
                "INSERT INTO documents (id, case_id, document_type, received_on, station, operator,"
                " original_filename, media_type, size_bytes, sha256, storage_key, page_count, state,"
                " created_at) VALUES (:id, 1, 'Antrag', :d, 's', 'o', 'a.pdf', 'application/pdf', 3,"
                " :sha, 'originals/x', 2, 'stored', :t)"
            ),
            {"id": doc_id if "postgresql" in settings.database_url else doc_id.replace("-", ""),
             "d": date(2025, 1, 1), "sha": "0" * 64, "t": now},
        )  # fmt: skip
        for number in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO pages (document_id, number, ocr_state)"
                    " SELECT id, :n, 'pending' FROM documents"
                ),
                {"n": number},
            )

    initialize(settings)  # upgrades to head
    organise(settings)
    with Archive.open(settings) as archive:
        with archive.transaction() as session:
            pages = list(session.scalars(select(Page).order_by(Page.number)))
            assert [(p.number, p.ocr_state, p.attempts) for p in pages] == [
                (1, "pending", 0),
                (2, "pending", 0),
            ]
            session.execute(update(Page).where(Page.number == 2).values(text="Widerspruch", ocr_state="done"))
        hits = search(archive, READER, "Widerspruch").hits
        assert [(h.case_number, h.page) for h in hits] == [(CASE, 2)]


def test_upgrading_from_0006_gives_every_page_its_cases_team_and_indexes_it_per_team(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    """Migration 0007 copies each case's team onto its pages and rebuilds the text indexes per team: a
    page of an assigned case is found by that team's caseworker without anyone touching the case, a page
    of an unassigned case by nobody until the case is assigned."""
    from datetime import UTC, date, datetime

    from ekakte.actor import Actor
    from ekakte.principals import add_user, assign_case
    from ekakte.search import search
    from tests.conftest import ADMIN, TEAM, organise

    now = datetime.now(UTC)
    with archive_at("0006", stack_env, tmp_path) as (settings, conn):
        postgres = settings.database_url.startswith("postgresql")
        conn.execute(text("INSERT INTO teams (name, created_at) VALUES ('legacy', :t)"), {"t": now})
        legacy_id = conn.execute(text("SELECT id FROM teams")).scalar_one()
        for n, number, team in ((1, "11111BG1111111", legacy_id), (2, "22222BG2222222", None)):
            conn.execute(
                text(
                    "INSERT INTO cases (case_number, team_id, opened_on, created_at)"
                    " VALUES (:n, :team, :d, :t)"
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
                    " created_at) VALUES (:id, :case, 'Antrag', :d, 's', 'o', 'a.pdf', 'application/pdf',"
                    " 3, :sha, :key, 1, 'stored', :t)"
                ),
                {
                    "id": doc_id if postgres else doc_id.replace("-", ""),
                    "case": case_id,
                    "d": date(2025, 1, 1),
                    "sha": str(n) * 64,
                    "key": f"originals/{n}",
                    "t": now,
                },
            )
            conn.execute(
                text(
                    "INSERT INTO pages (document_id, number, text, ocr_state, attempts)"
                    " SELECT id, 1, 'Widerspruch gegen den Bescheid', 'done', 0 FROM documents"
                    " WHERE case_id = :case"
                ),
                {"case": case_id},
            )

    initialize(settings)  # upgrades to head
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        teams = conn.execute(
            text(
                "SELECT cases.case_number, pages.team_id FROM pages JOIN documents ON documents.id ="
                " pages.document_id JOIN cases ON cases.id = documents.case_id ORDER BY cases.id"
            )
        ).all()
        if not postgres:  # the rebuilt FTS5 index agrees with the pages it indexes
            conn.execute(text("INSERT INTO pages_fts(pages_fts, rank) VALUES ('integrity-check', 1)"))
    engine.dispose()
    assert [tuple(row) for row in teams] == [("11111BG1111111", legacy_id), ("22222BG2222222", None)]

    organise(settings)
    legacy = Actor("legacy-caseworker")
    with Archive.open(settings) as archive:
        add_user(archive, ADMIN, legacy.name, ["caseworker"], ["legacy"])
        assert [h.case_number for h in search(archive, legacy, "Widerspruch").hits] == ["11111BG1111111"]
        assign_case(archive, ADMIN, "22222BG2222222", "legacy")
        assert sorted(h.case_number for h in search(archive, legacy, "Widerspruch").hits) == [
            "11111BG1111111",
            "22222BG2222222",
        ]
        assign_case(archive, ADMIN, "11111BG1111111", TEAM)
        assert [h.case_number for h in search(archive, legacy, "Widerspruch").hits] == ["22222BG2222222"]


def test_upgrading_from_0012_keeps_the_trail_verifiable_and_records_the_request_from_then_on(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    """Migration 0013: entries written before it, hashed without channel, client address and request id,
    still verify, against an anchor taken before too; entries written since have them, and the guards
    against UPDATE, DELETE (and TRUNCATE) are still in place. An old entry given a channel is found."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert
    from sqlalchemy.exc import DatabaseError

    from ekakte import anchors, audit
    from ekakte.actor import Actor
    from ekakte.db.models import AuditEntry
    from ekakte.documents import case_documents
    from ekakte.principals import add_user
    from ekakte.trail import audit_entries, verify_audit_trail
    from tests.conftest import ADMIN, CASE, READER, organise

    start = datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=UTC)
    with archive_at("0012", stack_env, tmp_path) as (settings, conn):
        postgres = settings.database_url.startswith("postgresql")
        prev = audit.GENESIS
        for n in range(3):  # as 0012's ekakte appended them: eight fields hashed
            fields = {
                "at": start + timedelta(seconds=n), "actor": "lena", "on_behalf_of": None,
                "action": "case.show", "outcome": "allowed", "case_number": CASE, "document_id": None,
                "reason": f"own team {n}",
            }  # fmt: skip
            digest = audit.entry_hash(prev, {**fields, "at": audit._canonical_time(fields["at"])})
            conn.execute(insert(AuditEntry.__table__), {**fields, "prev_hash": prev, "hash": digest})
            prev = digest
    old_head = prev

    initialize(settings)  # upgrades to head: its own entries are the first with a channel
    organise(settings)
    with Archive.open(settings) as archive:
        # An anchor the old ekakte took of its three entries.
        anchors.write_anchor(archive, audit.Anchor(start + timedelta(minutes=1), 3, old_head, 3))
        add_user(archive, ADMIN, "auditor", ["auditor"])
        auditor = Actor("auditor")
        case_documents(archive, Actor(READER.name, channel="web", client_address="10.0.0.9"), CASE)
        report = verify_audit_trail(archive, auditor)
        assert report.ok and report.anchor is not None, report.problem
        listed = audit_entries(archive, auditor)
        old = [(e.id, e.channel, e.client_address, e.request_id) for e in listed if e.actor == "lena"]
        assert old == [(3, None, None, None), (2, None, None, None), (1, None, None, None)]
        assert {e.channel for e in listed if e.actor != "lena"} == {"cli", "web"}
        assert [e.client_address for e in listed if e.channel == "web"] == ["10.0.0.9"]

    engine = create_engine(settings.database_url)
    try:
        guards = ["UPDATE audit_log SET channel = 'api'", "DELETE FROM audit_log"]
        for statement in [*guards, "TRUNCATE audit_log"] if postgres else guards:
            with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
        # Past the guards, as the database's owner can: the second old entry takes on a channel.
        with engine.begin() as conn:
            if postgres:
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            else:
                conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("UPDATE audit_log SET channel = 'cli' WHERE id = 2"))
    finally:
        engine.dispose()
    with Archive.open(settings) as archive:
        report = verify_audit_trail(archive, Actor("auditor"))
    assert (report.problem, report.bad_entry) == ("entry 2 was changed after it was written", 2)
