"""Fixtures: the two stacks (embedded; PostgreSQL + S3), sample scans, an acting user."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import Settings, load_settings
from ekakte.setup import initialize
from tests.browser_support import browser, page  # noqa: F401 (fixtures: Chromium driven by Playwright)
from tests.oidc_provider import oidc_provider  # noqa: F401 (a fixture: the OpenID provider on loopback)
from tests.services import S3Server, load_script, postgres_database, rgw_server, s3_server

ROOT = Path(__file__).resolve().parent.parent
CASE = "12345BG0001234"
OTHER_CASE = "54321BG7654321"
TEAM = "team-a"
OTHER_TEAM = "team-b"
# The organisation every stack starts with (see `organise`).
ADMIN = Actor("admin")
OPERATOR = Actor("scan-operator")
READER = Actor("caseworker")  # caseworker of TEAM with the health clearance


scans = load_script("sample_scans")

# One retention rule for everything: ten years after the case was closed, to the end of that year.
# Destroyed when due, under an advance release of the archive: the tests of the sweep's mechanics. The
# Aussonderung (offering to the archive first, the default) is tested in test_aussonderung.py.
TEN_YEARS_RULES = """
[[rule]]
name = "default"
types = ["*"]
keep = "10y"
trigger = "case_closed"
rounding = "end_of_year"
disposition = "destroy"
release = "Kreisarchiv, Bewertungsentscheidung 2025/17"
"""


def ekakte_process(env: dict[str, str], *args: str, **popen: object) -> subprocess.Popen[str]:
    """The real CLI as a child process (`python -m ekakte ARGS`), with `env` over this process's one."""
    return subprocess.Popen(
        [sys.executable, "-m", "ekakte", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,  # type: ignore[call-overload]
    )


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture(scope="session")
def rgw() -> Iterator[S3Server]:
    """Ceph's RadosGW: a production S3 server with Object Lock, which refuses what moto accepts."""
    with rgw_server() as server:
        yield server


def embedded_env(home: Path) -> dict[str, str]:
    return {"EKAKTE_HOME": str(home), "EKAKTE_STATION": "scan-test-1"}


def server_env(home: Path, pg_url: str, s3: S3Server, bucket: str) -> dict[str, str]:
    return {
        "EKAKTE_HOME": str(home),
        "EKAKTE_STATION": "scan-test-1",
        "EKAKTE_DATABASE_URL": pg_url,
        "EKAKTE_STORAGE": f"s3://{bucket}",
        "EKAKTE_S3_ENDPOINT": s3.endpoint,
        "EKAKTE_S3_ACCESS_KEY": s3.access_key,
        "EKAKTE_S3_SECRET_KEY": s3.secret_key,
    }


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        # audit_log refuses TRUNCATE (migration 0008) as the archive must; emptying it between tests is
        # the one exception, and only a superuser may make it: `replica` fires no ordinary triggers, for
        # this transaction only (SET LOCAL), so the guard stays in place for the test itself.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        tables = list(
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables"
                    " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            ).scalars()
        )
        if tables:  # none before the run's first init
            names = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        if "restricted_types" in tables:
            # The restricted types as migration 0009 seeds them: the archive's policy, not test data.
            conn.execute(text("INSERT INTO restricted_types VALUES ('gutachten', now(), 'migration 0009')"))
    engine.dispose()


def organise(settings: Settings) -> None:
    """Teams, users and case assignments the tests start from, made through the library as an admin would."""
    from ekakte.principals import add_team, add_user, assign_case, bootstrap_admin

    with Archive.open(settings) as archive:
        bootstrap_admin(archive, ADMIN)
        for team in (TEAM, OTHER_TEAM):
            add_team(archive, ADMIN, team)
        add_user(archive, ADMIN, OPERATOR.name, ["scan_operator"])
        add_user(archive, ADMIN, READER.name, ["caseworker"], [TEAM], health_clearance=True)
        for case in (CASE, OTHER_CASE):
            assign_case(archive, ADMIN, case, TEAM)


def fresh_server_env(
    home: Path, pg_url: str, s3: S3Server, *, bucket: str = "ekakte", **extra: str
) -> dict[str, str]:
    """An initialised, organised PostgreSQL + S3 archive: the run's database emptied, a new bucket
    (named `bucket`-…), `extra` settings beside the stack's."""
    env = {**server_env(home, pg_url, s3, f"{bucket}-{uuid.uuid4().hex[:12]}"), **extra}
    # Emptied first: init records the fingerprint of this home's new protocol key, and refuses a
    # database that knows another one (an earlier test's).
    _reset_postgres(pg_url)
    initialize(load_settings(env))
    organise(load_settings(env))
    return env


STACKS = ["embedded", pytest.param("server", marks=pytest.mark.server)]
# With a third stack: PostgreSQL + RadosGW, its bucket made by `ekakte init` with Object Lock (COMPLIANCE),
# as in production. For the modules whose behaviour depends on what the S3 server enforces; a module
# takes it by overriding `stack_env` with `params=STACKS_WITH_RGW` and `return make_stack(request, tmp_path)`.
STACKS_WITH_RGW = [*STACKS, pytest.param("rgw", marks=[pytest.mark.server, pytest.mark.rgw])]


def make_stack(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    if request.param == "server":
        return fresh_server_env(home, request.getfixturevalue("pg_url"), request.getfixturevalue("s3"))
    if request.param == "rgw":
        return fresh_server_env(
            home,
            request.getfixturevalue("pg_url"),
            request.getfixturevalue("rgw"),
            EKAKTE_S3_OBJECT_LOCK="true",
        )
    env = embedded_env(home)
    initialize(load_settings(env))
    organise(load_settings(env))
    return env


@pytest.fixture(params=STACKS)
def stack_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Environment of a freshly initialised archive: SQLite + directory, or PostgreSQL + S3."""
    return make_stack(request, tmp_path)


@pytest.fixture
def settings(stack_env: dict[str, str]) -> Settings:
    return load_settings(stack_env)


@pytest.fixture
def archive(settings: Settings) -> Iterator[Archive]:
    with Archive.open(settings) as opened:
        yield opened


@pytest.fixture
def actor() -> Actor:
    """The scanning-station operator who imports."""
    return OPERATOR


@pytest.fixture
def make_scan(tmp_path: Path) -> Callable[..., Path]:
    """Write a sample scan: make_scan("a.pdf", pages=2, seed=1); different seeds give different bytes."""
    counter = iter(range(10_000))

    def make(name: str = "", kind: str = "pdf", pages: int = 1, seed: int = 0) -> Path:
        name = name or f"scan-{next(counter)}.{kind}"
        lines = [[f"Seite {i + 1}", f"Muster {seed}"] for i in range(pages)]
        data = {
            "pdf": lambda: scans.pdf_bytes(lines, dpi=50, seed=seed),
            "tif": lambda: scans.tiff_bytes(lines, dpi=50),
            "jpg": lambda: scans.image_bytes(lines[0], "JPEG", dpi=50),
            "png": lambda: scans.image_bytes(lines[0], "PNG", dpi=50),
        }[kind]()
        path = tmp_path / "scans" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    return make
