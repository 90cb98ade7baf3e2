"""Setting an archive up: `ekakte init` (home, schema, bucket, protocol key, first admin) and `db upgrade`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import make_url

from ekakte import audit
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import Settings
from ekakte.db.schema import HEAD, current_revision
from ekakte.db.session import READ_ONLY, database_errors, make_engine
from ekakte.errors import EkakteError
from ekakte.principals import bootstrap_admin
from ekakte.private import archive_folders, make_database_private, make_private
from ekakte.retention.protocol import archive_protocol_key, ensure_protocol_key
from ekakte.scanning.seals import ensure_seal_key
from ekakte.storage import open_store


@dataclass(frozen=True)
class SetupReport:
    database: str
    storage: str
    revision_before: str | None
    revision_after: str | None
    admin_created: str | None = None
    # What `init` made private that was not (e.g. "home /srv/ekakte: mode 0755 -> 0700").
    tightened: tuple[str, ...] = ()


def initialize(
    settings: Settings, caller: Actor | None = None, *, first_admin: str | None = None
) -> SetupReport:
    """Create the home folder, the database schema (or bring it up to date) and the object store;
    make `first_admin` the first admin if the archive never had one (see principals.bootstrap_admin).
    Audited as `archive.init` by `caller` (by default the OS login)."""
    caller = caller or Actor.from_os()
    # Social data and the protocol key live here: readable by the archive's own account only.
    tightened = [change for folder in archive_folders(settings) for change in make_private(folder)]
    ensure_protocol_key(settings)
    ensure_seal_key(settings)
    report = _upgrade(settings, create=True)
    tightened += make_database_private(settings.database_url)
    store = open_store(settings)
    store.prepare()
    created = None
    with Archive.open(settings) as archive:
        archive_protocol_key(archive)  # the first init records the key's fingerprint; others must match
        if first_admin is not None:
            created = first_admin if bootstrap_admin(archive, caller, first_admin) else None
        _audit_setup(archive, caller, "archive.init", report)
    return SetupReport(
        report.database,
        store.description,
        report.revision_before,
        report.revision_after,
        created,
        tuple(tightened),
    )


def upgrade_database(settings: Settings, caller: Actor | None = None) -> SetupReport:
    """Apply the migrations; audited as `db.upgrade` by `caller` (by default the OS login)."""
    report = _upgrade(settings)
    with Archive.open(settings) as archive:
        _audit_setup(archive, caller or Actor.from_os(), "db.upgrade", report)
    return report


def _audit_setup(archive: Archive, caller: Actor, action: str, report: SetupReport) -> None:
    before = report.revision_before or "empty"
    what = "up to date" if before == report.revision_after else f"upgraded from {before}"
    with archive.transaction() as session:
        audit.append(session, caller, action, "allowed", reason=f"schema {report.revision_after} ({what})")


def _upgrade(settings: Settings, *, create: bool = False) -> SetupReport:
    from sqlalchemy.engine import make_url

    from ekakte.db.migrate import upgrade

    engine = make_engine(settings.database_url, create=create)
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    return SetupReport(shown, settings.storage, before, after)


@dataclass(frozen=True)
class SchemaStatus:
    database: str  # the URL, password masked
    revision: str | None  # None: no schema yet
    needed: str  # the revision this ekakte needs

    @property
    def current(self) -> bool:
        return self.revision == self.needed


def database_status(settings: Settings) -> SchemaStatus:
    """The database's schema revision beside the one this ekakte needs; reads only, changes nothing."""
    engine = make_engine(settings.database_url)
    try:
        with (
            database_errors(settings.database_url),
            engine.execution_options(**{READ_ONLY: True}).connect() as conn,
        ):
            revision = current_revision(conn)
    finally:
        engine.dispose()
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    return SchemaStatus(shown, revision, HEAD)


def unreachable(archive: Archive) -> list[str]:
    """What of the archive cannot be reached now ("database", "object store"); empty when both answer.
    For a service's readiness check: no actor, nothing audited, nothing of the archive's content read."""
    failed = []
    try:
        with archive.reading() as session:
            session.execute(text("SELECT 1"))
    except EkakteError:
        failed.append("database")
    try:
        archive.store.stat(READINESS_PROBE)
    except EkakteError:
        failed.append("object store")
    return failed


READINESS_PROBE = "ekakte-readiness-probe"  # never written: asking for it shows the store answers
