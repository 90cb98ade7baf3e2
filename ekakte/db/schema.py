"""Which schema revision this code needs, and the check every command except init/upgrade runs."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

from ekakte.errors import SchemaError

# Every Alembic revision in migrations/versions, oldest first. A test keeps this in step with the scripts;
# reading them at run time would cost every CLI start the import of Alembic.
REVISIONS: tuple[str, ...] = (
    "0001",
    "0002",
    "0003",
    "0004",
    "0005",
    "0006",
    "0007",
    "0008",
    "0009",
    "0010",
    "0011",
    "0012",
    "0013",
    "0014",
    "0015",
    "0016",
    "0017",
    "0018",
    "0019",
)
HEAD = REVISIONS[-1]


def current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def check_schema(conn: Connection) -> None:
    revision = current_revision(conn)
    if revision is None:
        raise SchemaError("the database has no ekakte schema", code="no-schema")
    if revision == HEAD:
        return
    if revision in REVISIONS:
        raise SchemaError(
            f"the database schema is at revision {revision}, not {HEAD}", code="schema-outdated"
        )
    raise SchemaError(
        f"the database schema is at revision {revision}, which this ekakte does not know:"
        " it was upgraded by a newer ekakte; install that version"
    )


# The search's own objects are made by migrations 0003 and 0005-0007 in each dialect's own terms and are
# not in the models: SQLite's FTS5 table (and its shadow tables); PostgreSQL's generated tsvector column,
# its index and the index of neighbouring word pairs (both per team), and the covering indexes of the
# search's scope check.
SEARCH_OBJECTS = frozenset(
    {
        "tsv",
        "ix_pages_team_tsv",
        "ix_pages_team_word_pairs",
        "ix_documents_search_scope",
        "ix_cases_search_scope",
    }
)


# The OCR queue's index in claim order (migration 0012) is over an expression, which SQLAlchemy cannot
# reflect on SQLite; a test checks that each dialect's claim reads it (test_ocr_queue.py).
QUEUE_OBJECTS = frozenset({"ix_pages_pending_turns"})


def include_in_autogenerate(_obj: object, name: str | None, type_: str, *_args: object) -> bool:
    """Alembic's include_object hook: leave the search's own objects out of comparisons with the models."""
    if name is None:
        return True
    if type_ == "table" and name.startswith("pages_fts"):
        return False
    return name not in SEARCH_OBJECTS | QUEUE_OBJECTS
