"""The derived objects stored beside a document's original (its renditions): which there are, for what
deletes, checks or hands over a document's objects (the sweep, the returns, verify, gc, the Aussonderung)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ekakte.db.models import Rendition

# The kind of the searchable PDF (ekakte.ocr.rendition makes it), in renditions.kind.
SEARCHABLE_PDF = "searchable-pdf"


def derived_keys(session: Session, document_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """The keys of each document's derived objects (documents without any are left out)."""
    ids = list(document_ids)
    found: dict[uuid.UUID, list[str]] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(Rendition.document_id, Rendition.storage_key)
            .where(Rendition.document_id.in_(ids[start : start + 500]))
            .order_by(Rendition.document_id, Rendition.kind)
        )
        for document_id, key in rows:
            found.setdefault(document_id, []).append(key)
    return found
