"""`ekakte ocr work` and `ocr retry`: reading the scans' text."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import click

from ekakte.cli.base import State, counter, emit_json, json_option, pass_state, stop_on_sigterm
from ekakte.errors import ExitCode, shown

if TYPE_CHECKING:
    from ekakte.api import OcrReport


@click.group()
def ocr() -> None:
    """OCR of stored scans (tesseract; German first)."""


@ocr.command("work")
@click.option(
    "--workers", type=click.IntRange(1, 256), help="tesseract processes at once; default one per core."
)
@click.option("--once", is_flag=True, help="Stop when no pending page is left (default: keep polling).")
@click.option(
    "--poll",
    "poll_seconds",
    type=click.FloatRange(0.05, 3600),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="How long an idle worker waits before it looks for pending pages again.",
)
@json_option
@pass_state
def ocr_work(state: State, workers: int | None, once: bool, poll_seconds: float, as_json: bool) -> int:
    """Read pending pages. Any number of workers on any number of machines may run at once.

    \b
    ekakte ocr work --once          # cron: everything pending, then exit
    ekakte ocr work --workers 4     # a service: keeps polling; stop it with SIGTERM
    """
    report = run_ocr_command(
        state, workers, once=once, document_ids=None, quiet=as_json, poll_seconds=poll_seconds
    )
    if as_json:
        emit_json(report.as_json())
    else:
        click.echo(shown(report.summary()))
    return ExitCode.PARTIAL if report.failed else ExitCode.OK


@ocr.command("retry")
@click.option("--document", "document", metavar="ID", help="Only this document's failed pages.")
@json_option
@pass_state
def ocr_retry(state: State, document: str | None, as_json: bool) -> None:
    """Queue failed pages again, their attempts counted from 0, once their cause is mended.

    \b
    ekakte ocr retry && ekakte ocr work --once      # after installing a missing language model
    ekakte ocr retry --document 0b6f3c1e-...        # one document, after its original was restored
    """
    from ekakte.api import parse_document_id, retry_failed

    queued = retry_failed(state.archive, state.actor, parse_document_id(document) if document else None)
    if as_json:
        emit_json({"queued": queued})
    else:
        click.echo(f"OCR: {queued} failed page{'s' if queued != 1 else ''} queued again")


def run_ocr_command(
    state: State,
    workers: int | None,
    *,
    once: bool,
    document_ids: list[Any] | None,
    quiet: bool,
    poll_seconds: float = 5.0,
) -> OcrReport:
    """run_ocr with a count on a terminal and a clean stop on SIGTERM (Ctrl-C gives the pages back)."""
    from ekakte.api import run_ocr

    read = itertools.count(1)
    with stop_on_sigterm() as should_stop, counter("OCR: pages read", quiet=quiet) as show:
        return run_ocr(
            state.archive, state.actor, workers=workers, once=once, document_ids=document_ids,
            poll_seconds=poll_seconds, progress=(lambda _outcome: show(next(read))) if show else None,
            should_stop=should_stop,
        )  # fmt: skip


COMMANDS = [ocr]
