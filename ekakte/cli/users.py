"""`ekakte user …` and `ekakte team …`: principals, roles, teams, clearance (admins only)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from ekakte.api import MAX_LIMIT, Role
from ekakte.cli.base import State, emit_json, every, json_option, pass_state
from ekakte.errors import shown

if TYPE_CHECKING:
    from ekakte.api import UserInfo

ROLE = click.Choice([str(r) for r in Role])


@click.group()
def user() -> None:
    """Users: roles, teams and the health clearance. Names are OS login names."""


@user.command("add")
@click.argument("name")
@click.option("--role", "roles", type=ROLE, multiple=True, required=True, help="Role (repeatable).")
@click.option("--team", "teams", multiple=True, help="Team membership (repeatable).")
@click.option(
    "--clearance", type=click.Choice(["health"]), help="health: may see restricted types (Gutachten)."
)
@pass_state
def user_add(
    state: State, name: str, roles: tuple[str, ...], teams: tuple[str, ...], clearance: str | None
) -> None:
    """Add a user."""
    from ekakte.api import add_user

    info = add_user(state.archive, state.actor, name, list(roles), list(teams), clearance == "health")
    click.echo(f"added user {shown(info.name)}: roles {_names(info.roles)}; teams {_names(info.teams)}")


@user.command("grant")
@click.argument("name")
@click.option("--role", "roles", type=ROLE, multiple=True, help="Role to add (repeatable).")
@click.option("--team", "teams", multiple=True, help="Team to add (repeatable).")
@click.option("--clearance", type=click.Choice(["health"]), help="Give the health clearance.")
@pass_state
def user_grant(
    state: State, name: str, roles: tuple[str, ...], teams: tuple[str, ...], clearance: str | None
) -> None:
    """Give a user roles, teams or the health clearance."""
    from ekakte.api import grant

    info = grant(state.archive, state.actor, name, list(roles), list(teams), True if clearance else None)
    click.echo(_line(info))


@user.command("revoke")
@click.argument("name")
@click.option("--role", "roles", type=ROLE, multiple=True, help="Role to take away (repeatable).")
@click.option("--team", "teams", multiple=True, help="Team to take away (repeatable).")
@click.option("--clearance", type=click.Choice(["health"]), help="Withdraw the health clearance.")
@pass_state
def user_revoke(
    state: State, name: str, roles: tuple[str, ...], teams: tuple[str, ...], clearance: str | None
) -> None:
    """Take roles, teams or the health clearance away from a user."""
    from ekakte.api import grant, revoke

    info = revoke(state.archive, state.actor, name, list(roles), list(teams))
    if clearance:
        info = grant(state.archive, state.actor, name, health_clearance=False)
    click.echo(_line(info))


@user.command("disable")
@click.argument("name")
@pass_state
def user_disable(state: State, name: str) -> None:
    """Disable a user: from now on it gets nothing. Its history stays in the audit trail."""
    from ekakte.api import disable_user

    disable_user(state.archive, state.actor, name)
    click.echo(f"user {shown(name)} disabled")


@user.command("password")
@click.argument("name")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from standard input (one line).")
@click.option(
    "--remove", is_flag=True, help="Remove the local password: sign-in only at the identity provider."
)
@pass_state
def user_password(state: State, name: str, from_stdin: bool, remove: bool) -> None:
    """Set a user's local password, for signing in to `ekakte serve` without the identity provider (the
    embedded archive, a break-glass admin). Asked for twice without echo, or read from --stdin; at
    least 12 characters; kept as argon2id only. The user's sessions end."""
    from ekakte.api import set_password

    if remove:
        set_password(state.archive, state.actor, name, None)
        click.echo(f"password of {shown(name)} removed; its sessions ended")
        return
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True, err=True)
    set_password(state.archive, state.actor, name, password)
    click.echo(f"password of {shown(name)} set; its sessions ended")


@user.command("list")
@json_option
@pass_state
def user_list(state: State, as_json: bool) -> None:
    """List users with their roles, teams and clearance."""
    from ekakte.api import list_users

    users = list(every(lambda after: list_users(state.archive, state.actor, limit=MAX_LIMIT, after=after)))
    if as_json:
        emit_json([u.as_json() for u in users])
        return
    for info in users:
        click.echo(_line(info))


def _line(info: UserInfo) -> str:
    flags = (" health" if info.health_clearance else "") + (" DISABLED" if info.disabled else "")
    return (
        f"{shown(info.name):<20} roles: {_names(info.roles)}; teams: {_names(info.teams)};"
        f" clearance:{flags or ' -'}"
    )


def _names(names: list[str]) -> str:
    return ", ".join(shown(n) for n in names) or "-"


@click.group()
def team() -> None:
    """Teams: cases belong to one, caseworkers are members of some."""


@team.command("add")
@click.argument("name")
@pass_state
def team_add(state: State, name: str) -> None:
    """Add a team."""
    from ekakte.api import add_team

    add_team(state.archive, state.actor, name)
    click.echo(f"added team {shown(name)}")


@team.command("list")
@pass_state
def team_list(state: State) -> None:
    """List teams."""
    from ekakte.api import list_teams

    for name in list_teams(state.archive, state.actor):
        click.echo(shown(name))


COMMANDS = [user, team]
