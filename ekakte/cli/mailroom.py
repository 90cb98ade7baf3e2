"""The mail room's commands: cover sheets and reference codes to print, the Postkorb."""

from __future__ import annotations

import io
from pathlib import Path

import click

from ekakte.cli.base import State, emit_json, every, json_option, pass_state
from ekakte.errors import NotFound, shown


@click.command("coversheet")
@click.option("--case", "case_number", help="Case number the documents after the sheet belong to.")
@click.option("--type", "document_type", help="Their document type (Dokumentart).")
@click.option("--title", help="Their title (optional).")
@click.option("--separator", is_flag=True, help="Plain separator sheets: no case, no type.")
@click.option("--count", type=int, default=1, show_default=True, help="How many copies of the sheet (1-500).")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="PDF file to write.")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@pass_state
def coversheet(
    state: State,
    case_number: str | None,
    document_type: str | None,
    title: str | None,
    separator: bool,
    count: int,
    output: Path,
    force: bool,
) -> None:
    """Write cover sheets (Deckblätter) or separator sheets (Trennblätter) as a PDF to print.

    \b
    ekakte coversheet --case 12345BG0001234 --type Antrag -o deckblatt.pdf
    ekakte coversheet --separator --count 20 -o trennblaetter.pdf

    A cover sheet's QR code names the case, the type and the title; put it on top of the document it
    belongs to, and `ekakte import --stack` stores the pages after it in that case. The sheets
    themselves are not archived.
    """
    from ekakte.api import cover_sheets, write_export

    if separator and (case_number or document_type or title):
        raise click.UsageError("a separator sheet names no case, type or title")
    if not separator and not (case_number and document_type):
        raise click.UsageError("give --case and --type for cover sheets, or --separator")
    pdf = io.BytesIO()
    pages = cover_sheets(
        state.settings, pdf, case_number=case_number, document_type=document_type, title=title, count=count
    )
    write_export(state.archive, [pdf.getvalue()], output, force=force, example="deckblatt.pdf")
    kind = "separator sheet" if separator else "cover sheet"
    click.echo(f"wrote {shown(output)} ({pages} {kind}{'s' if pages != 1 else ''})", err=True)


@click.command("reference-code")
@click.option("--case", "case_number", required=True, help="Case number of the letter the code goes on.")
@click.option("--reference", help='The letter\'s own reference (optional), e.g. "Anforderung 2026-11-30".')
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["svg", "png"]),
    help="Image format [default: png for an OUTPUT ending .png, else svg].",
)
@click.option(
    "--size-mm",
    type=float,
    default=20.0,
    show_default=True,
    help="Width and height in mm, white margin included (15-60).",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="File to write.")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@pass_state
def reference_code(
    state: State,
    case_number: str,
    reference: str | None,
    fmt: str | None,
    size_mm: float,
    output: Path,
    force: bool,
) -> None:
    """Write the reference code (Bezugscode) for a letter of a case, as SVG or PNG (300 dpi).

    \b
    ekakte reference-code --case 12345BG0001234 --reference "Anforderung 2026-11-30" -o bezug.svg

    The benefits software prints the code on the job centre's letters; when a letter or its reply form
    comes back in a stack, the code is content (it never splits a stack), and the Postkorb's sort reads
    it to file the letter.
    """
    from ekakte.api import reference_code as code_for
    from ekakte.api import write_export

    if fmt is None:
        fmt = "png" if output.suffix.lower() == ".png" else "svg"
    image = code_for(state.settings, case_number, reference, fmt=fmt, size_mm=size_mm)
    write_export(state.archive, [image], output, force=force, example=f"bezugscode.{fmt}")
    click.echo(f"wrote {shown(output)} ({fmt.upper()}, {size_mm:g} mm)", err=True)


@click.group()
def postkorb() -> None:
    """The Postkorb: documents that came without a case (triage role).

    Read a document's pages and text as any other's: `ekakte doc show ID --text`, `ekakte doc page ID`.
    """


@postkorb.command("list")
@json_option
@pass_state
def postkorb_list(state: State, as_json: bool) -> None:
    """The documents waiting in the Postkorb, oldest first, with why no case was found for them."""
    from ekakte.api import MAX_LIMIT
    from ekakte.api import postkorb as waiting

    entries = list(every(lambda after: waiting(state.archive, state.actor, limit=MAX_LIMIT, after=after)))
    if as_json:
        emit_json([e.as_json() for e in entries])
        return
    for e in entries:
        pages, origin = _pages_and_origin(e.page_count, e.stack, e.original_filename)
        click.echo(f"{e.document_id}  {e.arrived_at:%Y-%m-%d %H:%M}  {pages:<7}  {origin}: {shown(e.reason)}")
        if e.finding:
            click.echo(f"{'':<36}  sorted: {shown(e.finding)}")
    click.echo(f"{len(entries)} document{'s' if len(entries) != 1 else ''} in the Postkorb")


def _pages_and_origin(page_count: int | None, stack: str | None, filename: str) -> tuple[str, str]:
    """How many pages, and where from (the stack and its pages, or the file), for a line of a list."""
    pages = "? pages" if page_count is None else f"{page_count} p."
    return pages, shown(stack) if stack else shown(filename)


