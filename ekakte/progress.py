"""How long work reports progress and is asked to stop, the same for every use case that takes a while
(rules load, sweep, verify, OCR): a callback with the count done so far, and a question asked between
steps, so that a stop leaves the work at a step boundary, never half-way through one."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int], None]
ShouldStop = Callable[[], bool]


def never() -> bool:
    return False
