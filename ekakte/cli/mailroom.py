"""`ekakte coversheet`: cover and separator sheets for the mail room to print."""

from __future__ import annotations

import io
from pathlib import Path

import click

from ekakte.cli.base import State, pass_state
from ekakte.errors import shown


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


COMMANDS = [coversheet]
