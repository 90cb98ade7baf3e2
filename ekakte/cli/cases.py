"""`ekakte case show`: a case (Akte) and its documents, newest first."""

from __future__ import annotations

import click

from ekakte.cli.base import State, emit_json, objects_told, pass_state
from ekakte.errors import shown


@click.group()
def case() -> None:
    """Cases (Akten), identified by their case number (BG-Nummer)."""


@case.command("show")
@click.argument("case_number")
@click.option("--type", "document_type", help="Only documents of this type.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def case_show(state: State, case_number: str, document_type: str | None, as_json: bool) -> None:
    """Show a case and its documents, newest first."""
    from ekakte.api import case_documents

    view = case_documents(state.archive, state.actor, case_number, document_type)
    if as_json:
        emit_json(view.as_json())
        return
    c = view.case
    click.echo(
        f"Akte {shown(c.case_number)}  team: {shown(c.team or '-')}  opened: {c.opened_on}"
        f"  closed: {c.closed_on or '-'}"
    )
    noun = "document" if len(view.documents) == 1 else "documents"
    of_type = f" of type {shown(document_type)}" if document_type else ""
    click.echo(f"{len(view.documents)} {noun}{of_type}")
    if not view.documents:
        return
    click.echo(f"{'RECEIVED':<10}  {'TYPE':<14}  {'PAGES':>5}  {'ID':<36}  TITLE / FILE")
    for d in view.documents:
        pages = "?" if d.page_count is None else str(d.page_count)
        label = "(restricted: withheld)" if d.withheld else shown(d.title or d.original_filename)
        click.echo(
            f"{d.received_on.isoformat():<10}  {shown(d.document_type):<14}  {pages:>5}  {d.id}  {label}"
        )


@case.command("assign")
@click.argument("case_number")
@click.option("--team", required=True, help="The team that becomes responsible for the case.")
@pass_state
def case_assign(state: State, case_number: str, team: str) -> None:
    """Make a team responsible for a case (team leads within their teams, admins for any)."""
    from ekakte.api import assign_case

    assign_case(state.archive, state.actor, case_number, team)
    click.echo(f"case {shown(state.settings.case_number(case_number))} assigned to team {shown(team)}")


@case.command("close")
@click.argument("case_number")
@click.option("--date", "closed", required=True, metavar="DATE", help="The day the case ended.")
@pass_state
def case_close(state: State, case_number: str, closed: str) -> int:
    """Close a case: its `case_closed` retention clocks start from DATE.

    Exit 12 (8) when an Object Lock store refused (could not be told) some retain-until dates.
    """
    from ekakte.api import close_case, parse_day

    day = parse_day(closed, "--date", future=False)
    done = close_case(state.archive, state.actor, case_number, day)
    number = shown(state.settings.case_number(case_number))
    click.echo(f"case {number} closed on {day}; {done.changed} due dates changed")
    return objects_told(done.objects, "the closing day")


@case.command("reopen")
@click.argument("case_number")
@pass_state
def case_reopen(state: State, case_number: str) -> int:
    """Reopen a case: documents under `case_closed` rules are no longer due."""
    from ekakte.api import reopen_case

    done = reopen_case(state.archive, state.actor, case_number)
    number = shown(state.settings.case_number(case_number))
    click.echo(f"case {number} reopened; {done.changed} due dates changed")
    return objects_told(done.objects, "the reopening")


COMMANDS = [case]
