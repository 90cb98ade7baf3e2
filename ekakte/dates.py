"""Days as people give them: ISO (2026-11-24) or German (24.11.2026); the one parser of the archive."""

from __future__ import annotations

from datetime import date, datetime

from ekakte.errors import InvalidInput


def parse_day(text: str, what: str, *, future: bool = True, earliest: int | None = None) -> date:
    """YYYY-MM-DD or DD.MM.YYYY. `future=False` refuses a day after today (a received date, a case's
    closing day); `earliest` refuses a year before it. `what` names the input in the message and is
    the error's field."""
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            day = datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
        if not future and day > date.today():
            raise InvalidInput(f"invalid {what} {text!r}: it lies in the future", field=what)
        if earliest is not None and day.year < earliest:
            raise InvalidInput(f"invalid {what} {text!r}: before {earliest}", field=what)
        return day
    raise InvalidInput(f"invalid {what} {text!r}: expected YYYY-MM-DD or DD.MM.YYYY", field=what)
