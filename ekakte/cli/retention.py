"""`ekakte retention …`, `ekakte hold …`: rules, plans, the nightly sweep, its protocol, legal holds."""

from __future__ import annotations

import csv
import sys
from datetime import date
from pathlib import Path

import click

from ekakte.api import MAX_LIMIT
from ekakte.cli.base import (
    State,
    counter,
    echo_error,
    emit_json,
    every,
    json_option,
    objects_told,
    pass_state,
    stop_on_sigterm,
)
from ekakte.errors import ExitCode, shown


def _date(text: str | None, what: str = "--as-of") -> date | None:
    if text is None:
        return None
    from ekakte.api import parse_day

    return parse_day(text, what)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _rule(name: str | None) -> str:
    # A rule's name is a TOML string, and TOML's "\u001b" is a legal way to spell an escape character.
    return "None" if name is None else f"'{shown(name)}'"


def _held(held_by: tuple[tuple[int, str], ...]) -> str:
    return "HELD " + "; ".join(f"by hold {h} ({shown(r)})" for h, r in held_by)


@click.group()
def retention() -> None:
    """Retention (Aufbewahrungsfristen): rules, what is due, the nightly sweep, the Löschprotokoll."""


@retention.group("rules")
def rules() -> None:
    """The retention rules file, kept versioned in the database."""


@rules.command("load")
@click.argument("file", type=click.Path(path_type=Path))
@pass_state
def rules_load(state: State, file: Path) -> int:
    """Validate FILE (TOML) and make it the rules in force; every due date is recomputed.

    Exit 12 (8) when an Object Lock store refused (could not be told) some retain-until dates.
    """
    from ekakte.api import load_rules

    with stop_on_sigterm() as should_stop, counter("documents rescheduled") as progress:
        loaded, done = load_rules(
            state.archive, state.actor, file, progress=progress, should_stop=should_stop
        )
    click.echo(
        f"rules version {loaded.version} loaded ({_n(len(loaded.rules.rules), 'rule')});"
        f" {done.changed} due dates changed"
    )
    uncovered = loaded.rules.uncovered(state.settings.document_types)
    if uncovered:
        types = ", ".join(shown(t) for t in uncovered)
        click.echo(f"note: no rule covers {types}: such documents are never due", err=True)
    if done.stopped:
        echo_error(
            f"stopped: rules version {loaded.version} is in force, but some documents keep their earlier"
            " due date; load the same file again to finish"
        )
        return ExitCode.PARTIAL
    return objects_told(done.objects, f"rules version {loaded.version}")


@rules.command("show")
@click.option("--version", "version", type=int, help="An earlier version (default: the rules in force).")
@json_option
@click.option("--source", is_flag=True, help="Print the file exactly as it was loaded.")
@pass_state
def rules_show(state: State, version: int | None, as_json: bool, source: bool) -> None:
    """Show the rules in force (or version N)."""
    from ekakte.api import show_rules

    loaded = show_rules(state.archive, state.actor, version)
    if as_json:
        emit_json(loaded.as_json())
        return
    if source:  # exact, like --json: the file as it was loaded, for diffing or loading again
        click.echo(loaded.content, nl=False)
        return
    click.echo(
        f"version {loaded.version}, loaded {loaded.loaded_at:%Y-%m-%d %H:%M} by {shown(loaded.loaded_by)}"
        f" from {shown(loaded.source)}"
    )
    click.echo(f"{'RULE':<24}  {'KEEP':<6}  {'TRIGGER':<13}  {'ROUNDING':<11}  TYPES")
    for r in loaded.rules.rules:
        types = ", ".join(shown(t) for t in r.types)
        click.echo(
            f"{shown(r.name):<24}  {shown(r.keep):<6}  {shown(r.trigger):<13}"
            f"  {shown(r.rounding):<11}  {types}"
        )


@retention.command("plan")
@click.option("--as-of", "as_of", metavar="DATE", help="Plan as of this day (default: today).")
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@pass_state
def retention_plan(state: State, as_of: str | None, as_json: bool, as_csv: bool) -> None:
    """What a sweep would delete, by which rule and since when, and what is held back by which hold."""
    from ekakte.api import plan

    items = plan(state.archive, state.actor, as_of=_date(as_of))
    if as_json:
        emit_json([i.as_json() for i in items])
        return
    if as_csv:
        out = csv.writer(sys.stdout)
        out.writerow(
            [
                "document_id",
                "case_number",
                "document_type",
                "received_on",
                "due_on",
                "deletable_since",
                "rule",
                "rule_version",
                "held_by",
                "archive",
            ]
        )
        for i in items:
            held = "; ".join(f"hold {h}: {r}" for h, r in i.held_by)
            out.writerow(
                [
                    i.document_id,
                    i.case_number,
                    i.document_type,
                    i.received_on,
                    i.due_on,
                    i.since,
                    i.rule,
                    i.rule_version,
                    held,
                    i.archive or "",
                ]
            )
        return
    to_delete = held_back = waiting = 0
    for i in items:
        verdict = _held(i.held_by) if i.held_by else f"WAITS: {i.archive}" if i.archive else "due"
        click.echo(
            f"{i.document_id}  {shown(i.case_number)}  {shown(i.document_type):<14}  due {i.due_on}"
            f"  rule {_rule(i.rule)} v{i.rule_version}  {verdict}"
        )
        if i.held_by:
            held_back += 1
        elif i.archive:
            waiting += 1
        else:
            to_delete += 1
    click.echo(f"{to_delete} to delete, {held_back} held back, {waiting} awaiting the archive")


