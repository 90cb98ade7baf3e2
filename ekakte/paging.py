"""Keyset paging: a page of results and the opaque cursor that asks for the next one.

A cursor holds the sort key of the last item returned (never an offset: a page stays right while rows
are added before it), written as base64url JSON with the list's name, so that a cursor of one list is
refused by another. It holds nothing the caller did not see in the page itself; a forged one can only
move the position within what the caller may see anyway.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from ekakte.errors import InvalidInput

T = TypeVar("T")
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: str | None  # the cursor of the next page; None when this is the last

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def encode(listing: str, key: Sequence[str | int]) -> str:
    raw = json.dumps([listing, list(key)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(listing: str, cursor: str, kinds: Sequence[type]) -> list[Any]:
    """The key in `cursor`, checked against the list's name and the key's types; InvalidInput if not."""
    try:
        name, key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error):
        raise InvalidInput("the cursor is not one ekakte gave out") from None
    if (
        name != listing
        or not isinstance(key, list)
        or len(key) != len(kinds)
        or not all(type(k) is kind for k, kind in zip(key, kinds, strict=True))
    ):
        raise InvalidInput(f"the cursor is not one of the {listing} list")
    return key


def decode_time_and_id(listing: str, cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The position in a list ordered by a time and a document id (the Postkorb, the returns): None
    without a cursor; InvalidInput for one that is not the list's."""
    if not cursor:
        return None
    stamp, last_id = decode(listing, cursor, [str, str])
    try:
        return datetime.fromisoformat(stamp), uuid.UUID(last_id)
    except ValueError:
        raise InvalidInput(f"the cursor is not one of the {listing} list") from None


def check_limit(limit: int | None) -> int | None:
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"a page holds 1 to {MAX_LIMIT} entries, not {limit}")
    return limit


def cut(listing: str, rows: list[T], limit: int | None, key: Callable[[T], Sequence[str | int]]) -> Page[T]:
    """A page from rows read with one more than `limit`: the extra row only says that there is more."""
    if limit is None or len(rows) <= limit:
        return Page(rows, None)
    items = rows[:limit]
    return Page(items, encode(listing, key(items[-1])))
