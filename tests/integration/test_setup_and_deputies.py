"""Attacks on the archive's set-up and on acting for others (issue 15, items 3, 5, 6, 8 and its "also"):
bootstrap once, the last admin stays, a deputy only for content roles, nothing written into the archive's
own folders, the embedded archive private to its account, team leads within their teams, one protocol key."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import Settings, load_settings
from ekakte.db.models import AuditEntry, Case, Principal, PrincipalRole
from ekakte.documents import case_documents, export_original
from ekakte.errors import ConfigError, ExitCode, InvalidInput, NotPermitted
from ekakte.ingest import DocumentMeta, import_document
from ekakte.principals import add_team, add_user, assign_case, disable_user, list_users, revoke
from ekakte.retention.protocol import protocol
from ekakte.retention.sweep import sweep
from ekakte.setup import initialize, upgrade_database
from ekakte.trail import verify_audit_trail
from tests.conftest import ADMIN, CASE, OPERATOR, OTHER_CASE, OTHER_TEAM, READER, TEAM, embedded_env

MakeScan = Callable[..., Path]
SERVICE = Actor("benefits-app")
UNASSIGNED_CASE = "11111BG1111111"


def entries(archive: Archive, action: str) -> list[AuditEntry]:
    with archive.reading() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def roles_of(archive: Archive, name: str) -> tuple[list[str], bool] | None:
    """A user's roles and whether it is disabled, read as the database holds them."""
    with archive.reading() as session:
        principal = session.execute(
            select(Principal.id, Principal.disabled).where(Principal.name == name)
        ).first()
        if principal is None:
            return None
        roles = session.scalars(select(PrincipalRole.role).where(PrincipalRole.principal_id == principal.id))
        return sorted(roles), principal.disabled


# --- item 3: the first admin, once --------------------------------------------------------------------


def test_the_last_admin_can_neither_revoke_its_role_nor_be_disabled(archive: Archive) -> None:
    with pytest.raises(InvalidInput, match="last admin"):
        revoke(archive, ADMIN, ADMIN.name, ["admin"])
    with pytest.raises(InvalidInput, match="last admin"):
        disable_user(archive, ADMIN, ADMIN.name)
    add_user(archive, ADMIN, "second-admin", ["admin"])
    revoke(archive, ADMIN, ADMIN.name, ["admin"])  # another admin is left: fine
    assert roles_of(archive, ADMIN.name) == ([], False)


def test_init_makes_nobody_admin_in_an_archive_that_had_its_first_admin(
    settings: Settings, archive: Archive
) -> None:
    """A caseworker who can run `init` (or names itself with --admin) gains nothing, also once no admin
    role row is left (deleted by hand here, as a database holder could): bootstrap happens once in an
    archive's life, and never re-enables anyone."""
    add_user(archive, ADMIN, "mallory", ["caseworker"], [TEAM])
    disable_user(archive, ADMIN, READER.name)
    with archive.transaction() as session:
        session.execute(text("DELETE FROM principal_roles WHERE role = 'admin'"))

    for caller, name in ((Actor("mallory"), "mallory"), (READER, READER.name), (Actor("eve"), "eve")):
        report = initialize(settings, caller, first_admin=name)
        assert report.admin_created is None
    assert roles_of(archive, "mallory") == (["caseworker"], False)
    assert roles_of(archive, READER.name) == (["caseworker"], True)  # still disabled
    assert roles_of(archive, "eve") is None
    assert len(entries(archive, "user.bootstrap")) == 1  # organise()'s, none since


def test_init_and_db_upgrade_are_audited(settings: Settings, archive: Archive) -> None:
    initialize(settings, Actor("ops"))
    upgrade_database(settings, Actor("ops"))
    (init,) = entries(archive, "archive.init")[-1:]
    (upgrade,) = entries(archive, "db.upgrade")
    assert (init.actor, init.outcome) == ("ops", "allowed")
    assert upgrade.actor == "ops" and "up to date" in (upgrade.reason or "")
    add_user(archive, ADMIN, "auditor", ["auditor"])
    assert verify_audit_trail(archive, Actor("auditor")).ok


