"""`ekakte doc show` and `ekakte doc get`: one document's metadata and its original."""

from __future__ import annotations

from pathlib import Path

import click

from ekakte.cli import State, emit_json, pass_state


@click.group()
def doc() -> None:
    """Single documents, identified by the ID `ekakte case show` prints."""


@doc.command("show")
@click.argument("document_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def doc_show(state: State, document_id: str, as_json: bool) -> None:
    """Show a document's metadata."""
    from ekakte.documents import get_document, parse_document_id

    info = get_document(state.archive, state.actor, parse_document_id(document_id))
    data = info.as_json()
    if as_json:
        emit_json(data)
        return
    width = max(len(k) for k in data)
    for key, value in data.items():
        click.echo(f"{key.ljust(width)}  {'-' if value is None else value}")


@doc.command("get")
@click.argument("document_id")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="File to write.")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@pass_state
def doc_get(state: State, document_id: str, output: Path, force: bool) -> None:
    """Write the original scan to a file, verified against its SHA-256."""
    from ekakte.documents import export_original, parse_document_id

    info = export_original(state.archive, state.actor, parse_document_id(document_id), output, force=force)
    click.echo(f"wrote {output} ({info.size_bytes} bytes, SHA-256 verified)", err=True)


COMMANDS = [doc]
