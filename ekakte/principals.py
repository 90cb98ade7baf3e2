"""Users (principals), their roles, teams and clearance; teams; assigning cases to teams."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from ekakte import audit, paging, passwords
from ekakte.access import About, Action, Decision, decided
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.audit import append
from ekakte.db.dialect import insert_or_ignore, serialize_writers
from ekakte.db.models import Case, Principal, PrincipalRole, Team, TeamMember, WebSession
from ekakte.errors import InvalidInput, NotFound
from ekakte.facts import BOOTSTRAP, fact, remember
from ekakte.jsonable import AsJson
from ekakte.paging import Page, check_limit
from ekakte.roles import Role

T = TypeVar("T")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,99}")


@dataclass(frozen=True)
class UserInfo(AsJson):
    name: str
    roles: list[str]
    teams: list[str]
    health_clearance: bool
    disabled: bool


def _check_name(kind: str, name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidInput(f"invalid {kind} name {name!r}: letters, digits, _ . @ - (up to 100, no spaces)")
    return name


def _roles(roles: list[str]) -> list[str]:
    known = {str(r) for r in Role}
    unknown = [r for r in roles if r not in known]
    if unknown:
        raise InvalidInput(f"unknown role(s) {', '.join(unknown)}: expected {', '.join(sorted(known))}")
    return roles


def _team_ids(session: Session, names: list[str]) -> list[int]:
    ids = []
    for name in names:
        team_id = session.scalar(select(Team.id).where(Team.name == name))
        if team_id is None:
            raise NotFound(f"no team {name!r}", code="no-team", field="teams")
        ids.append(team_id)
    return ids


def _manage(
    archive: Archive, actor: Actor, what: str, work: Callable[[Session], T], *, reads_only: bool = False
) -> T:
    """`work` in the transaction that decides (USER_MANAGE) and audits it."""
    about = About(detail=what)
    return decided(
        archive, actor, Action.USER_MANAGE, what, lambda s, _d: work(s), about=about, reads_only=reads_only
    )


def add_team(archive: Archive, actor: Actor, name: str) -> None:
    _check_name("team", name)

    def work(session: Session) -> None:
        if session.scalar(select(Team.id).where(Team.name == name)) is not None:
            raise InvalidInput(f"team {name!r} exists already")
        session.add(Team(name=name, created_at=datetime.now(UTC)))

    _manage(archive, actor, f"add team {name}", work)


def list_teams(archive: Archive, actor: Actor) -> list[str]:
    def read(session: Session) -> list[str]:
        return list(session.scalars(select(Team.name).order_by(Team.name)))

    return _manage(archive, actor, "list teams", read, reads_only=True)


def add_user(
    archive: Archive,
    actor: Actor,
    name: str,
    roles: list[str],
    teams: list[str] = (),  # type: ignore[assignment]
    health_clearance: bool = False,
) -> UserInfo:
    _check_name("user", name)
    _roles(roles)
    if not roles:
        raise InvalidInput("give the user at least one role", field="roles")

    def work(session: Session) -> UserInfo:
        if session.scalar(select(Principal.id).where(Principal.name == name)) is not None:
            raise InvalidInput(f"user {name!r} exists already", code="user-exists", field="name")
        principal = Principal(
            name=name, health_clearance=health_clearance, disabled=False, created_at=datetime.now(UTC)
        )
        session.add(principal)
        session.flush()
        _grant(session, principal.id, roles, _team_ids(session, list(teams)))
        return _info(session, principal)

    return _manage(archive, actor, f"add user {name}", work)


def _grant(session: Session, principal_id: int, roles: list[str], team_ids: list[int]) -> None:
    for role in roles:
        session.execute(
            insert_or_ignore(session, PrincipalRole, ["principal_id", "role"]).values(
                principal_id=principal_id, role=role
            )
        )
    for team_id in team_ids:
        session.execute(
            insert_or_ignore(session, TeamMember, ["principal_id", "team_id"]).values(
                principal_id=principal_id, team_id=team_id
            )
        )


def _principal(session: Session, name: str) -> Principal:
    principal = session.scalar(select(Principal).where(Principal.name == name))
    if principal is None:
        raise NotFound(f"no user {name!r}")
    return principal


def grant(
    archive: Archive,
    actor: Actor,
    name: str,
    roles: list[str] = (),  # type: ignore[assignment]
    teams: list[str] = (),  # type: ignore[assignment]
    health_clearance: bool | None = None,
) -> UserInfo:
    """Add roles and teams to a user; set or withdraw the health clearance."""
    _roles(list(roles))

    def work(session: Session) -> UserInfo:
        principal = _principal(session, name)
        _grant(session, principal.id, list(roles), _team_ids(session, list(teams)))
        if health_clearance is not None:
            principal.health_clearance = health_clearance
        return _info(session, principal)

    return _manage(archive, actor, f"grant to user {name}", work)


def revoke(
    archive: Archive,
    actor: Actor,
    name: str,
    roles: list[str] = (),  # type: ignore[assignment]
    teams: list[str] = (),  # type: ignore[assignment]
) -> UserInfo:
    _roles(list(roles))

    def work(session: Session) -> UserInfo:
        principal = _principal(session, name)
        if Role.ADMIN.value in roles and not principal.disabled:
            _keep_an_admin(session, principal, f"revoke admin from {name}")
        if roles:
            session.execute(
                delete(PrincipalRole).where(
                    PrincipalRole.principal_id == principal.id, PrincipalRole.role.in_(roles)
                )
            )
        team_ids = _team_ids(session, list(teams))
        if team_ids:
            session.execute(
                delete(TeamMember).where(
                    TeamMember.principal_id == principal.id, TeamMember.team_id.in_(team_ids)
                )
            )
        return _info(session, principal)

    return _manage(archive, actor, f"revoke from user {name}", work)


def disable_user(archive: Archive, actor: Actor, name: str) -> None:
    def work(session: Session) -> None:
        principal = _principal(session, name)
        if Role.ADMIN.value in _info(session, principal).roles:
            _keep_an_admin(session, principal, f"disable {name}")
        principal.disabled = True

    _manage(archive, actor, f"disable user {name}", work)


def set_password(archive: Archive, actor: Actor, name: str, password: str | None) -> None:
    """Set (or with None remove) a user's local password, for signing in to the service without the
    identity provider: the embedded archive's users, a break-glass admin. Stored as argon2id only; the
    user's sessions end (whoever held the old password is signed out)."""
    new = passwords.hashed(passwords.check_new(password)) if password is not None else None

    def work(session: Session) -> None:
        principal = _principal(session, name)
        principal.password_hash = new
        principal.password_set_at = datetime.now(UTC) if new else None
        session.execute(delete(WebSession).where(WebSession.principal == name))

    _manage(archive, actor, f"{'set' if new else 'remove'} the password of {name}", work)


