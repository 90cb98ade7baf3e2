"""Reading many rows without one long transaction: keyset chunks, each from a short read of its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import literal, tuple_
from sqlalchemy.orm import Session


def in_chunks(
    reading: Callable[[], AbstractContextManager[Session]],
    stmt: Any,
    order: Sequence[Any],
    size: int,
    key: Callable[[Any], tuple[Any, ...]] | None = None,
) -> Iterator[Sequence[Any]]:
    """The rows of `stmt` in the order of the `order` columns (unique together, and selected by
    `stmt`), `size` at a time. Each chunk is read in a transaction of its own (`reading`, e.g.
    Archive.reading) that ends before the caller sees it, and starts after the last row of the one
    before (never an offset: rows written meanwhile neither shift nor repeat a chunk). `key` reads the
    order's values from a row where they are not its columns (a row of one ORM entity)."""
    last: tuple[Any, ...] | None = None
    while True:
        query = stmt.order_by(*order).limit(size)
        if last is not None:
            query = query.where(_after(order, last))
        with reading() as session:
            rows = session.execute(query).all()
        if rows:
            yield rows
        if len(rows) < size:
            return
        last = key(rows[-1]) if key else tuple(rows[-1]._mapping[column] for column in order)


def _after(order: Sequence[Any], last: tuple[Any, ...]) -> Any:
    """(a, b, …) > (x, y, …) as a row-value comparison: PostgreSQL's btree takes it as one range of an
    index on (a, b, …), and SQLite (3.15 and later) as well. Spelled out with OR, PostgreSQL scanned the
    index from its start for every chunk: `retention plan` over 1,000,000 documents took 224 s, not 10."""
    if len(order) == 1:
        return order[0] > last[0]
    return tuple_(*order) > tuple_(
        *(literal(value, column.type) for column, value in zip(order, last, strict=True))
    )
