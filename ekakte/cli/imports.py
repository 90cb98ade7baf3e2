"""`ekakte import`: single files for one case, or a scanning station's batch folder."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ekakte.cli.base import State, emit_json, json_option, pass_state
from ekakte.errors import ExitCode, InvalidInput, shown

if TYPE_CHECKING:
    from ekakte.api import BatchReport, ImportResult, OcrReport


def _result_line(r: ImportResult) -> str:
    from ekakte.api import POSTKORB_CASE

    label = "stored" if r.status == "stored" else "already stored"
    pages = "? pages" if r.page_count is None else f"{r.page_count} page{'s' if r.page_count != 1 else ''}"
    if r.case_number == POSTKORB_CASE:
        where = f"{pages}, in the Postkorb"
    else:
        where = f"{shown(r.document_type)}, {pages}, case {shown(r.case_number)}"
    return f"{label:<15} {r.document_id}  {shown(r.filename)}  ({where})"


@click.command("import")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--case",
    "case_number",
    help="Case number (BG-Nummer); in batch mode the default for files without sidecar.",
)
@click.option("--type", "document_type", help="Document type (Dokumentart), e.g. Antrag, Bescheid.")
@click.option("--received", help="Date received (YYYY-MM-DD or DD.MM.YYYY); default today.")
@click.option("--title", help="Title of the document.")
@click.option("--document-date", help="The date the document bears (for document_date retention rules).")
@click.option("--station", help="Scanning station ID; default EKAKTE_STATION or the host name.")
@click.option(
    "--batch", "batch_dir", type=click.Path(path_type=Path), help="Import every document file in this folder."
)
@click.option(
    "--settle",
    type=float,
    default=0.0,
    show_default=True,
    help="Batch mode: skip files changed in the last SECONDS (a scanner may still be writing).",
)
@click.option(
    "--allow-root",
    is_flag=True,
    help="Batch mode: run even as root (refused otherwise: run it as the import account).",
)
@click.option(
    "--stack",
    "as_stacks",
    is_flag=True,
    help="The FILES are stacks of mail: each is split at its cover and separator sheets, each part stored"
    " in the case its cover sheet names (no --case, --type, --title).",
)
@click.option(
    "--stacks",
    "batch_stacks",
    is_flag=True,
    help='Batch mode: every file is a stack (a sidecar\'s "stack": "yes" or "no" says so per file).',
)
@click.option("--ocr", "with_ocr", is_flag=True, help="Read the text of what was stored before returning.")
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    help="With --ocr: tesseract processes at once (default: one per core).",
)
@json_option
@pass_state
def import_command(
    state: State,
    files: tuple[Path, ...],
    case_number: str | None,
    document_type: str | None,
    received: str | None,
    title: str | None,
    document_date: str | None,
    station: str | None,
    batch_dir: Path | None,
    settle: float,
    allow_root: bool,
    as_stacks: bool,
    batch_stacks: bool,
    with_ocr: bool,
    workers: int | None,
    as_json: bool,
) -> int:
    """Store scans (PDF, TIFF, JPEG, PNG) in the archive.

    \b
    ekakte import scan.pdf --case 12345BG0001234 --type Antrag
    ekakte import --batch /srv/scans/inbox
    ekakte import --stack post-2026-12-06.pdf

    In batch mode each file may have a sidecar NAME.json with "case", "type", "received", "title",
    "document_date", and "stack" ("yes": split it like --stack; a stack's sidecar gives only "received").
    Stored files move to done/, refused ones to rejected/ with NAME.reason.txt. Links and hard links are
    refused, never followed. Run it as the import account that owns done/ and rejected/, not as root.

    Without --ocr the pages wait for `ekakte ocr work`: the scanning station does not wait for OCR.
    """
    from ekakte.api import DocumentMeta, import_files, parse_date

    if bool(files) == bool(batch_dir):
        raise click.UsageError("give either FILES or --batch DIR")
    received_on = parse_date(received, "received date") if received else None
    dated = parse_date(document_date, "document date") if document_date else None
    archive, actor = state.archive, state.actor
    if with_ocr:
        from ekakte.api import check_ready

        check_ready(state.settings)  # before anything is stored or moved

    if as_stacks and batch_dir is not None:
        raise click.UsageError('--stack takes FILES; in batch mode use --stacks or a sidecar\'s "stack"')
    if batch_stacks and batch_dir is None:
        raise click.UsageError("--stacks is for batch mode (--batch DIR); for FILES use --stack")
    if as_stacks and (case_number or document_type or title or document_date):
        raise click.UsageError("a stack's cover sheets name its cases and types: no --case, --type, --title")
    if batch_dir is not None:
        defaults = DocumentMeta(case_number or "", document_type or "", received_on, title, dated)
        report = _run_batch(
            state, batch_dir, defaults, station, settle, as_json, allow_root=allow_root, stacks=batch_stacks
        )
    elif as_stacks:
        from ekakte.api import import_stacks

        report = import_stacks(archive, actor, list(files), received_on=received_on, station=station)
        if not as_json:
            _print_stacks(report)
    else:
        if not case_number or not document_type:
            raise InvalidInput("importing files needs --case and --type")
        meta = DocumentMeta(case_number, document_type, received_on, title, dated)
        report = import_files(archive, actor, list(files), meta, station=station)
        if not as_json:
            for r in report.results:
                click.echo(_result_line(r))

    ocr_report = None
    if with_ocr and not report.aborted:
        from ekakte.cli.ocr import run_ocr_command

        ids = [r.document_id for r in report.results]
        ocr_report = run_ocr_command(state, workers, once=True, document_ids=ids, quiet=as_json)
    code = _finish(report, as_json, batch=batch_dir is not None, ocr=ocr_report)
    if code == ExitCode.OK and ocr_report is not None and ocr_report.failed:
        return ExitCode.PARTIAL
    return code


def _run_batch(
    state: State,
    directory: Path,
    defaults: Any,
    station: str | None,
    settle: float,
    as_json: bool,
    *,
    allow_root: bool,
    stacks: bool,
) -> BatchReport:
    from ekakte.api import import_directory

    show_bar = not as_json and sys.stderr.isatty()
    bar: Any = None

    def progress(_path: Path, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="importing", file=sys.stderr)
            bar.__enter__()
        bar.update(1)

    try:
        return import_directory(
            state.archive,
            state.actor,
            directory,
            defaults=defaults,
            station=station,
            settle_seconds=settle,
            progress=progress if show_bar else None,
            allow_root=allow_root,
            stacks=stacks,
        )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def _print_stacks(report: BatchReport) -> None:
    """Each stack's page ranges in order: what became a document, and the sheets found between them."""
    for stack in report.stacks:
        click.echo(f"stack {stack.filename} ({stack.page_count} pages, SHA-256 {stack.sha256[:16]}…)")
        for part in stack.parts:
            pages = f"p. {part.first_page}" + (
                f"-{part.last_page}" if part.last_page != part.first_page else ""
            )
            if part.document is not None:
                click.echo(f"  {pages:<12} {_result_line(part.document)}")
                if part.postkorb:
                    click.echo(f"  {'':<12} why: {shown(part.postkorb)}")
            else:
                what = {
                    "cover": "cover sheet",
                    "separator": "separator sheet",
                    "back": "blank back of a sheet",
                }
                click.echo(f"  {pages:<12} {what.get(part.kind, part.kind)}")


def _finish(report: BatchReport, as_json: bool, *, batch: bool, ocr: OcrReport | None = None) -> int:
    """Print the refusals and one summary line; exit 3 (files) or 12 (batch) when anything was refused."""
    if as_json:
        emit_json({**report.as_json(), **({"ocr": ocr.as_json()} if ocr else {})})
    else:
        for rejection in report.rejected:
            click.echo(f"rejected  {shown(rejection.filename)}: {shown(rejection.reason)}", err=True)
        for r in report.results:
            if r.lock_problem:
                note = f"{shown(r.lock_problem)}; the document is stored, and the next sweep tells the store"
                click.echo(f"note: {note}", err=True)
        single_file = not batch and len(report.results) + len(report.rejected) == 1
        if not single_file or report.skipped or report.aborted:
            click.echo(shown(report.summary()))
            # The batch's scan protocol, its check and its paper's status are found by this id.
            click.echo(f"batch {report.batch_id}: `ekakte scan protocol {report.batch_id}`", err=True)

        if ocr is not None:
            click.echo(shown(ocr.summary()))
    if report.aborted:
        raise report.aborted
    if report.rejected:
        return ExitCode.PARTIAL if batch else ExitCode.INVALID_INPUT
    return ExitCode.OK


COMMANDS = [import_command]
