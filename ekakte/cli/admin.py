"""`ekakte init`, `ekakte db …`, `ekakte config show`."""

from __future__ import annotations

import click

from ekakte.cli.base import State, emit_json, json_option, pass_state
from ekakte.errors import shown


@click.command()
@click.option(
    "--admin",
    "first_admin",
    metavar="NAME",
    help="Make NAME the first admin instead of the OS user running init.",
)
@pass_state
def init(state: State, first_admin: str | None) -> None:
    """Create an archive: home folder, database schema, object store (safe to run again).

    The first init of an archive makes its caller (or --admin NAME) the first admin. That happens once
    in the archive's life; afterwards only admins make admins.
    """
    from ekakte.api import initialize

    report = initialize(state.settings, state.actor, first_admin=first_admin or state.actor.name)
    for change in report.tightened:
        click.echo(f"made private: {change}")
    if report.admin_created:
        click.echo(f"{shown(report.admin_created)} is the archive's first admin (see `ekakte user --help`)")
    else:
        click.echo("the archive has had its first admin already: nobody was made admin")
    click.echo(
        f"archive ready: database {shown(report.database)} (schema {shown(report.revision_after)}),"
        f" objects {shown(report.storage)}"
    )


@click.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@pass_state
def db_upgrade(state: State) -> None:
    """Apply the migrations this ekakte ships to the configured database."""
    from ekakte.api import upgrade_database

    report = upgrade_database(state.settings, state.actor)
    if report.revision_before == report.revision_after:
        click.echo(f"database {shown(report.database)} is up to date (schema {shown(report.revision_after)})")
    else:
        before = shown(report.revision_before or "empty")
        click.echo(
            f"database {shown(report.database)} upgraded from {before}"
            f" to schema {shown(report.revision_after)}"
        )


@db.command("grant")
@click.argument("role")
@pass_state
def db_grant(state: State, role: str) -> None:
    """Give the PostgreSQL role ROLE, under which the archive runs, the privileges it needs and no more
    (audit_log: only SELECT and INSERT). Run as the schema's owner, after each `db upgrade`."""
    from ekakte.api import grant_database_role

    grants = grant_database_role(state.settings, state.actor, role)
    click.echo(f"granted to {grants.role}:")
    for table, privileges in grants.tables.items():
        click.echo(f"  {table:<24} {privileges}")


@db.command("status")
@pass_state
def db_status(state: State) -> None:
    """Show the database's schema revision and the one this ekakte needs."""
    from ekakte.api import database_status

    status = database_status(state.settings)
    click.echo(f"schema: {shown(status.revision or 'none')}; this ekakte needs: {status.needed}")


@click.group()
def config() -> None:
    """The effective configuration."""


@config.command("show")
@json_option
@pass_state
def config_show(state: State, as_json: bool) -> None:
    """Print the effective configuration; secrets are masked."""
    effective = state.settings.display()
    if as_json:
        emit_json(effective)
        return
    width = max(len(k) for k in effective)
    for key, value in effective.items():
        click.echo(f"{key.ljust(width)}  {shown(value)}")


COMMANDS = [init, db, config]
