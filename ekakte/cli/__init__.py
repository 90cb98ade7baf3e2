"""The `ekakte` command: parses arguments, calls the library, prints. Errors become exit codes here only."""

from __future__ import annotations

import io
import sys
import traceback
from typing import NoReturn

import click

from ekakte import __version__
from ekakte.cli.base import State, echo_error
from ekakte.errors import EkakteError, ExitCode, shown

# What to do about an error, in this command line's words (the library's messages name no flag or
# command): by the error's code.
HINTS = {
    "output-exists": "use --force to overwrite it",
    "is-a-directory": "use --batch for a folder",
    "no-team": "create it with `ekakte team add`",
    "user-exists": "change it with `ekakte user grant` or `ekakte user revoke`",
    "document-id": "as `ekakte case show` shows them",
    "hold-target": "give --case or --doc",
    "no-protocol-key": "or run `ekakte init`, which writes the key file",
    "no-seal-key": "or run `ekakte init`, which writes the key file",
    "no-schema": "run `ekakte init` (embedded) or `ekakte db upgrade`",
    "schema-outdated": "run `ekakte db upgrade`",
    "no-database": "run `ekakte init`",
    "runs-as-root": "or give --allow-root",
}


def with_hint(exc: EkakteError) -> str:
    hint = HINTS.get(exc.code)
    return f"{exc}: {hint}" if hint else str(exc)


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
    from ekakte.cli import (
        admin,
        audit,
        cases,
        disposal,
        documents,
        imports,
        integrity,
        mailroom,
        ocr,
        retention,
        scanning,
        search,
        serve,
        types,
        users,
    )

    modules = (
        admin,
        imports,
        mailroom,
        scanning,
        ocr,
        search,
        cases,
        documents,
        integrity,
        retention,
        disposal,
        users,
        audit,
        types,
        serve,
    )
    for module in modules:
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
        echo_error(with_hint(exc))
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
