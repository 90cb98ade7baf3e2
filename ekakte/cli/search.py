"""`ekakte search`: finding documents by their text, a page of results at a time."""

from __future__ import annotations

import click

from ekakte.cli.base import State, emit_json, json_option, pass_state
from ekakte.errors import InvalidInput, shown


def _limit(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
    """The library refuses such a limit too; here the message can name the option."""
    from ekakte.api import MAX_SEARCH_RESULTS

    if not 1 <= value <= MAX_SEARCH_RESULTS:
        raise InvalidInput(f"--limit must be between 1 and {MAX_SEARCH_RESULTS}")
    return value


@click.command("search")
@click.argument("query")
@click.option("--case", "case_number", help="Only this case.")
@click.option("--type", "document_type", help="Only documents of this type.")
@click.option(
    "--limit", type=int, default=20, show_default=True, callback=_limit, help="At most this many documents."
)
@click.option("--after", metavar="CURSOR", help="The next results: the cursor the previous ones ended with.")
@json_option
@pass_state
def search_command(
    state: State,
    query: str,
    case_number: str | None,
    document_type: str | None,
    limit: int,
    after: str | None,
    as_json: bool,
) -> None:
    """Find documents by their text: words and "quoted phrases", all must match.

    \b
    ekakte search Mietvertrag
    ekakte search 'Kontoauszug März' --case 12345BG0001234
    ekakte search '"Bewilligungsbescheid vom"' --type Bescheid --json
    ekakte search Mietvertrag --after CURSOR    # the next results, CURSOR from the last line
    """
    from ekakte.api import RANK_WINDOW, search

    result = search(
        state.archive,
        state.actor,
        query,
        case_number=case_number,
        document_type=document_type,
        limit=limit,
        after=after,
    )
    if as_json:
        emit_json({"query": query, **result.as_json()})
        return
    if not result.hits:
        click.echo("no further matching documents" if after is not None else "no matching documents")
        if result.ignored:
            words = ", ".join(f'"{shown(w)}"' for w in result.ignored)
            click.echo(
                f"not searched for: {words}: too common to be indexed (stop words); search with other words",
                err=True,
            )
        return
    if result.window_full:
        click.echo(
            f"more than {RANK_WINDOW} pages match: ranked among the newest {RANK_WINDOW};"
            " add words, --case or --type to narrow the search",
            err=True,
        )
    for h in result.hits:
        title = shown(h.title or h.document_type)
        click.echo(
            f"{h.received_on}  {shown(h.case_number)}  {shown(h.document_type):<14}  {h.document_id}"
            f"  p.{h.page}  {title}"
        )
        click.echo(f"    {shown(h.snippet)}")
    if result.next is not None:
        click.echo(f"more results: --after {result.next}")


COMMANDS = [search_command]
