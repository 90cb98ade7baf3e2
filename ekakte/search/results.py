"""What a search answers: its hits, best first, and what the caller should know about them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from ekakte.jsonable import AsJson


@dataclass(frozen=True)
class SearchHit:
    document_id: uuid.UUID
    case_number: str
    document_type: str
    title: str | None
    received_on: date
    page: int
    snippet: str
    rank: float  # higher is better; comparable within one result list only

    def as_json(self) -> dict[str, Any]:
        return {
            "document_id": str(self.document_id),
            "case_number": self.case_number,
            "document_type": self.document_type,
            "title": self.title,
            "received_on": self.received_on.isoformat(),
            "page": self.page,
            "snippet": self.snippet,
            "rank": round(self.rank, 6),
        }


@dataclass(frozen=True)
class SearchResult(AsJson):
    """The hits, best first, and whether more pages matched than were ranked (see RANK_WINDOW): then
    the hits are the best among the newest matching pages, and more words, a case or a type narrow it."""

    hits: list[SearchHit]
    window_full: bool
    # Words and phrases of the query (as typed, lower-cased) that the index leaves out, so they could not
    # be searched for: on PostgreSQL the German stop words ("sehr", "zu einem"). Told only when nothing
    # was found, where a caseworker would otherwise read "no such document" into it.
    ignored: tuple[str, ...] = ()
    # The cursor of the next results (search(..., after=next)), None when these are the last: opaque
    # text, the same for every transport (paging.py says what it holds).
    next: str | None = None

    json_names: ClassVar[Mapping[str, str]] = {"hits": "results"}
