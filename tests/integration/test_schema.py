"""The schema belongs to the Alembic scripts; commands refuse a missing or outdated one."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from ekakte.archive import Archive, initialize
from ekakte.config import Settings, load_settings
from ekakte.db.models import Base
from ekakte.db.schema import HEAD, REVISIONS, include_in_autogenerate
from ekakte.errors import SchemaError

ROOT = Path(__file__).resolve().parents[2]


def test_the_revision_list_matches_the_migration_scripts() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    scripts = ScriptDirectory.from_config(cfg)
    chain = [rev.revision for rev in reversed(list(scripts.walk_revisions()))]
    assert tuple(chain) == REVISIONS
    assert scripts.get_current_head() == HEAD


def test_the_migrations_produce_exactly_the_models(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        opts = {"compare_type": True, "include_object": include_in_autogenerate}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)
    engine.dispose()
    assert diff == []


def test_init_is_idempotent(settings: Settings) -> None:
    report = initialize(settings)
    assert report.revision_before == report.revision_after == HEAD


def test_an_archive_that_was_never_initialised_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="run `ekakte init`"):
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