def test_init_admin_names_the_first_admin_once(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "home")
    first = _run_cli(env, "init", "--admin", "lena")
    assert first.returncode == 0, first.stderr
    assert "lena is the archive's first admin" in first.stdout
    again = _run_cli(env, "init", "--admin", "mallory")
    assert again.returncode == 0 and "nobody was made admin" in again.stdout
    with Archive.open(load_settings(env)) as archive:
        names = {u.name: u.roles for u in list_users(archive, Actor("lena"))}
    assert names == {"lena": ["admin"]}


# --- item 5: acting for someone -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "auditor", "records_manager", "service"])
def test_a_service_cannot_act_for_users_with_more_than_content_roles(archive: Archive, role: str) -> None:
    add_user(archive, ADMIN, SERVICE.name, ["service"])
    add_user(archive, ADMIN, "boss", [role])
    deputy = Actor(SERVICE.name, on_behalf_of="boss")
    with pytest.raises(NotPermitted):
        list_users(archive, deputy)
    with pytest.raises(NotPermitted):
        add_user(archive, deputy, "planted", ["caseworker"], [TEAM], health_clearance=True)
    assert roles_of(archive, "planted") is None
    with archive.reading() as session:
        reason = session.scalar(
            select(AuditEntry.reason).where(AuditEntry.on_behalf_of == "boss").order_by(AuditEntry.id.desc())
        )
    assert "only for caseworkers, team leads and scan operators" in (reason or "")


def test_a_service_still_acts_for_a_caseworker(archive: Archive, make_scan: MakeScan) -> None:
    add_user(archive, ADMIN, SERVICE.name, ["service"])
    import_document(archive, OPERATOR, make_scan(), DocumentMeta(CASE, "Antrag", date(2026, 1, 2)))
    listing = case_documents(archive, Actor(SERVICE.name, on_behalf_of=READER.name), CASE)
    assert len(listing.documents) == 1


def test_doc_get_never_writes_into_the_archives_own_folders(
    settings: Settings, archive: Archive, tmp_path: Path
) -> None:
    """Not over the embedded database, nor over the protocol key (every stack has one in its home), nor
    through a link that leads into the home."""
    doc = import_document(archive, OPERATOR, _scan(settings), DocumentMeta(CASE, "Antrag", date(2026, 1, 2)))
    key = settings.home / "protocol.key"
    targets = [key, tmp_path / "looks-harmless" / key.name]
    (tmp_path / "looks-harmless").symlink_to(settings.home)
    if settings.is_embedded:
        targets.append(settings.home / "ekakte.db")
    key_before = key.read_bytes()
    for target in targets:
        with pytest.raises(InvalidInput, match="archive's own folder"):
            export_original(archive, READER, doc.document_id, target, force=True)
    assert key.read_bytes() == key_before
    assert not any(p.read_bytes().startswith(b"%PDF") for p in settings.home.iterdir() if p.is_file())
    failed = [e for e in entries(archive, "doc.get") if e.outcome == "failed"]
    assert len(failed) == len(targets) and all("not written" in (e.reason or "") for e in failed)


