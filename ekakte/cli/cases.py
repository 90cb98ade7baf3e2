"""`ekakte case show`: a case (Akte) and its documents, newest first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from ekakte.cli.base import State, emit_json, json_option, objects_told, pass_state
from ekakte.errors import shown

if TYPE_CHECKING:
    from ekakte.api import CaseView


@click.group()
def case() -> None:
    """Cases (Akten), identified by their case number (BG-Nummer)."""


# Documents fetched per request when the whole case is printed: one audited request for most cases.
WHOLE_CASE_PAGE = 500


@case.command("show")
@click.argument("case_number")
@click.option("--type", "document_type", help="Only documents of this type.")
@click.option("--limit", type=int, help="Show one page of at most this many documents (1-1000).")
@click.option("--after", metavar="CURSOR", help="Start after the page that gave this cursor.")
@json_option
@pass_state
def case_show(
    state: State,
    case_number: str,
    document_type: str | None,
    limit: int | None,
    after: str | None,
    as_json: bool,
) -> None:
    """Show a case and its documents, newest first: all of them, or a page with --limit."""
    from ekakte.api import case_documents

    def pages() -> Iterator[CaseView]:
        cursor = after
        while True:
            view = case_documents(
                state.archive,
                state.actor,
                case_number,
                document_type,
                limit=WHOLE_CASE_PAGE if limit is None else limit,
                after=cursor,
            )
            yield view
            cursor = view.next
            if limit is not None or cursor is None:
                return

    if as_json:
        views = list(pages())
        documents = [d.as_json() for v in views for d in v.documents]
        emit_json({**views[0].as_json(), "documents": documents, "next": views[-1].next})
        return
    count, following = 0, None
    for number, view in enumerate(pages()):
        if number == 0:
            c = view.case
            click.echo(
                f"Akte {shown(c.case_number)}  team: {shown(c.team or '-')}  opened: {c.opened_on}"
                f"  closed: {c.closed_on or '-'}"
            )
            if view.documents:
                click.echo(f"{'RECEIVED':<10}  {'TYPE':<14}  {'PAGES':>5}  {'ID':<36}  TITLE / FILE")
        for d in view.documents:
            pages_ = "?" if d.page_count is None else str(d.page_count)
            label = "(restricted: withheld)" if d.withheld else shown(d.title or d.original_filename)
            if d.new:
                label = f"NEW  {label}"  # no one of the team has opened it yet
            click.echo(
                f"{d.received_on.isoformat():<10}  {shown(d.document_type):<14}  {pages_:>5}  {d.id}  {label}"
            )
        count, following = count + len(view.documents), view.next
    noun = "document" if count == 1 else "documents"
    of_type = f" of type {shown(document_type)}" if document_type else ""
    more = f"; more after this page: --limit {limit} --after {following}" if following else ""
    click.echo(f"{count} {noun}{of_type}{more}")


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


@click.command("inbox")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Cases to list.")
@json_option
@pass_state
def inbox(state: State, limit: int, as_json: bool) -> None:
    """The cases of your teams with new documents (no one of the team has opened them), newest first."""
    from ekakte.api import team_inbox

    cases = team_inbox(state.archive, state.actor, limit=limit)
    if as_json:
        emit_json([c.as_json() for c in cases])
        return
    for c in cases:
        click.echo(f"{c.newest:%Y-%m-%d %H:%M}  {shown(c.case_number):<20}  {c.new:>4} new  {shown(c.team)}")
    click.echo(f"{len(cases)} case{'s' if len(cases) != 1 else ''} with new documents")


COMMANDS = [case, inbox]
