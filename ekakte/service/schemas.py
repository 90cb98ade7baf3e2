"""The shapes of the API's answers, for its OpenAPI document. The answers are the use cases' results as
`as_json` makes them (the CLI's --json prints the same), and their shapes are made here from the same
dataclasses (`shape`: the fields as `json_names` renames and `json_omit` leaves them, nested results by
their own shapes), so that the document cannot drift from the answers; what `json_extra` adds is named
beside. tests/integration/test_service_fuzz.py checks the answers against the document."""

from __future__ import annotations

import dataclasses
import datetime
import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from ekakte import api

_FORBID = ConfigDict(extra="forbid")
_MADE: dict[type, type[BaseModel]] = {}


def shape(cls: type, **extra: Any) -> type[BaseModel]:
    """A pydantic model of what `cls(...).as_json()` gives: `extra` names what its json_extra adds, as
    (type, default) pairs."""
    if cls in _MADE and not extra:
        return _MADE[cls]
    hints = typing.get_type_hints(cls)
    names = getattr(cls, "json_names", {})
    omit: frozenset[str] = getattr(cls, "json_omit", frozenset())
    fields: dict[str, Any] = {
        names.get(f.name, f.name): (_as_json_type(hints[f.name]), ...)
        for f in dataclasses.fields(cls)
        if f.name not in omit
    }
    fields.update(extra)
    model: type[BaseModel] = create_model(cls.__name__, __config__=_FORBID, **fields)
    if not extra:
        _MADE[cls] = model
    return model


def _as_json_type(hint: Any) -> Any:
    """The type a value of `hint` has in JSON: nested results by their shapes, tuples as lists."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _union(*(_as_json_type(a) for a in args))
    if origin in (list, tuple):
        return _list(_as_json_type(args[0]))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and hasattr(hint, "as_json"):
        return shape(hint)
    return hint


def _list(item: Any) -> Any:
    return list.__class_getitem__(item)


def _union(*members: Any) -> Any:
    return typing.Union.__getitem__(members)


def _model(name: str, base: Any = None, **fields: Any) -> type[BaseModel]:
    if base is not None:
        return create_model(name, __base__=base, **fields)
    return create_model(name, __config__=_FORBID, **fields)


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


Document = shape(api.DocumentInfo)
CaseView = shape(api.CaseView)
DocumentFacts = _model("DocumentFacts", Document, pages=(_list(shape(api.PageState)), ...))
DocumentText = _model("DocumentText", Document, pages=(_list(shape(api.PageText)), ...))
SearchResult = shape(api.SearchResult)
ImportResult = shape(api.ImportResult, lock_problem=(str | None, None))
AuditEntry = shape(api.AuditRecord)
AuditPage = _model("AuditPage", entries=(_list(AuditEntry), ...), next=(str | None, ...))
HeldBy = _model("HeldBy", hold=(int, ...), reason=(str, ...))
PlanItem = shape(api.PlanItem, deletable_since=(datetime.date, ...), held_by=(_list(HeldBy), ...))
PlanPage = _model("PlanPage", items=(_list(PlanItem), ...), count=(int, ...))
Hold = shape(api.HoldInfo, active=(bool, ...), objects=(_union(shape(api.LockOutcome), None), None))
HoldPage = _model("HoldPage", holds=(_list(Hold), ...), next=(str | None, ...))
OfferReport = shape(api.OfferReport)
ReceiveReport = shape(api.ReceiveReport)
HandOverReport = shape(api.HandOverReport)
ProcessStatus = shape(api.ProcessStatus)
ProcessPage = _model("ProcessPage", processes=(_list(ProcessStatus), ...))
PostkorbEntry = shape(api.PostkorbEntry)
PostkorbPage = _model("PostkorbPage", documents=(_list(PostkorbEntry), ...), next=(str | None, ...))
Assignment = shape(api.Assignment)
Sorted = shape(api.Sorted)
Returned = shape(api.Returned)
ReturnsPage = _model("ReturnsPage", documents=(_list(Returned), ...), next=(str | None, ...))
ScanProtocol = shape(api.ScanProtocol, refused=(int, ...), anomalies=(int, ...))
TransferNote = shape(api.TransferNote)
Sample = shape(api.Sample)
CheckResult = shape(api.CheckResult)
PaperStatusList = _model("PaperStatusList", batches=(_list(shape(api.PaperStatus)), ...))
InboxCase = shape(api.InboxCase)

Inbox = _model("Inbox", cases=(_list(InboxCase), ...))

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
