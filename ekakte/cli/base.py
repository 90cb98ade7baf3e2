"""What every command module shares: the per-invocation state (settings, archive, acting user) and output."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ekakte.errors import ExitCode, shown

if TYPE_CHECKING:
    from ekakte.api import Actor, Archive, LockOutcome, Page, Settings

T = TypeVar("T")


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
            from ekakte.api import load_settings

            self._settings = load_settings()
            for notice in self._settings.notices:
                click.echo(f"ekakte: warning: {notice}", err=True)
        return self._settings

    @property
    def archive(self) -> Archive:
        if self._archive is None:
            from ekakte.api import Archive

            self._archive = Archive.open(self.settings)
        return self._archive

    @property
    def actor(self) -> Actor:
        from ekakte.api import Actor

        return Actor.from_os(self.on_behalf_of)

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()


pass_state = click.make_pass_decorator(State)


# The one --json option: what the command prints becomes the library's result as JSON, exactly.
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def emit_json(data: Any) -> None:
    """Print data as JSON, exactly: every string parses back to the stored value. json.dumps escapes C0
    controls already; what else a terminal would act on (C1, bidi controls, lone surrogates, …) is
    written as \\uNNNN too, which is the same value to every JSON reader and inert on a terminal."""
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)
    click.echo("\n".join(_json_line(line) for line in text.split("\n")))


def emit_json_array(items: Iterable[Any]) -> None:
    """One JSON array, written item by item as emit_json would write it whole (the same text, escapes
    included), so that a long listing is never held in memory."""
    first = True
    for item in items:
        text = json.dumps(item, indent=2, ensure_ascii=False)
        lines = "\n".join("  " + _json_line(line) for line in text.split("\n"))
        click.echo(("[\n" if first else ",\n") + lines, nl=False)
        first = False
    click.echo("[]" if first else "\n]")


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


def every(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item of a paged listing, a page at a time (each page is a request of its own, audited)."""
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if page.next is None:
            return
        cursor = page.next


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[Callable[[], bool]]:
    """A `should_stop` for long work: true once SIGTERM arrived (systemd's stop, `kill`), so the work
    ends at its next step boundary and reports what it did. Ctrl-C still interrupts at once."""
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield lambda: stopping
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def counter(label: str, quiet: bool = False) -> Iterator[Callable[[int], None] | None]:
    """A `progress` callback that shows "LABEL: N" on a terminal's stderr (None when not a terminal)."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    shown_any = False

    def show(done: int) -> None:
        nonlocal shown_any
        shown_any = True
        click.echo(f"\r{label}: {done}", nl=False, err=True)

    try:
        yield show
    finally:
        if shown_any:
            click.echo("", err=True)
