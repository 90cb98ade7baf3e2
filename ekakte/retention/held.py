"""The SQL that says whether a legal hold applies: shared by the holds' use cases, the plan, the sweep,
the Object Lock sync and verify."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, exists, or_

from ekakte.db.models import Document, LegalHold


def active_on(as_of: date) -> Any:
    """SQL: the hold is in force on `as_of` (not released; no end, or an end on or after that day)."""
    return and_(LegalHold.released_at.is_(None), or_(LegalHold.until.is_(None), LegalHold.until >= as_of))


def is_held(as_of: date) -> Any:
    """SQL, for a query over documents: an active hold covers the document or its case."""
    return exists().where(
        active_on(as_of),
        or_(LegalHold.document_id == Document.id, LegalHold.case_id == Document.case_id),
    )