def test_an_export_that_could_not_be_written_says_so_in_the_trail(
    archive: Archive, settings: Settings, tmp_path: Path
) -> None:
    doc = import_document(archive, OPERATOR, _scan(settings), DocumentMeta(CASE, "Antrag", date(2026, 1, 2)))
    with pytest.raises(InvalidInput):
        export_original(archive, READER, doc.document_id, tmp_path / "no-such-folder" / "a.pdf")
    allowed, failed = entries(archive, "doc.get")[-2:]
    assert (allowed.outcome, failed.outcome) == ("allowed", "failed")
    assert "not written" in (failed.reason or "")
    out = tmp_path / "a.pdf"
    export_original(archive, READER, doc.document_id, out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


# --- item 6: the embedded archive belongs to one account -----------------------------------------------


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder every OS user may enter (pytest's tmp_path is 0700), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="ekakte-shared-"))
    folder.chmod(0o755)
    yield folder
    subprocess.run(["rm", "-rf", str(folder)], check=True)


def test_init_makes_an_existing_home_and_its_database_private(open_folder: Path) -> None:
    home = open_folder / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    env = embedded_env(home)
    report = initialize(load_settings(env))
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "ekakte.db").stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE((home / "objects").stat().st_mode) == 0o700
    assert any("0755 -> 0700" in change for change in report.tightened)
    (home / "ekakte.db").chmod(0o644)
    home.chmod(0o755)
    result = _run_cli(env, "init")
    assert result.returncode == 0, result.stderr
    assert "made private: database" in result.stdout and "made private: folder" in result.stdout
    assert stat.S_IMODE((home / "ekakte.db").stat().st_mode) == 0o600


def test_another_os_user_gets_a_clear_one_line_refusal(open_folder: Path) -> None:
    home = open_folder / "home"
    env = embedded_env(home)
    initialize(load_settings(env))
    code, err = _cli_as(65534, env, "case", "show", CASE)  # nobody
    assert code == ExitCode.CONFIG, err
    assert err.count("\n") == 1 and "permission denied" in err
    assert "Traceback" not in err and "internal error" not in err


# --- item 8: team leads assign within their teams ------------------------------------------------------


def test_team_leads_assign_only_cases_of_their_teams_and_cannot_tell_what_exists(archive: Archive) -> None:
    lead = Actor("lead")
    add_user(archive, ADMIN, lead.name, ["team_lead"], [TEAM])
    assign_case(archive, ADMIN, OTHER_CASE, OTHER_TEAM)
    with archive.transaction() as session:  # a case the mail room imported into, not yet assigned
        session.add(Case(case_number=UNASSIGNED_CASE, opened_on=date(2026, 1, 1), created_at=_now()))
    unknown = "99999BG9999999"
    answers = []
    for case in (OTHER_CASE, UNASSIGNED_CASE, unknown):
        with pytest.raises(NotPermitted) as refused:
            assign_case(archive, lead, case, TEAM)
        answers.append(str(refused.value).replace(case, "C"))
    assert len(set(answers)) == 1
    with archive.reading() as session:
        assert session.scalar(select(Case.id).where(Case.case_number == unknown)) is None
        assert session.scalar(select(Case.team_id).where(Case.case_number == UNASSIGNED_CASE)) is None
    add_team(archive, ADMIN, "team-c")
    add_user(archive, ADMIN, "lead-ac", ["team_lead"], [TEAM, "team-c"])
    assign_case(archive, Actor("lead-ac"), CASE, "team-c")  # within the lead's teams: allowed
    assign_case(archive, ADMIN, UNASSIGNED_CASE, TEAM)  # unassigned ones: the admins'


# --- also: one protocol key for the archive ------------------------------------------------------------


def test_a_host_with_another_protocol_key_is_refused(stack_env: dict[str, str]) -> None:
    first = load_settings(stack_env)  # the key init used (and recorded)
    other = load_settings({**stack_env, "EKAKTE_PROTOCOL_KEY": "b" * 64})
    records = Actor("records")
    with Archive.open(first) as archive:
        add_user(archive, ADMIN, records.name, ["records_manager"])
        sweep(archive, records, dry_run=True)  # the first use records the key's fingerprint
        protocol(archive, records, case_number=CASE)
    with Archive.open(other) as archive:
        with pytest.raises(ConfigError, match="not the archive's"):
            sweep(archive, records)
        with pytest.raises(ConfigError, match="not the archive's"):
            protocol(archive, records, case_number=CASE)


# --- helpers --------------------------------------------------------------------------------------------


def _scan(settings: Settings) -> Path:
    """A sample scan outside the archive's folders (beside the home)."""
    from tests.conftest import scans

    path = settings.home.parent / f"scan-{uuid.uuid4().hex[:8]}.pdf"
    path.write_bytes(scans.pdf_bytes([["Seite 1", uuid.uuid4().hex]], dpi=50))
    return path


def _now() -> datetime:
    return datetime.now(UTC)


def _cli_as(uid: int, env: dict[str, str], *args: str) -> tuple[int, str]:
    """The CLI in a forked child that has become OS user `uid` (this test process runs as root; the
    venv's interpreter need not be reachable by that user, so the child runs the code it has)."""
    from ekakte.cli import main

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            sys.stderr = open(write_end, "w")  # noqa: SIM115 (the child ends with os._exit)
            os.environ.clear()
            os.environ.update({"PATH": "/usr/bin:/bin", **env})
            try:
                main(list(args))
            except SystemExit as exited:
                code = int(exited.code or 0)
        finally:
            sys.stderr.flush()
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as err:
        stderr = err.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), stderr


def _run_cli(env: dict[str, str], *args: str, user: int | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EKAKTE_")}
    return subprocess.run(
        [sys.executable, "-m", "ekakte", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        user=user,
        cwd="/",
        timeout=120,
    )
