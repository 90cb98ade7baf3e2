"""`ekakte archive …`: the Aussonderung (xdomea): offer, the archive's answers, hand-over, status."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ekakte.cli.base import State, emit_json, json_option, pass_state
from ekakte.errors import ExitCode, InvalidInput, shown

if TYPE_CHECKING:
    from ekakte.api import ReceiveReport

_OUT = click.option(
    "-o",
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="The transfer folder the message is written to (the archive's inbox).",
)


@click.group("archive")
def archive_group() -> None:
    """The Aussonderung: offer due records to the archive, take its answers, hand over what it keeps."""


@archive_group.command("offer")
@click.option("--as-of", "as_of", metavar="DATE", help="Offer what is due as of this day (default: today).")
@click.option("--limit", type=click.IntRange(1), help="Offer at most N documents in this process.")
@_OUT
@json_option
@pass_state
def archive_offer(state: State, as_of: str | None, limit: int | None, out_dir: Path, as_json: bool) -> None:
    """Write an Anbieteverzeichnis (0501) of everything due under `offer` rules, not held, not offered yet.

    \b
    ekakte archive offer -o /srv/transfer/kreisarchiv
    """
    from ekakte.api import offer_to_archive, parse_day

    day = parse_day(as_of, "--as-of") if as_of else None
    report = offer_to_archive(state.archive, state.actor, out_dir, as_of=day, limit=limit)
    if as_json:
        emit_json(report.as_json())
    else:
        click.echo(shown(report.summary()))


@archive_group.command("receive")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--from",
    "inbox",
    type=click.Path(path_type=Path, file_okay=False),
    help="Take every message (*.xml, *.zip) in this folder, oldest first: taken ones move to done/,"
    " refused ones to rejected/ with a .reason file beside them.",
)
@_OUT
@json_option
@pass_state
def archive_receive(
    state: State, files: tuple[Path, ...], inbox: Path | None, out_dir: Path, as_json: bool
) -> int:
    """Take the archive's messages (0502 appraisal, 0504/0507 receipts, 0506 import confirmation), each
    the XML or its zip, in the order given. A 0502 is answered with a 0505 receipt in the folder.

    A refused message changes nothing and is named with its reason on stderr; the others are taken
    (then exit 12). The same message twice is taken once; the second time says so.

    \b
    ekakte archive receive 0b6f…_Aussonderung.Bewertungsverzeichnis.0502.zip -o /srv/transfer/out
    ekakte archive receive --from /srv/transfer/in -o /srv/transfer/out     # cron
    """
    if bool(files) == bool(inbox):
        raise click.UsageError("name the message files, or a folder with --from (one of the two)")
    paths = list(files) if files else _waiting(inbox) if inbox is not None else []
    reports, refused = [], 0
    for path in paths:
        try:
            report = _receive_one(state, path, out_dir, follow=inbox is None)
        except InvalidInput as exc:
            if files and len(files) == 1:
                raise
            click.echo(f"ekakte: {shown(exc)}", err=True)
            refused += 1
            if inbox is not None:
                _move(path, inbox / "rejected", reason=str(exc))
            continue
        if inbox is not None:
            _move(path, inbox / "done")
        reports.append(report)
        if not as_json:
            click.echo(shown(report.summary()))
    if as_json:
        emit_json([r.as_json() for r in reports])
    elif inbox is not None and not paths:
        click.echo(f"no messages in {shown(inbox)}")
    return ExitCode.PARTIAL if refused else ExitCode.OK


def _waiting(inbox: Path) -> list[Path]:
    if not inbox.is_dir():
        raise InvalidInput(f"{inbox} is not a folder", field="from")
    found = [
        p
        for p in inbox.iterdir()
        if (p.is_file() or p.is_symlink())
        and not p.name.startswith(".")
        and p.suffix.lower() in (".xml", ".zip")
    ]
    return sorted(found, key=lambda p: (p.lstat().st_mtime, p.name))


def _receive_one(state: State, path: Path, out_dir: Path, *, follow: bool) -> ReceiveReport:
    from ekakte.api import MAX_MESSAGE_BYTES, receive_from_archive

    try:
        # From an inbox never through a symbolic link: a link planted there would have ekakte read, as
        # the records manager's account, whatever it points at. (A file named on the command line is
        # the caller's own choice.)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise InvalidInput(f"{path.name}: not a regular file; messages are taken as files only")
            data = fh.read(MAX_MESSAGE_BYTES + 1)
        if len(data) > MAX_MESSAGE_BYTES:
            raise InvalidInput(f"{path.name}: larger than {MAX_MESSAGE_BYTES // 2**20} MiB; not a message")
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidInput(f"{path.name}: a symbolic link; messages are taken as files only") from None
        raise InvalidInput(f"{path}: cannot read: {exc.strerror}") from None
    return receive_from_archive(state.archive, state.actor, data, path.name, out_dir)


def _move(path: Path, folder: Path, reason: str | None = None) -> None:
    """Into done/ or rejected/ (with the reason beside it); a name taken there gets a number."""
    folder.mkdir(mode=0o700, exist_ok=True)
    target = folder / path.name
    n = 1
    while target.exists():
        target = folder / f"{path.stem}.{n}{path.suffix}"
        n += 1
    path.replace(target)
    if reason is not None:
        target.with_name(target.name + ".reason").write_text(reason + "\n", encoding="utf-8")


@archive_group.command("hand-over")
@click.argument("process")
@_OUT
@json_option
@pass_state
def archive_hand_over(state: State, process: str, out_dir: Path, as_json: bool) -> None:
    """Write the Aussonderung (0503) of a process: the records the archive keeps (A), with their files.

    \b
    ekakte archive hand-over 0b6f3c1e-... -o /srv/transfer/kreisarchiv
    """
    from ekakte.api import hand_over_to_archive

    report = hand_over_to_archive(state.archive, state.actor, process, out_dir)
    if as_json:
        emit_json(report.as_json())
    else:
        click.echo(shown(report.summary()))


@archive_group.command("status")
@click.option("--process", help="Only this process, with its messages.")
@json_option
@pass_state
def archive_status(state: State, process: str | None, as_json: bool) -> None:
    """The processes and their records: offered, decided (A/V/B), handed over, archived, overdue."""
    from ekakte.api import archive_status as status

    processes = status(state.archive, state.actor, process)
    if as_json:
        emit_json([p.as_json() for p in processes])
        return
    for p in processes:
        click.echo(shown(p.summary()))
        if process:
            for m in p.messages:
                arrow = "→ archive" if m["direction"] == "out" else "← archive"
                line = f"  {m['at'][:16]}  {m['kind']} {arrow}  {m['name']}  ({m['records']} records)"
                click.echo(shown(line))
    if not processes:
        click.echo("no archive processes")


COMMANDS = [archive_group]
