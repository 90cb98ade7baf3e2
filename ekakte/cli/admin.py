"""`ekakte init`, `ekakte db …`, `ekakte config show`."""

from __future__ import annotations

import click

from ekakte.cli import State, emit_json, pass_state


@click.command()
@pass_state
def init(state: State) -> None:
    """Create an archive: home folder, database schema, object store (safe to run again).

    The OS user who runs it becomes the first admin when the archive has none.
    """
    from ekakte.archive import initialize

    report = initialize(state.settings, admin=state.actor)
    if report.admin_created:
        click.echo(f"{report.admin_created} is the archive's first admin (see `ekakte user --help`)")
    click.echo(
        f"archive ready: database {report.database} (schema {report.revision_after}),"
        f" objects {report.storage}"
    )


@click.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@pass_state
def db_upgrade(state: State) -> None:
    """Apply the migrations this ekakte ships to the configured database."""
    from ekakte.archive import upgrade_database

    report = upgrade_database(state.settings)
    if report.revision_before == report.revision_after:
        click.echo(f"database {report.database} is up to date (schema {report.revision_after})")
    else:
        before = report.revision_before or "empty"
        click.echo(f"database {report.database} upgraded from {before} to schema {report.revision_after}")


@db.command("grant")
@click.argument("role")
@pass_state
def db_grant(state: State, role: str) -> None:
    """Give the PostgreSQL role ROLE, under which the archive runs, the privileges it needs and no more
    (audit_log: only SELECT and INSERT). Run as the schema's owner, after each `db upgrade`."""
    from ekakte.db.grants import grant

    grants = grant(state.settings, state.actor, role)
    click.echo(f"granted to {grants.role}:")
    for table, privileges in grants.tables.items():
        click.echo(f"  {table:<24} {privileges}")


@db.command("status")
@pass_state
def db_status(state: State) -> None:
    """Show the database's schema revision and the one this ekakte needs."""
    from ekakte.db.schema import HEAD, current_revision
    from ekakte.db.session import READ_ONLY, database_errors, make_engine

    engine = make_engine(state.settings.database_url)
    try:
        with (
            database_errors(state.settings.database_url),
            engine.execution_options(**{READ_ONLY: True}).connect() as conn,
        ):
            revision = current_revision(conn)
    finally:
        engine.dispose()
    click.echo(f"schema: {revision or 'none'}; this ekakte needs: {HEAD}")


@click.group()
def config() -> None:
    """The effective configuration."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def config_show(state: State, as_json: bool) -> None:
    """Print the effective configuration; secrets are masked."""
    shown = state.settings.display()
    if as_json:
        emit_json(shown)
        return
    width = max(len(k) for k in shown)
    for key, value in shown.items():
        click.echo(f"{key.ljust(width)}  {value}")


COMMANDS = [init, db, config]
