"""`ekakte audit show`, `ekakte audit verify` (auditors) and `ekakte audit anchor` (auditors, admins)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING

import click

from ekakte.cli.base import State, emit_json, emit_json_array, every, json_option, pass_state
from ekakte.errors import ExitCode, shown

if TYPE_CHECKING:
    from ekakte.api import AuditRecord, Page


@click.group()
def audit() -> None:
    """The audit trail: who did what, when, allowed or denied."""


@audit.command("show")
@click.option("--case", "case_number", help="Only entries about this case.")
@click.option("--user", help="Only entries by (or on behalf of) this user.")
@click.option("--since", help="Only entries from this day on (YYYY-MM-DD or DD.MM.YYYY).")
@click.option("--limit", type=click.IntRange(1, None), help="At most this many entries (default: all).")
@json_option
@pass_state
def audit_show(
    state: State,
    case_number: str | None,
    user: str | None,
    since: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Show entries, newest first: every one that matches, or the newest --limit."""
    from ekakte.api import parse_date

    day = parse_date(since, "date") if since else None
    entries = _every_entry(state, case_number=case_number, user=user, since=day, limit=limit)
    if as_json:
        emit_json_array(e.as_json() for e in entries)
        return
    for e in entries:
        # Every field is escaped before it is padded: each entry stays one line with its columns, whatever
        # a user name, a case number or a reason (a file name, a hold's reason) holds.
        who = shown(f"{e.actor} for {e.on_behalf_of}" if e.on_behalf_of else e.actor)
        what = shown(" ".join(x for x in (e.case_number, e.document_id) if x) or "-")
        request = f"request {e.request_id}" if e.request_id else None
        via = shown(" ".join(x for x in (e.channel or "-", e.client_address, request) if x))
        click.echo(
            f"{e.id:>8}  {e.at:%Y-%m-%d %H:%M:%S}  {who:<20} {shown(e.action):<12} {shown(e.outcome):<7}"
            f"  {via:<3}  {what}  {shown(e.reason or '')}"
        )


def _every_entry(
    state: State, *, case_number: str | None, user: str | None, since: date | None, limit: int | None
) -> Iterator[AuditRecord]:
    """Page after page, each older than the last, until the last page or `limit` entries."""
    from ekakte.api import MAX_LIMIT, audit_entries

    def page(after: str | None) -> Page[AuditRecord]:
        return audit_entries(
            state.archive, state.actor, case_number=case_number, user=user, since=since, after=after,
            limit=min(limit or MAX_LIMIT, MAX_LIMIT),
        )  # fmt: skip

    return itertools.islice(every(page), limit)


@audit.command("verify")
@pass_state
def audit_verify(state: State) -> int:
    """Check the hash chain, and the trail against its anchors (`audit anchor`): an edited, inserted or
    deleted entry, entries cut off the end, a re-chained trail are named. Exit 10 if any is found."""
    from ekakte.api import verify_audit_trail

    report = verify_audit_trail(state.archive, state.actor)
    if not report.ok:
        click.echo(f"audit trail BROKEN after {report.entries} good entries: {shown(report.problem)}")
        return ExitCode.INTEGRITY
    if report.anchor is None:
        anchored = "not anchored yet (`ekakte audit anchor`)"
    else:
        latest = report.anchor
        anchored = f"agrees with its anchors, the latest of {shown(latest.when)} ({latest.entries} entries)"
    click.echo(f"audit trail intact: {report.entries} entries, head {shown(report.head)}; {anchored}")
    return ExitCode.OK


@audit.command("anchor")
@json_option
@pass_state
def audit_anchor(state: State, as_json: bool) -> None:
    """Write the trail's head (entry count, last hash, time) outside the database, where `audit verify`
    checks the trail against it: a bucket object under Object Lock, or an append-only file. Run it
    nightly; the line it prints can go to syslog too (`ekakte audit anchor | logger -t ekakte`)."""
    from ekakte.api import anchor_audit_trail

    done = anchor_audit_trail(state.archive, state.actor)
    if as_json:
        emit_json({**done.anchor.as_json(), "written_to": done.where})
        return
    a = done.anchor
    click.echo(f"audit trail anchored: {a.entries} entries, head {a.head}, at {a.when}, in {done.where}")


COMMANDS = [audit]
