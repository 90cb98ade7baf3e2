"""Replacement scanning's commands: the scan protocol, transfer notes, the second person's check, the
paper's status and the seal key."""

from __future__ import annotations

import click

from ekakte.cli.base import State, emit_json, json_option, pass_state
from ekakte.errors import shown


@click.group("scan")
def scan() -> None:
    """Replacement scanning (TR-RESISCAN): protocols, checks, when the paper may go."""


@scan.command("protocol")
@click.argument("batch_id")
@json_option
@pass_state
def scan_protocol_command(state: State, batch_id: str, as_json: bool) -> None:
    """A batch's scan protocol: its files, stacks, each document's pages as scanned, anomalies,
    refusals, assignments, the check and the seal.

    \b
    ekakte scan protocol 6a1f… --json > protokoll.json

    The batch id is printed by `ekakte import` (and in its --json). For scan operators, the triage role,
    records managers and auditors; no content.
    """
    from ekakte.api import parse_batch_id, scan_protocol

    found = scan_protocol(state.archive, state.actor, parse_batch_id(batch_id))
    if as_json:
        emit_json(found.as_json())
        return
    done = f"finished {found.finished_at:%Y-%m-%d %H:%M}" if found.finished_at else "not finished"
    click.echo(f"batch {found.batch_id}  station {shown(found.station)}  operator {shown(found.operator)}")
    click.echo(f"started {found.started_at:%Y-%m-%d %H:%M}, {done}")
    click.echo(f"files: {len(found.files)} ({len(found.refused)} refused)")
    for f in found.files:
        what = f.status if f.reason is None else f"{f.status}: {shown(f.reason)}"
        pages = f", {f.page_count} pages" if f.page_count else ""
        click.echo(f"  {shown(f.name)}  {f.sha256 or '-'}{pages}  {what}")
    for s in found.stacks:
        click.echo(
            f"stack {shown(s.filename)}: {s.page_count} pages, {s.sheets} sheets,"
            f" {s.blank_backs} blank backs, {sum(1 for p in s.parts if p.kind == 'document')} documents"
        )
    click.echo(f"documents: {len(found.documents)}")
    for d in found.documents:
        modes = sorted({f"{p.dpi or '?'} dpi {p.mode or '?'}" for p in d.pages})
        click.echo(f"  {d.document_id}  {shown(d.filename)}  {d.page_count or '?'} pages  {', '.join(modes)}")
        click.echo(f"    {shown(d.assignment)}")
        for anomaly in d.anomalies:
            click.echo(f"    ! {shown(anomaly)}")
    if found.check:
        c = found.check
        click.echo(
            f"check: {c.result} by {shown(c.checked_by)} at {c.checked_at:%Y-%m-%d %H:%M}"
            f" ({len(c.sample)} of {c.documents} documents looked at)"
            + (f": {shown(c.note)}" if c.note else "")
        )
    else:
        click.echo("check: not yet")
    if found.seal_sha256:
        click.echo(f"sealed {found.sealed_at:%Y-%m-%d %H:%M}, manifest SHA-256 {found.seal_sha256}")


@scan.command("note")
@click.argument("document_id")
@json_option
@pass_state
def scan_note(state: State, document_id: str, as_json: bool) -> None:
    """A document's transfer note (Transfervermerk): who scanned it, when, where and how, anomalies, the
    check and the statement that the scan matches the paper. For whoever may see the document."""
    from ekakte.api import parse_document_id, transfer_note

    note = transfer_note(state.archive, state.actor, parse_document_id(document_id))
    if as_json:
        emit_json(note.as_json())
        return
    click.echo(f"Transfervermerk  {note.document_id}  ({note.state})")
    click.echo(f"file        {shown(note.filename)}  SHA-256 {note.sha256}")
    click.echo(
        f"scanned     {note.scanned_at:%Y-%m-%d %H:%M} by {shown(note.scanned_by)} at {shown(note.station)}"
    )
    click.echo(f"batch       {note.batch_id or '-'}")
    settings = ", ".join(f"{k} {v}" for k, v in sorted(note.settings.items()))
    click.echo(f"settings    {shown(settings)}")
    for p in note.pages:
        blank = "  blank" if p.blank else ""
        click.echo(f"page {p.number:<6} {p.dpi or '?'} dpi  {p.mode or '?'}{blank}")
    click.echo(f"case        {shown(note.assignment)}")
    for anomaly in note.anomalies:
        click.echo(f"anomaly     {shown(anomaly)}")
    click.echo(f"check       {note.check}{' (in the sample)' if note.in_sample else ''}")
    click.echo(note.statement)


