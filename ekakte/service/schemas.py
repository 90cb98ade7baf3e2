"""The shapes of the API's answers, for its OpenAPI document. The answers themselves are the use cases'
results as `as_json` makes them (the CLI's --json prints the same); tests/integration/test_service_fuzz.py
checks every answer against these."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """application/problem+json (RFC 9457); `code` is the error's stable name, `field` the input it is
    about, `request_id` the request's (quote it to the archive's administrators)."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None
    request_id: str | None = None


class Case(_Shape):
    case_number: str
    team: str | None
    opened_on: date
    closed_on: date | None


class Document(_Shape):
    id: uuid.UUID
    case_number: str
    document_type: str
    title: str | None
    received_on: date
    original_filename: str | None
    media_type: str
    size_bytes: int
    sha256: str
    page_count: int | None
    state: str
    station: str
    operator: str
    batch_id: uuid.UUID | None
    stored_at: datetime
    document_date: date | None
    due_on: date | None
    retention_rule: str | None
    restricted: bool
    withheld: bool


class CaseView(_Shape):
    case: Case
    documents: list[Document]
    next: str | None


class PageState(_Shape):
    page: int
    ocr_state: str
    engine: str | None
    reason: str | None


class DocumentFacts(Document):
    pages: list[PageState]


class PageText(_Shape):
    page: int
    ocr_state: str
    text: str | None
    confidence: float | None
    engine: str | None
    language: str | None
    rotation: int | None
    reason: str | None


class DocumentText(Document):
    pages: list[PageText]


class SearchHit(_Shape):
    document_id: uuid.UUID
    case_number: str
    document_type: str
    title: str | None
    received_on: date
    page: int
    snippet: str
    rank: float


class SearchResult(_Shape):
    results: list[SearchHit]
    window_full: bool
    ignored: list[str]
    next: str | None


class ImportResult(_Shape):
    status: str
    document_id: uuid.UUID
    file: str
    case_number: str
    document_type: str
    media_type: str
    page_count: int | None
    size_bytes: int
    sha256: str
    lock_problem: str | None = None


class AuditEntry(_Shape):
    id: int
    at: str
    actor: str
    on_behalf_of: str | None
    action: str
    outcome: str
    case_number: str | None
    document_id: str | None
    reason: str | None
    channel: str | None
    client_address: str | None
    request_id: str | None


class AuditPage(_Shape):
    entries: list[AuditEntry]
    next: str | None


class HeldBy(_Shape):
    hold: int
    reason: str


class PlanItem(_Shape):
    document_id: uuid.UUID
    case_number: str
    document_type: str
    received_on: date
    due_on: date
    rule: str | None
    rule_version: int | None
    deletable_since: date
    held_by: list[HeldBy]


class PlanPage(_Shape):
    items: list[PlanItem]
    count: int


class LockRefusal(BaseModel):
    model_config = ConfigDict(extra="allow")


class LockOutcome(BaseModel):
    model_config = ConfigDict(extra="allow")
    changed: int
    refused: list[LockRefusal]
    unreachable: str | None


class Hold(_Shape):
    id: int
    case_number: str | None
    document_id: uuid.UUID | None
    reason: str
    until: date | None
    created_at: datetime
    created_by: str
    released_at: datetime | None
    released_by: str | None
    active: bool
    objects: LockOutcome | None = None


class HoldPage(_Shape):
    holds: list[Hold]
    next: str | None


UPLOAD_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["file", "case_number", "type"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "PDF, TIFF, JPEG or PNG"},
        "case_number": {"type": "string", "maxLength": 64},
        "type": {"type": "string", "maxLength": 100, "description": "A configured document type"},
        "received_on": {"type": "string", "description": "The day it arrived (default today)"},
        "title": {"type": "string", "maxLength": 500},
        "document_date": {"type": "string", "description": "The date the document bears"},
        "station": {"type": "string", "maxLength": 64, "description": "Where it was scanned or sent from"},
    },
}
