"""Days as the retention commands take them: ISO or German, any day (past or future) for a plan."""

from __future__ import annotations

from datetime import date, datetime

from ekakte.errors import InvalidInput


def parse_day(text: str, what: str, *, future: bool = True) -> date:
    """YYYY-MM-DD or DD.MM.YYYY. Unlike a received date, a retention day may lie in the future."""
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            day = datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
        if not future and day > date.today():
            raise InvalidInput(f"invalid {what} {text!r}: it lies in the future")
        return day
    raise InvalidInput(f"invalid {what} {text!r}: expected YYYY-MM-DD or DD.MM.YYYY")