@scan.command("sample")
@click.argument("batch_id")
@json_option
@pass_state
def scan_sample(state: State, batch_id: str, as_json: bool) -> None:
    """The documents of a batch the second person's check looks at (the setting check_sample)."""
    from ekakte.api import check_sample, parse_batch_id

    found = check_sample(state.archive, state.actor, parse_batch_id(batch_id))
    if as_json:
        emit_json(found.as_json())
        return
    for doc in found.sample:
        click.echo(doc)
    click.echo(
        f"{len(found.sample)} of {found.documents} documents; scanned by"
        f" {', '.join(map(shown, found.operators))}, who may not check it"
        + ("; checked already" if found.checked else ""),
        err=True,
    )


@scan.command("qa")
@click.argument("batch_id")
@click.option(
    "--start", "result", flag_value="start", help="Take the check on: the sample's pages are yours to see."
)
@click.option("--passed", "result", flag_value="passed", help="The sampled scans match the paper.")
@click.option("--failed", "result", flag_value="failed", help="They do not: say what is wrong in --note.")
@click.option("--note", help="What was checked, or what is wrong (required with --failed).")
@json_option
@pass_state
def scan_qa(state: State, batch_id: str, result: str | None, note: str | None, as_json: bool) -> None:
    """The second person's check of a batch: take it on, then record it, which seals the batch.

    \b
    ekakte scan qa 6a1f… --start              # the sample; now `ekakte doc page ID` shows its pages to you
    ekakte scan qa 6a1f… --passed --note "12 of 120 verglichen"
    ekakte scan qa 6a1f… --failed --note "Seite 3 von 6a1f… abgeschnitten"

    Never by an operator who scanned the batch; once per batch; while one person has it under way (up
    to 8 hours), nobody else. A pass reads every document of the batch back from the store first. The
    check, the protocol, the transfer notes and the documents' hashes are then sealed with the archive's
    key (`ekakte scan key`), chained to the previous seal.
    """
    from ekakte.api import check_batch, parse_batch_id, start_check

    if result is None:
        raise click.UsageError("say --start, --passed or --failed")
    if result == "start":
        if note:
            raise click.UsageError("--note goes with --passed or --failed")
        sample = start_check(state.archive, state.actor, parse_batch_id(batch_id))
        if as_json:
            emit_json(sample.as_json())
            return
        for doc in sample.sample:
            click.echo(doc)
        click.echo(
            f"{len(sample.sample)} of {sample.documents} documents to compare with the paper:"
            " `ekakte doc page ID --page N -o FILE` shows them to you until the check is recorded",
            err=True,
        )
        return

    done = check_batch(
        state.archive, state.actor, parse_batch_id(batch_id), passed=result == "passed", note=note
    )
    if as_json:
        emit_json(done.as_json())
        return
    click.echo(
        f"batch {done.batch_id}: {done.result} ({len(done.sample)} of {done.documents} documents looked at,"
        f" {done.verified} read back whole); sealed, manifest SHA-256 {done.seal_sha256}"
    )


@scan.command("close")
@click.argument("batch_id")
@pass_state
def scan_close(state: State, batch_id: str) -> None:
    """Close a batch whose import stopped before its end (a crash, the database away), as it stands.

    What it stored is then its content, and can be checked; the files it did not reach go into the
    next batch when the folder is imported again. For scan operators.
    """
    from ekakte.api import close_stopped_batch, parse_batch_id

    close_stopped_batch(state.archive, state.actor, parse_batch_id(batch_id))
    click.echo(f"batch {batch_id.strip()} is closed")


@scan.command("status")
@click.option("--keep", "keep_only", is_flag=True, help="Only the batches whose paper must be kept.")
@json_option
@pass_state
def scan_status(state: State, keep_only: bool, as_json: bool) -> None:
    """Which batches' paper may be destroyed now, and which must be kept and why.

    Paper may go when the batch's check passed, it is sealed, every document is still stored with its
    sealed hash, and paper_waiting_days have passed since the check. Refused files and documents sent
    back to the station are not in the archive: their paper is always kept.
    """
    from ekakte.api import paper_status

    found = [s for s in paper_status(state.archive, state.actor) if not (keep_only and s.may_be_destroyed)]
    if as_json:
        emit_json([s.as_json() for s in found])
        return
    for s in found:
        verdict = "may be destroyed" if s.may_be_destroyed else "keep"
        click.echo(
            f"{s.batch_id}  {s.started_at:%Y-%m-%d}  {shown(s.station)}  {s.documents} documents  {verdict}"
        )
        for reason in s.reasons:
            click.echo(f"{'':<36}  {shown(reason)}")
    ready = sum(1 for s in found if s.may_be_destroyed)
    click.echo(f"{ready} of {len(found)} batches' paper may be destroyed", err=True)


@scan.command("key")
@click.option("--pem", is_flag=True, help="As a PEM public key (for openssl) instead of hex.")
@pass_state
def scan_key(state: State, pem: bool) -> None:
    """The public key of the archive's seal key: give it to auditors, who check a seal with it."""
    from ekakte.api import seal_public_key, seal_public_key_pem

    click.echo(seal_public_key_pem(state.settings).rstrip() if pem else seal_public_key(state.settings))


COMMANDS = [scan]
