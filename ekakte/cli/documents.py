"""`ekakte doc show`, `doc get` and `doc page`: a document's metadata, its original, a page's image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ekakte.cli.base import State, emit_json, json_option, pass_state
from ekakte.errors import shown


@click.group()
def doc() -> None:
    """Single documents, identified by the ID `ekakte case show` prints."""


@doc.command("show")
@click.argument("document_id")
@click.option("--text", "with_text", is_flag=True, help="Print the text of each page (OCR) instead.")
@json_option
@pass_state
def doc_show(state: State, document_id: str, with_text: bool, as_json: bool) -> None:
    """Show a document's metadata (and with --text its text, page by page)."""
    from ekakte.api import document_text, get_document, parse_document_id

    doc_id = parse_document_id(document_id)
    if with_text:
        info, pages = document_text(state.archive, state.actor, doc_id)
        if as_json:
            emit_json({**info.as_json(), "pages": [p.as_json() for p in pages]})
            return
        for page in pages:
            click.echo(f"--- page {page.number}: {_page_state(page)}")
            # A text layer is whatever the PDF's author wrote, escape sequences included: its lines are
            # kept, everything else a terminal would act on is escaped line by line.
            for line in page.text.split("\n") if page.text else ():
                click.echo(shown(line))
        return
    info = get_document(state.archive, state.actor, doc_id)
    data = info.as_json()
    if as_json:
        emit_json(data)
        return
    width = max(len(k) for k in data)
    for key, value in data.items():
        if value is None and info.withheld and key in ("title", "original_filename"):
            value = "(restricted: withheld)"
        click.echo(f"{key.ljust(width)}  {'-' if value is None else shown(value)}")


def _page_state(page: Any) -> str:
    if page.state == "done":
        how = shown(page.engine or "?")
        if page.confidence is not None:
            how += f", confidence {page.confidence:.0f}"
        if page.rotation:
            how += f", turned {page.rotation}°"
        return f"text ({how})"
    if page.state == "pending":
        return "OCR pending"
    return f"{shown(page.state)}: {shown(page.reason or 'no reason recorded')}"


@doc.command("get")
@click.argument("document_id")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="File to write.")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option(
    "--searchable", is_flag=True, help="The searchable PDF (page images with the OCR text) instead."
)
@pass_state
def doc_get(state: State, document_id: str, output: Path, force: bool, searchable: bool) -> None:
    """Write the original scan (or its searchable PDF) to a file, verified against its SHA-256."""
    from ekakte.api import export_original, export_searchable, parse_document_id

    doc_id = parse_document_id(document_id)
    if searchable:
        size = export_searchable(state.archive, state.actor, doc_id, output, force=force).size_bytes
    else:
        size = export_original(state.archive, state.actor, doc_id, output, force=force).size_bytes
    click.echo(f"wrote {shown(output)} ({size} bytes, SHA-256 verified)", err=True)


@doc.command("page")
@click.argument("document_id")
@click.option("--page", "page", type=int, default=1, show_default=True, help="The page, counted from 1.")
@click.option(
    "--width", type=int, default=1200, show_default=True, help="Width of the image in pixels (64-4000)."
)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="File to write.")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@json_option
@pass_state
def doc_page(
    state: State, document_id: str, page: int, width: int, output: Path, force: bool, as_json: bool
) -> None:
    """Write one page of a document as an image (PNG or JPEG, whichever suits the page), as a viewer
    shows it."""
    from ekakte.api import export_page, parse_document_id

    doc_id = parse_document_id(document_id)
    image = export_page(state.archive, state.actor, doc_id, page, width, output, force=force)
    if as_json:
        emit_json({**image.as_json(), "file": str(output)})
        return
    click.echo(
        f"wrote {shown(output)} (page {image.page} of {image.page_count}, {image.media_type},"
        f" {image.width}x{image.height} px, {len(image.data)} bytes)",
        err=True,
    )


COMMANDS = [doc]
