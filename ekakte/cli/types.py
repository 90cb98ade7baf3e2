"""`ekakte type …`: which document types are restricted (health data), the archive's policy."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ekakte.cli.base import State, emit_json, json_option, pass_state

if TYPE_CHECKING:
    from ekakte.api import PolicyChange


@click.group("type")
def type_() -> None:
    """Document types whose documents only users with the health clearance may see."""


@type_.command("list")
@json_option
@pass_state
def type_list(state: State, as_json: bool) -> None:
    """Show the restricted types (admins, records managers, auditors)."""
    from ekakte.api import list_types

    policies = list_types(state.archive, state.actor)
    if as_json:
        emit_json([p.as_json() for p in policies])
        return
    if not policies:
        click.echo("no restricted types: every document is visible without the health clearance")
        return
    click.echo(f"{'TYPE':<20}  {'DOCUMENTS':>9}  {'SINCE':<19}  BY")
    for p in policies:
        since = p.added_at.strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{p.document_type:<20}  {p.documents:>9}  {since:<19}  {p.added_by}")


def _report(change: PolicyChange, as_json: bool) -> None:
    if as_json:
        emit_json(change.as_json())
        return
    state = "restricted" if change.restricted else "not restricted"
    was = "now" if change.changed else "already"
    click.echo(
        f"type {change.document_type} is {was} {state}; {change.documents} stored document(s) re-marked"
    )
    if not change.configured:
        click.echo(f"note: {change.document_type} is not one of the configured document_types", err=True)


@type_.command("restrict")
@click.argument("name")
@json_option
@pass_state
def type_restrict(state: State, name: str, as_json: bool) -> None:
    """Restrict a type: its stored and future documents need the health clearance (admins)."""
    from ekakte.api import restrict_type

    _report(restrict_type(state.archive, state.actor, name), as_json)


@type_.command("unrestrict")
@click.argument("name")
@json_option
@pass_state
def type_unrestrict(state: State, name: str, as_json: bool) -> None:
    """Lift a type's restriction from its stored and future documents (admins)."""
    from ekakte.api import unrestrict_type

    _report(unrestrict_type(state.archive, state.actor, name), as_json)


COMMANDS = [type_]
