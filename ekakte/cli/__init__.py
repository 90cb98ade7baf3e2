"""The `ekakte` command: parses arguments, calls the library, prints. Errors become exit codes here only."""

from __future__ import annotations

import io
import json
import sys
import traceback
from typing import TYPE_CHECKING, Any, NoReturn

import click

from ekakte import __version__
from ekakte.errors import EkakteError, ExitCode, shown

if TYPE_CHECKING:
    from ekakte.actor import Actor
    from ekakte.archive import Archive
    from ekakte.config import Settings
    from ekakte.retention.worm import LockOutcome


class State:
    """Per-invocation context: settings, the open archive and the acting user, made on first use."""

    def __init__(self, debug: bool, on_behalf_of: str | None = None) -> None:
        self.debug = debug
        self.on_behalf_of = on_behalf_of
        self._settings: Settings | None = None
        self._archive: Archive | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from ekakte.config import load_settings

            self._settings = load_settings()
            for notice in self._settings.notices:
                click.echo(f"ekakte: warning: {notice}", err=True)
        return self._settings

    @property
    def archive(self) -> Archive:
        if self._archive is None:
            from ekakte.archive import Archive

            self._archive = Archive.open(self.settings)
        return self._archive

    @property
    def actor(self) -> Actor:
        from ekakte.actor import Actor

        return Actor.from_os(self.on_behalf_of)

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()


pass_state = click.make_pass_decorator(State)


def emit_json(data: Any) -> None:
    """Print data as JSON, exactly: every string parses back to the stored value. json.dumps escapes C0
    controls already; what else a terminal would act on (C1, bidi controls, lone surrogates, …) is
    written as \\uNNNN too, which is the same value to every JSON reader and inert on a terminal."""
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)
    click.echo("\n".join(_json_line(line) for line in text.split("\n")))


def _json_line(line: str) -> str:
    # Outside its strings json.dumps writes only ASCII punctuation, digits and spaces, so every character
    # that shown() would change is inside a string, where \\uNNNN means that character.
    if line.isprintable():
        return line
    return "".join(c if shown(c) == c else _json_escape(c) for c in line)


def _json_escape(char: str) -> str:
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON spells characters beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def echo_error(message: object) -> None:
    """One line on stderr; the message may carry names, titles or paths an attacker chose."""
    click.echo(f"ekakte: {shown(message)}", err=True)


def objects_told(outcome: LockOutcome | None, what: str) -> int:
    """After a change that is in force in ekakte (a hold, due dates): say on stderr what the Object Lock
    store did not take, and the exit code: 0, 12 when it refused some objects, 8 when it was away."""
    problem = outcome.problem() if outcome is not None else None
    if outcome is None or problem is None:
        return ExitCode.OK
    echo_error(f"{problem}; {what} is in force in ekakte, and the next sweep tells the store again")
    return ExitCode.STORAGE if outcome.unreachable is not None else ExitCode.PARTIAL


def _print_traceback() -> None:
    # The exception's message is in the traceback too, so it is escaped line by line as well.
    for line in traceback.format_exc().rstrip("\n").split("\n"):
        click.echo(shown(line), err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show the traceback of errors.")
@click.option(
    "--as",
    "on_behalf_of",
    metavar="USER",
    help="Act for USER (only for `service` principals, e.g. the benefits software; both are audited).",
)
@click.version_option(__version__, prog_name="ekakte")
@click.pass_context
def cli(ctx: click.Context, debug: bool, on_behalf_of: str | None) -> None:
    """ekakte: the archive of the E-Akte (scans, their metadata, their integrity).

    Configuration comes from EKAKTE_* environment variables and the file named by EKAKTE_CONFIG
    (see `ekakte config show`). The acting user is your OS login; what it may do is decided by its
    roles and teams (`ekakte user list`), and every access is written to the audit trail.
    """
    state = State(debug, on_behalf_of)
    ctx.obj = state
    ctx.call_on_close(state.close)


def _register() -> None:
    from ekakte.cli import admin, audit, cases, documents, imports, integrity, ocr, retention, types, users

    for module in (admin, imports, ocr, cases, documents, integrity, retention, users, audit, types):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> NoReturn:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        result = cli.main(args=args, prog_name="ekakte", standalone_mode=False)
        code = int(result) if isinstance(result, int) else ExitCode.OK
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        # Click's usage errors quote the offending argument, which a script may have taken from a file
        # name or a sidecar: each line of its message is escaped like any other untrusted text.
        message = io.StringIO()
        exc.show(file=message)
        for line in message.getvalue().rstrip("\n").split("\n"):
            click.echo(shown(line), err=True)
        code = exc.exit_code
    except click.exceptions.Abort:
        click.echo("ekakte: aborted", err=True)
        code = 130
    except EkakteError as exc:
        if debug:
            _print_traceback()
        echo_error(exc)
        code = exc.exit_code
    except KeyboardInterrupt:
        click.echo("ekakte: interrupted", err=True)
        code = 130
    except BrokenPipeError:
        code = ExitCode.OK  # `ekakte … | head` closed the pipe: not an error
    except Exception as exc:
        if debug:
            _print_traceback()
        echo_error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        code = ExitCode.INTERNAL
    sys.exit(code)
