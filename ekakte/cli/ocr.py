"""`ekakte ocr work` and `ocr retry`: reading the scans' text."""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING, Any

import click

from ekakte.cli.base import State, emit_json, pass_state
from ekakte.errors import ExitCode, shown

if TYPE_CHECKING:
    from ekakte.ocr.worker import OcrReport


@click.group()
def ocr() -> None:
    """OCR of stored scans (tesseract; German first)."""


@ocr.command("work")
@click.option(
    "--workers", type=click.IntRange(1, 256), help="tesseract processes at once; default one per core."
)
@click.option("--once", is_flag=True, help="Stop when no pending page is left (default: keep polling).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report at the end.")
@pass_state
def ocr_work(state: State, workers: int | None, once: bool, as_json: bool) -> int:
    """Read pending pages. Any number of workers on any number of machines may run at once.

    \b
    ekakte ocr work --once          # cron: everything pending, then exit
    ekakte ocr work --workers 4     # a service: keeps polling; stop it with SIGTERM
    """
    report = run_ocr_command(state, workers, once=once, document_ids=None, quiet=as_json)
    if as_json:
        emit_json(report.as_json())
    else:
        click.echo(shown(report.summary()))
    return ExitCode.PARTIAL if report.failed else ExitCode.OK


@ocr.command("retry")
@click.option("--document", "document", metavar="ID", help="Only this document's failed pages.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def ocr_retry(state: State, document: str | None, as_json: bool) -> None:
    """Queue failed pages again, their attempts counted from 0, once their cause is mended.

    \b
    ekakte ocr retry && ekakte ocr work --once      # after installing a missing language model
    ekakte ocr retry --document 0b6f3c1e-...        # one document, after its original was restored
    """
    from ekakte.documents import parse_document_id
    from ekakte.ocr.worker import retry_failed

    queued = retry_failed(state.archive, state.actor, parse_document_id(document) if document else None)
    if as_json:
        emit_json({"queued": queued})
    else:
        click.echo(f"OCR: {queued} failed page{'s' if queued != 1 else ''} queued again")


def run_ocr_command(
    state: State, workers: int | None, *, once: bool, document_ids: list[Any] | None, quiet: bool
) -> OcrReport:
    """run_ocr with a progress bar on a terminal and a clean stop on SIGTERM / Ctrl-C."""
    from ekakte.ocr.worker import run_ocr

    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = signal.signal(signal.SIGTERM, stop)
    counted = 0

    def progress(_outcome: Any) -> None:
        # A counter, not a bar: a worker does not know how many pages other workers will take.
        nonlocal counted
        counted += 1
        click.echo(f"\rOCR: {counted} page{'s' if counted != 1 else ''} read", nl=False, err=True)

    show_progress = not quiet and sys.stderr.isatty()
    try:
        return run_ocr(
            state.archive,
            state.actor,
            workers=workers,
            once=once,
            document_ids=document_ids,
            progress=progress if show_progress else None,
            should_stop=lambda: stopping,
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
        if counted:
            click.echo("", err=True)


COMMANDS = [ocr]
