"""Real services for the tests: a PostgreSQL database of the run's own and S3 servers on loopback."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def unavailable(reason: str) -> None:
    """Skip visibly on a developer's machine; under CI a missing service is a failure."""
    if IN_CI:
        pytest.fail(f"required test service unavailable under CI: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_database() -> Iterator[str]:
    """CREATE a database for this test run, yield its URL, DROP it afterwards."""
    from ekakte.config import normalize_database_url

    admin_url = normalize_database_url(os.environ.get("EKAKTE_TEST_DATABASE_URL", DEFAULT_PG_URL))
    name = f"ekakte_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        unavailable(f"no PostgreSQL at {make_url(admin_url).render_as_string(hide_password=True)}: {exc}")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class OwnerAndApp:
    """A database owned by `owner` (who runs the migrations) and `app`, a role that owns nothing."""

    owner: str
    app: str
    owner_url: str
    app_url: str


@contextmanager
def postgres_owner_and_app() -> Iterator[OwnerAndApp]:
    """Two new login roles and a database owned by the first; all dropped afterwards (roles belong to the
    whole cluster, so their names are the run's own)."""
    from ekakte.config import normalize_database_url

    admin_url = normalize_database_url(os.environ.get("EKAKTE_TEST_DATABASE_URL", DEFAULT_PG_URL))
    tag = f"{os.getpid()}_{uuid.uuid4().hex[:8]}"
    owner, app, name = f"ekakte_owner_{tag}", f"ekakte_app_{tag}", f"ekakte_roles_{tag}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE ROLE {owner} LOGIN; CREATE ROLE {app} LOGIN"))
            conn.execute(text(f'CREATE DATABASE "{name}" OWNER {owner}'))
    except Exception as exc:
        admin.dispose()
        unavailable(f"cannot create roles and a database in PostgreSQL: {exc}")
    url = make_url(admin_url).set(database=name, password=None)
    try:
        yield OwnerAndApp(
            owner,
            app,
            url.set(username=owner).render_as_string(hide_password=False),
            url.set(username=app).render_as_string(hide_password=False),
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f"DROP ROLE IF EXISTS {app}; DROP ROLE IF EXISTS {owner}"))
        admin.dispose()


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # http://host:port
    access_key: str
    secret_key: str

    def client(self):  # type: ignore[no-untyped-def]
        from minio import Minio

        host = self.endpoint.split("://", 1)[1]
        return Minio(host, self.access_key, self.secret_key, secure=self.endpoint.startswith("https"))


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """A real MinIO when EKAKTE_TEST_S3_* are set, else moto's S3 server on a free loopback port."""
    endpoint = os.environ.get("EKAKTE_TEST_S3_ENDPOINT")
    if endpoint:
        yield S3Server(
            endpoint if "://" in endpoint else f"http://{endpoint}",
            os.environ["EKAKTE_TEST_S3_ACCESS_KEY"],
            os.environ["EKAKTE_TEST_S3_SECRET_KEY"],
        )
        return
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        unavailable(f"moto[server] is not installed: {exc}")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"http://127.0.0.1:{port}", "ekakte-test", "ekakte-test-secret")
    finally:
        server.stop()


def load_script(name: str) -> ModuleType:
    """A module of scripts/ (which is not a package), loaded by its path."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@contextmanager
def rgw_server() -> Iterator[S3Server]:
    """A real S3 server with Object Lock: Ceph's RadosGW on a one-node cluster of this run's own
    (scripts/ceph_rgw.py), stopped and removed afterwards."""
    ceph = load_script("ceph_rgw")
    missing = ceph.missing_programs()
    if missing:
        unavailable(f"RadosGW is not installed ({', '.join(missing)}): run scripts/ensure-rgw.sh as root")
    directory = Path(tempfile.mkdtemp(prefix="ekakte-rgw-"))
    cluster = ceph.Cluster(directory)
    try:
        for attempt in (1, 2):  # a free port picked may be taken by another process before a daemon binds it
            try:
                endpoint = cluster.start()
                break
            except RuntimeError as exc:
                if attempt == 2:
                    unavailable(f"RadosGW did not start: {exc}")
        yield S3Server(endpoint.endpoint, endpoint.access_key, endpoint.secret_key)
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)