@postkorb.command("assign")
@click.argument("document_id")
@click.option("--case", "case_number", required=True, help="The case the document belongs to.")
@click.option("--type", "document_type", required=True, help="Its document type (Dokumentart).")
@click.option("--title", help="Its title (optional).")
@json_option
@pass_state
def postkorb_assign(
    state: State, document_id: str, case_number: str, document_type: str, title: str | None, as_json: bool
) -> None:
    """Move a document from the Postkorb into its case, with its type."""
    from ekakte.api import assign_from_postkorb, parse_document_id

    done = assign_from_postkorb(
        state.archive, state.actor, parse_document_id(document_id), case_number, document_type, title=title
    )
    if as_json:
        emit_json(done.as_json())
        return
    click.echo(f"{done.document_id} is in case {shown(done.case_number)} now ({shown(done.document_type)})")


@postkorb.command("sort")
@json_option
@pass_state
def postkorb_sort(state: State, as_json: bool) -> None:
    """File what the Postkorb's documents name: the case number read in each one's first pages.

    Each document the sort has not looked at yet (and whose first pages are read) is filed in the case
    its text names with certainty, with the type mail_document_type, or stays with what was found. For
    a cron job after `ekakte ocr work`, run as a principal with the triage role.
    """
    from ekakte.api import MAX_LIMIT, sort_postkorb_document
    from ekakte.api import postkorb as waiting

    entries = list(every(lambda after: waiting(state.archive, state.actor, limit=MAX_LIMIT, after=after)))
    done = []
    for entry in entries:
        if entry.finding:
            continue  # looked at before: it waits for a person
        try:
            done.append(sort_postkorb_document(state.archive, state.actor, entry.document_id))
        except NotFound:
            continue  # assigned by a person since the list was read
    if as_json:
        emit_json([d.as_json() for d in done])
        return
    for d in done:
        click.echo(f"{d.document_id}  {'filed' if d.assigned else 'left':<6} {shown(d.finding)}")
    filed = sum(1 for d in done if d.assigned)
    pending = sum(1 for d in done if d.pending)
    click.echo(
        f"{filed} filed, {len(done) - filed - pending} left for the triage role, {pending} not read yet"
    )


@postkorb.command("return")
@click.argument("document_id")
@click.option("--reason", required=True, help="Why it goes back (shown to the station).")
@json_option
@pass_state
def postkorb_return(state: State, document_id: str, reason: str, as_json: bool) -> None:
    """Send a document back to the scanning station, and delete its scan.

    \b
    ekakte postkorb return 3f6c… --reason "Schreiben an die Familienkasse, weitergeleitet"

    For what is not the job centre's to keep: a letter for another authority, a page to scan again. The
    station finds the paper in `ekakte postkorb returned`; the scan goes as the sweep deletes, with a
    line in the deletion protocol. Refused under a legal hold or the store's Object Lock.
    """
    from ekakte.api import parse_document_id, return_to_station

    done = return_to_station(state.archive, state.actor, parse_document_id(document_id), reason)
    if as_json:
        emit_json(done.as_json())
        return
    where = shown(done.stack) if done.stack else shown(done.original_filename)
    click.echo(f"{done.document_id} goes back to station {shown(done.station)}: {where}")
    if not done.deleted:
        click.echo(
            "its scan could not be deleted yet (the store is not reachable): the next return or sweep"
            " deletes it; until then no one sees it",
            err=True,
        )


@postkorb.command("returned")
@click.option("--station", help="Only those of this scanning station.")
@click.option("--open", "open_only", is_flag=True, help="Only those the station has not taken back yet.")
@json_option
@pass_state
def postkorb_returned(state: State, station: str | None, open_only: bool, as_json: bool) -> None:
    """The documents sent back to the stations, oldest first: what to look for in the paper, and why.

    For the scanning stations (scan operators) and the triage role. Mark one taken back with
    `ekakte postkorb taken-back ID`.
    """
    from ekakte.api import MAX_LIMIT, returned_documents

    entries = list(
        every(
            lambda after: returned_documents(
                state.archive, state.actor, station=station, open_only=open_only, limit=MAX_LIMIT, after=after
            )
        )
    )
    if as_json:
        emit_json([e.as_json() for e in entries])
        return
    for e in entries:
        pages, origin = _pages_and_origin(e.page_count, e.stack, e.original_filename)
        taken = f"taken back {e.taken_back_at:%Y-%m-%d}" if e.taken_back_at else "open"
        click.echo(
            f"{e.document_id}  {e.returned_at:%Y-%m-%d %H:%M}  {shown(e.station)}  received {e.received_on}"
            f"  {pages}  {origin}  [{taken}]"
        )
        click.echo(f"{'':<36}  why: {shown(e.reason)} ({shown(e.returned_by)})")
    click.echo(f"{len(entries)} document{'s' if len(entries) != 1 else ''} sent back")


@postkorb.command("taken-back")
@click.argument("document_id")
@json_option
@pass_state
def postkorb_taken_back(state: State, document_id: str, as_json: bool) -> None:
    """Record that the station has the paper of a returned document back (scan operators)."""
    from ekakte.api import parse_document_id, take_back

    done = take_back(state.archive, state.actor, parse_document_id(document_id))
    if as_json:
        emit_json(done.as_json())
        return
    when = f"{done.taken_back_at:%Y-%m-%d %H:%M}" if done.taken_back_at else "?"
    click.echo(f"{done.document_id} taken back by {shown(done.taken_back_by or '')} at {when}")


COMMANDS = [coversheet, reference_code, postkorb]
