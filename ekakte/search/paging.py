"""The cursor of a search's next results: where in the ranking the last results ended, as opaque text.

A cursor holds the last hit's rank and document id, which its caller has just been shown, and a check
value of the search it continues (the query as parsed, the case and type filters, the acting user), so
that a cursor handed to another search is refused rather than read as a place in a foreign ranking.
It holds no secret and needs none: the next results are a search of their own, with the caller's scope
decided and audited again, so a forged cursor can only choose where the caller's own results resume.
The check value is not keyed, so whoever holds a cursor can test guesses of the query it continues:
a cursor is as confidential as its query, and goes where the query's results go, nowhere else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import uuid
from dataclasses import dataclass

from ekakte.actor import Actor
from ekakte.errors import InvalidInput
from ekakte.search.query import Query

_VERSION = 1
# version, the search's check value, the last hit's rank (exact, as a double), its document id
_LAYOUT = struct.Struct(">B8sd16s")
_TEXT = re.compile(rf"[A-Za-z0-9_-]{{{4 * _LAYOUT.size // 3}}}")  # base64url of its 33 bytes, no padding


@dataclass(frozen=True)
class Position:
    """Where a page of results ended: its last hit's rank and document id. The ranking's order is rank
    descending, then document id ascending, so the next results are those after this key."""

    rank: float
    document_id: uuid.UUID


def search_check(actor: Actor, query: Query, case_number: str | None, document_type: str | None) -> bytes:
    """What a cursor must have been made for to continue this search (8 bytes, not secret: all of it is
    the caller's own input)."""
    given = [
        actor.name,
        actor.on_behalf_of,
        query.terms,
        query.phrases,
        query.chunks,
        query.phrase_texts,
        case_number,
        document_type,
    ]
    return hashlib.blake2b(json.dumps(given).encode("ascii"), digest_size=8, person=b"ekakte-search").digest()


def write_cursor(check: bytes, position: Position) -> str:
    packed = _LAYOUT.pack(_VERSION, check, position.rank, position.document_id.bytes)
    return base64.urlsafe_b64encode(packed).decode("ascii")


def read_cursor(cursor: str, check: bytes) -> Position:
    """The position a cursor of this search holds; InvalidInput for anything else."""
    if not _TEXT.fullmatch(cursor):
        raise InvalidInput("not a cursor of search results: continue with the one the last results gave")
    version, made_for, rank, document_id = _LAYOUT.unpack(base64.urlsafe_b64decode(cursor))
    if version != _VERSION or not math.isfinite(rank):
        raise InvalidInput("not a cursor of search results: continue with the one the last results gave")
    if made_for != check:
        raise InvalidInput(
            "the cursor belongs to another search: continue with the same query, case and type"
        )
    return Position(rank, uuid.UUID(bytes=document_id))