def list_users(
    archive: Archive, actor: Actor, *, limit: int | None = None, after: str | None = None
) -> Page[UserInfo]:
    """Users by name; `limit` a page, `after` the cursor of the one before."""
    check_limit(limit)
    last = paging.decode("users", after, [str])[0] if after else None

    def work(session: Session) -> Page[UserInfo]:
        stmt = select(Principal).order_by(Principal.name)
        if last is not None:
            stmt = stmt.where(Principal.name > last)
        if limit is not None:
            stmt = stmt.limit(limit + 1)
        users = [_info(session, p) for p in session.scalars(stmt)]
        return paging.cut("users", users, limit, lambda u: [u.name])

    return _manage(archive, actor, "list users", work, reads_only=True)


def _info(session: Session, principal: Principal) -> UserInfo:
    roles = sorted(
        session.scalars(select(PrincipalRole.role).where(PrincipalRole.principal_id == principal.id))
    )
    teams = sorted(
        session.scalars(
            select(Team.name)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .where(TeamMember.principal_id == principal.id)
        )
    )
    return UserInfo(principal.name, roles, teams, principal.health_clearance, principal.disabled)


def bootstrap_admin(archive: Archive, actor: Actor, name: str | None = None) -> bool:
    """Make `name` (by default the caller) the archive's first admin, once in the archive's life: only
    while it has no principals and no earlier bootstrap is recorded (`ekakte init`); True if it did.

    Never touches an existing principal: a disabled user stays disabled, a revoked admin stays revoked.
    After the first admin, only admins make admins (and the last one cannot be removed, see
    `_keep_an_admin`), so an archive whose admins are gone by other means is mended by whoever holds
    the database, not by whoever can run `init`.
    """
    name = _check_name("user", name or actor.name)
    with archive.transaction() as session:
        serialize_writers(session, audit.AUDIT_LOCK)  # two concurrent inits: one makes the admin
        if fact(session, BOOTSTRAP) is not None or session.scalar(select(exists().where(Principal.id > 0))):
            return False
        principal = Principal(name=name, health_clearance=False, disabled=False, created_at=datetime.now(UTC))
        session.add(principal)
        session.flush()
        _grant(session, principal.id, [Role.ADMIN.value], [])
        remember(session, BOOTSTRAP, name)
        append(session, actor, "user.bootstrap", "allowed", reason=f"{name} made the first admin by init")
    return True


def _keep_an_admin(session: Session, principal: Principal, what: str) -> None:
    """InvalidInput if `principal` is the last enabled admin: an archive without one can only be mended
    by a new bootstrap, which is exactly what must never happen twice."""
    others = session.scalar(
        select(exists().where(
            PrincipalRole.role == Role.ADMIN.value,
            PrincipalRole.principal_id == Principal.id,
            Principal.id != principal.id,
            Principal.disabled.is_(False),
        ))
    )  # fmt: skip
    if not others:
        raise InvalidInput(
            f"cannot {what}: {principal.name} is the archive's last admin; make another user admin first"
        )


def assign_case(archive: Archive, actor: Actor, case_number: str, team: str) -> None:
    """Make `team` responsible for a case (creating the case if the archive has not seen it yet)."""
    number = archive.settings.case_number(case_number)
    target: int | None = None
    found: Any = None

    def about(session: Session) -> About:
        nonlocal target, found
        target = session.scalar(select(Team.id).where(Team.name == team))
        # The decision's columns only: nothing is built from a case the caller may not assign.
        found = session.execute(select(Case.id, Case.team_id).where(Case.case_number == number)).first()
        return About(case_number=number, case_team_id=found.team_id if found else None, target_team_id=target)

    def assign(session: Session, _decision: Decision) -> None:
        if target is None:
            raise NotFound(f"no team {team!r}", code="no-team", field="team")
        if found is None:
            now = datetime.now(UTC)
            session.add(Case(case_number=number, opened_on=now.date(), created_at=now, team_id=target))
        else:
            session.execute(update(Case).where(Case.id == found.id).values(team_id=target))

    decided(archive, actor, Action.CASE_ASSIGN, f"assign case {number}", assign, about=about)