@retention.command("sweep")
@click.option("--as-of", "as_of", metavar="DATE", help="Sweep as of this day (default: today).")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; change nothing.")
@click.option("--limit", type=click.IntRange(1), help="Delete at most N documents this run.")
@json_option
@pass_state
def retention_sweep(state: State, as_of: str | None, dry_run: bool, limit: int | None, as_json: bool) -> int:
    """The nightly cleanup: delete what is due and not held, for real, with a protocol entry each.

    \b
    Exit 0: everything due was deleted (or nothing was due), or the store's lock still keeps it.
    Exit 12: some due documents were not deleted, or the store did not take some locks; retried next run.
    Exit 13: another sweep is running.  Exit 6: configuration error.
    """
    from ekakte.api import sweep

    day = _date(as_of)
    with stop_on_sigterm() as should_stop:
        report = sweep(
            state.archive, state.actor, as_of=day, dry_run=dry_run, limit=limit, should_stop=should_stop
        )
    if as_json:
        emit_json(report.as_json())
    else:
        for kept in report.kept:
            click.echo(f"kept by the store  {kept.document_id}: {shown(kept.reason)}")
        for refusal in report.lock_refusals[1:]:  # the first is in the summary
            click.echo(f"lock not taken     {shown(refusal.text())}", err=True)
        click.echo(shown(report.summary()))
    return ExitCode.OK if report.complete and not report.stopped else ExitCode.PARTIAL


@retention.command("protocol")
@click.option("--since", metavar="DATE", help="Only deletions on or after this day.")
@click.option("--case", "case_number", help="Only this case's deletions (found through the keyed hash).")
@json_option
@pass_state
def retention_protocol(state: State, since: str | None, case_number: str | None, as_json: bool) -> None:
    """The deletion protocol (Löschprotokoll): what was deleted, when, by which rule."""
    from ekakte.api import protocol

    day = _date(since, "--since")
    entries = list(
        every(
            lambda after: protocol(
                state.archive, state.actor, since=day, case_number=case_number, limit=MAX_LIMIT, after=after
            )
        )
    )
    if as_json:
        emit_json([e.as_json() for e in entries])
        return
    for e in entries:
        click.echo(
            f"{e.deleted_at:%Y-%m-%d %H:%M}  {e.document_id}  {shown(e.document_type):<14}  due {e.due_on}"
            f"  rule {_rule(e.rule)} v{e.rule_version}  case#{shown(e.case_hash[:12])}"
            f"  sha256 {shown(e.sha256[:12])}…  by {shown(e.deleted_by)}"
            + (f"  {shown(e.disposal)}" if e.disposal else "")
        )
    click.echo(_n(len(entries), "deletion"))


@click.group()
def hold() -> None:
    """Legal holds (Löschsperren): nothing they cover is deleted, whatever its due date."""


@hold.command("add")
@click.option("--case", "case_number", help="Hold a whole case.")
@click.option("--doc", "document_id", help="Hold one document.")
@click.option("--reason", required=True, help="Why (e.g. the court's file number).")
@click.option("--until", metavar="DATE", help="Last day of the hold (default: until released).")
@pass_state
def hold_add(
    state: State, case_number: str | None, document_id: str | None, reason: str, until: str | None
) -> int:
    """Put a case or a document under legal hold (and its originals, on an Object Lock store).

    Exit 12 (8) when the store refused (could not be told) some objects' legal holds.
    """
    from ekakte.api import add_hold, parse_day, parse_document_id

    info = add_hold(
        state.archive, state.actor, reason=reason, case_number=case_number,
        document_id=parse_document_id(document_id) if document_id else None,
        until=parse_day(until, "--until", future=True) if until else None,
    )  # fmt: skip
    target = f"case {shown(info.case_number)}" if info.document_id is None else f"document {info.document_id}"
    click.echo(f"hold {info.id} on {target}" + (f" until {info.until}" if info.until else " until released"))
    return objects_told(info.objects, f"hold {info.id}")


@hold.command("release")
@click.argument("hold_id", type=int)
@pass_state
def hold_release(state: State, hold_id: int) -> int:
    """Release a hold; what it covered becomes deletable again when due."""
    from ekakte.api import release_hold

    info = release_hold(state.archive, state.actor, hold_id)
    click.echo(f"hold {info.id} released")
    return objects_told(info.objects, f"the release of hold {info.id}")


@hold.command("list")
@click.option("--all", "include_released", is_flag=True, help="Also released holds.")
@json_option
@pass_state
def hold_list(state: State, include_released: bool, as_json: bool) -> None:
    """The holds in force (with --all also released ones)."""
    from ekakte.api import list_holds

    holds = list(
        every(
            lambda after: list_holds(
                state.archive, state.actor, include_released=include_released, limit=MAX_LIMIT, after=after
            )
        )
    )
    if as_json:
        emit_json([h.as_json() for h in holds])
        return
    for h in holds:
        target = f"case {shown(h.case_number)}" if h.document_id is None else f"doc {h.document_id}"
        status = "active" if h.active else ("released" if h.released_at else "expired")
        until = h.until.isoformat() if h.until else "-"
        click.echo(
            f"{h.id:>5}  {status:<8}  {target:<42}  until {until:<10}"
            f"  {shown(h.created_by)}: {shown(h.reason)}"
        )
    click.echo(_n(len(holds), "hold"))


COMMANDS = [retention, hold]
