"""`ekakte verify` and `ekakte gc`."""

from __future__ import annotations

import click

from ekakte.cli.base import State, counter, emit_json, json_option, pass_state, stop_on_sigterm
from ekakte.errors import ExitCode, shown


@click.command()
@click.option(
    "--quick", is_flag=True, help="Compare sizes and recorded digests only; do not re-read objects."
)
@click.option(
    "--all", "everything", is_flag=True, help="Check every document and list the store (the default)."
)
@click.option(
    "--sample",
    type=int,
    metavar="N",
    help="Check N documents drawn at random; the store is not listed (no unreferenced objects).",
)
@click.option("--rate", type=float, metavar="MB/S", help="Read at most this many MB a second.")
@json_option
@pass_state
def verify(
    state: State, quick: bool, everything: bool, sample: int | None, rate: float | None, as_json: bool
) -> int:
    """Check every original against its recorded SHA-256; report missing, corrupt and unreferenced objects.

    On an S3 bucket with Object Lock, also compare each object's retain-until date and legal hold with
    what ekakte recorded telling the store ("lock"; the next sweep tells the store again).

    Exits 0 when no object is missing, corrupt or wrongly locked (unreferenced objects are listed but
    are what an interrupted import leaves behind: `ekakte gc` removes them), 10 otherwise.

    \b
    ekakte verify                       every document, every object
    ekakte verify --sample 500 --rate 20  a nightly spot check, gentle on the store
    """
    from ekakte.api import verify as run_verify
    from ekakte.errors import InvalidInput

    if everything and sample is not None:
        raise InvalidInput("--all and --sample exclude each other")
    with stop_on_sigterm() as should_stop, counter("documents checked", quiet=as_json) as progress:
        report = run_verify(
            state.archive, state.actor, checksums=not quick, sample=sample, rate_mb_s=rate,
            progress=progress, should_stop=should_stop,
        )  # fmt: skip
    if as_json:
        emit_json(report.as_json())
    else:
        for p in report.problems:
            # An unreferenced object's key is whatever someone with access to the store named it.
            doc = f" (document {shown(p.document_id)})" if p.document_id else ""
            click.echo(f"{shown(p.kind):<12}  {shown(p.key)}{doc}: {shown(p.detail)}")
        click.echo(shown(report.summary()))
    if not report.ok:
        return ExitCode.INTEGRITY
    return ExitCode.PARTIAL if report.stopped else ExitCode.OK


@click.command()
@click.option(
    "--grace-hours", type=float, help="Keep unreferenced objects younger than this (default from config, 24)."
)
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@json_option
@pass_state
def gc(state: State, grace_hours: float | None, dry_run: bool, as_json: bool) -> None:
    """Remove objects that no document refers to and that are older than the grace period."""
    from ekakte.api import gc as run_gc
    from ekakte.errors import InvalidInput

    if grace_hours is not None and grace_hours < 1:
        raise InvalidInput(
            "--grace-hours must be at least 1: a running import may still claim a younger object"
        )
    report = run_gc(state.archive, state.actor, grace_hours=grace_hours, dry_run=dry_run)
    if as_json:
        emit_json(report.as_json())
        return
    for obj in report.removed:
        click.echo(f"{'would remove' if dry_run else 'removed'}  {shown(obj.key)}  ({obj.size} bytes)")
    for obj, why in report.kept_locked:
        click.echo(f"kept (locked)  {shown(obj.key)}  ({obj.size} bytes): {shown(why)}")
    click.echo(shown(report.summary()))


COMMANDS = [verify, gc]
