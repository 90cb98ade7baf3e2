"""The API, version 1: each route calls one use case of `ekakte.api` as the request's actor.

Answers are the use cases' results as JSON (their `as_json`, the same the CLI's --json prints), errors
problem+json (`problems`). A document or case that the caller may not see answers exactly as one that
does not exist: 404 with the same body and headers (`hidden`), and both are decided and audited alike
by the use case, so that neither the status, the body nor the time tells them apart.
"""

from __future__ import annotations

import logging
import re
import tempfile
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ekakte import api
from ekakte.errors import EkakteError, InvalidInput, NotFound, NotPermitted
from ekakte.service import schemas
from ekakte.service.identity import actor
from ekakte.service.problems import Problem

router = APIRouter(prefix="/api/v1")
log = logging.getLogger("ekakte.service")
Caller = Annotated[api.Actor, Depends(actor)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": schemas.Problem, "content": {"application/problem+json": {}}}
    for status in (400, 401, 403, 404, 422, 500, 503)
}


def archive(request: Request) -> Any:
    return request.app.state.archive


@contextmanager
def hidden(kind: str) -> Iterator[None]:
    """Refused and nonexistent as one answer: 404, the same body for every `kind` of thing asked for."""
    try:
        yield
    except NotFound as exc:
        if exc.code in ("no-page", "no-rendition"):  # said only to a caller the document was shown to
            raise
        raise Problem(404, "not-found", f"No such {kind}, or not one you may see.") from None
    except NotPermitted:
        raise Problem(404, "not-found", f"No such {kind}, or not one you may see.") from None


def _iso_day(value: object) -> object:
    """A day as the API takes it: the text YYYY-MM-DD, nothing else (pydantic would also take a number
    as seconds since 1970, so that `as_of=-1e-284` asked for the plan as of 1970-01-01)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_iso_day)]


def _document_id(text: str) -> uuid.UUID:
    return api.parse_document_id(text)


# Cases and documents -------------------------------------------------------------------------------------


@router.get("/cases/{case_number}", responses={200: {"model": schemas.CaseView}, **_ERRORS})
def get_case(
    request: Request,
    caller: Caller,
    case_number: Annotated[str, PathParam(max_length=64)],
    type: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> JSONResponse:
    """A case and its documents that the caller may see, newest first, a page at a time (`next` is the
    `cursor` of the following page)."""
    with hidden("case"):
        view = api.case_documents(archive(request), caller, case_number, type, limit=limit, after=cursor)
    return JSONResponse(view.as_json())


@router.get("/documents/{document_id}", responses={200: {"model": schemas.DocumentFacts}, **_ERRORS})
def get_document(
    request: Request, caller: Caller, document_id: Annotated[str, PathParam(max_length=64)]
) -> JSONResponse:
    """A document's facts (metadata, checksum, retention) and the OCR state of each page."""
    doc_id = _document_id(document_id)
    with hidden("document"):
        info, pages = api.document_pages(archive(request), caller, doc_id)
    return JSONResponse({**info.as_json(), "pages": [p.as_json() for p in pages]})


@router.get("/documents/{document_id}/text", responses={200: {"model": schemas.DocumentText}, **_ERRORS})
def get_text(
    request: Request, caller: Caller, document_id: Annotated[str, PathParam(max_length=64)]
) -> JSONResponse:
    """A document's text, page by page (OCR or the PDF's own text layer)."""
    doc_id = _document_id(document_id)
    with hidden("document"):
        info, pages = api.document_text(archive(request), caller, doc_id)
    return JSONResponse({**info.as_json(), "pages": [p.as_json() for p in pages]})


@router.get(
    "/documents/{document_id}/original",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The original"},
        206: {"content": {"application/octet-stream": {}}, "description": "The range asked for"},
        416: _ERRORS[422],
        **_ERRORS,
    },
)
def get_original(
    request: Request, caller: Caller, document_id: Annotated[str, PathParam(max_length=64)]
) -> Response:
    """The original as stored, verified against its SHA-256 on the way: a corrupt object aborts the
    transfer before its last bytes (the client gets a broken download, never a complete wrong file).
    `ETag` is the SHA-256. One byte range (`Range: bytes=…`, with `If-Range`) is answered with 206, after
    the whole object was read and verified: a range is never sent from an object that fails its check."""
    doc_id = _document_id(document_id)
    wanted = request.headers.get("range")
    detail = "original over the API" + (f", {wanted[:60]}" if wanted else "")
    with hidden("document"):
        original = api.open_original(archive(request), caller, doc_id, detail=detail)
    info = original.info
    etag = f'"{info.sha256}"'
    headers = {
        "ETag": etag,
        "Content-Disposition": _attachment(info.original_filename or f"{info.id}"),
        "Cache-Control": "no-store",
        "Accept-Ranges": "bytes",
    }
    if_range = request.headers.get("if-range")
    span = _byte_range(wanted, info.size_bytes) if wanted and if_range in (None, etag) else None
    if span == "unsatisfiable":
        original.close()
        raise Problem(
            416, "range", f"The document has {info.size_bytes} bytes.",
            headers={"Content-Range": f"bytes */{info.size_bytes}"},
        )  # fmt: skip
    if isinstance(span, tuple):
        start, end = span
        part = _verified_range(original, start, end)
        return StreamingResponse(
            _spooled(part),
            background=BackgroundTask(part.close),  # also when the client left before the first byte
            status_code=206,
            media_type=info.media_type,
            headers={
                **headers,
                "Content-Length": str(end - start + 1),
                "Content-Range": f"bytes {start}-{end}/{info.size_bytes}",
            },
        )

    def chunks() -> Iterator[bytes]:
        with original:
            try:
                yield from original
            except EkakteError as exc:
                log.error(
                    "%s: transfer of document %s aborted: %s", request.state.request_id, info.id, exc.code
                )
                raise

    return StreamingResponse(
        chunks(),
        background=BackgroundTask(original.close),  # also when the client left before the first byte
        media_type=info.media_type,
        headers={**headers, "Content-Length": str(info.size_bytes)},
    )


@router.get(
    "/documents/{document_id}/searchable",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/pdf": {}}, "description": "The searchable PDF"}, **_ERRORS},
)
def get_searchable(
    request: Request, caller: Caller, document_id: Annotated[str, PathParam(max_length=64)]
) -> Response:
    """The document's searchable PDF (the original's page images with the OCR text as an invisible
    layer), verified against its SHA-256 on the way as the original is. Decided and audited as reading
    the original; 404 `no-rendition` to a caller who may read the document when it has none (yet)."""
    doc_id = _document_id(document_id)
    with hidden("document"):
        opened = api.open_searchable(archive(request), caller, doc_id, detail="searchable PDF over the API")
    obj = opened.obj

    def chunks() -> Iterator[bytes]:
        with opened:
            try:
                yield from opened
            except EkakteError as exc:
                log.error(
                    "%s: transfer of document %s aborted: %s", request.state.request_id, doc_id, exc.code
                )
                raise

    return StreamingResponse(
        chunks(),
        background=BackgroundTask(opened.close),  # also when the client left before the first byte
        media_type=obj.media_type,
        headers={
            "ETag": f'"{obj.sha256}"',
            "Content-Disposition": _attachment(obj.filename),
            "Cache-Control": "no-store",
            "Content-Length": str(obj.size_bytes),
        },
    )


def _byte_range(header: str, size: int) -> tuple[int, int] | str | None:
    """(first, last) byte of one `bytes=` range; "unsatisfiable"; None for a header this service does not
    answer with a part (several ranges, another unit, nonsense): then the whole object is sent."""
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first or last) or not all(p.isdigit() for p in (first, last) if p):
        return None
    if not first:  # the last N bytes
        suffix = int(last)
        return (max(size - suffix, 0), size - 1) if suffix else "unsatisfiable"
    start = int(first)
    if start >= size:
        return "unsatisfiable"
    end = int(last) if last else size - 1
    return (start, min(end, size - 1)) if end >= start else None


_SPOOL_IN_MEMORY = 8 * 1024 * 1024


def _verified_range(original: Any, start: int, end: int) -> Any:
    """Bytes start..end of the original, kept aside (in memory up to 8 MiB, else in a private temporary
    file) while the whole object is read and checked; returned only if it passed."""
    part = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115 (closed by _spooled)
    try:
        position = 0
        with original:
            for chunk in original:
                lo, hi = max(start - position, 0), min(end + 1 - position, len(chunk))
                if lo < hi:
                    part.write(chunk[lo:hi])
                position += len(chunk)
    except BaseException:
        part.close()
        raise
    part.seek(0)
    return part


def _spooled(part: Any) -> Iterator[bytes]:
    try:
        while chunk := part.read(1024 * 1024):
            yield chunk
    finally:
        part.close()


def _attachment(name: str) -> str:
    """Content-Disposition for any file name (RFC 6266): an ASCII fallback and the name in UTF-8."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(name, safe='')}"


@router.get(
    "/documents/{document_id}/pages/{page}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}, "description": "The page"}, **_ERRORS},
)
def get_page(
    request: Request,
    caller: Caller,
    document_id: Annotated[str, PathParam(max_length=64)],
    page: Annotated[int, PathParam(ge=1, le=100_000)],
    width: Annotated[int, Query(ge=64, le=4000)] = 1200,
) -> Response:
    """One page as an image `width` pixels wide: PNG of 16 greys for clean pages, JPEG for grainy and
    colour ones (docs/benchmarks.md says why)."""
    doc_id = _document_id(document_id)
    with hidden("document"):
        image = api.render_page(archive(request), caller, doc_id, page, width)
    return Response(
        image.data,
        media_type=image.media_type,
        headers={"X-Page-Count": str(image.page_count), "Cache-Control": "no-store"},
    )


# Search ------------------------------------------------------------------------------------------------


class SearchRequest(BaseModel):
    """The query travels in the body, never in a URL (proxies and browsers log URLs)."""

    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=1000)
    case_number: str | None = Field(default=None, max_length=64)
    type: str | None = Field(default=None, max_length=100)
    limit: int = Field(default=20, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2000)


@router.post("/search", responses={200: {"model": schemas.SearchResult}, **_ERRORS})
def post_search(request: Request, caller: Caller, body: SearchRequest) -> JSONResponse:
    """Full text over what the caller may read, best first, with the best page's snippet."""
    result = api.search(
        archive(request), caller, body.query, case_number=body.case_number, document_type=body.type,
        limit=body.limit, after=body.cursor,
    )  # fmt: skip
    return JSONResponse(result.as_json())


# Upload ------------------------------------------------------------------------------------------------


@router.post(
    "/documents",
    status_code=201,
    responses={
        201: {"model": schemas.ImportResult, "description": "Stored"},
        200: {"model": schemas.ImportResult, "description": "These bytes were stored for the case already"},
        413: _ERRORS[422],
        415: _ERRORS[422],
        **_ERRORS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": schemas.UPLOAD_FORM}},
        }
    },
)
async def post_document(request: Request, caller: Caller) -> JSONResponse:
    """Archive one scan or letter (PDF, TIFF, JPEG, PNG) for a case, as `ekakte import` does: validated,
    stored once (the same bytes for the same case again answer 200 with the stored document), streamed
    to a private spool file and from there to the store, never whole in memory."""
    form = await request.form(max_files=1, max_fields=8, max_part_size=4096)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("the form has no file part", field="file")
        meta = api.DocumentMeta(
            case_number=_required(form, "case_number"),
            document_type=_required(form, "type"),
            received_on=_day(form, "received_on"),
            title=_text(form, "title"),
            document_date=_day(form, "document_date"),
        )
        name = Path(upload.filename or "").name or "upload"
        scan = api.Scan(Path(name), upload.file)
        result = await run_in_threadpool(
            api.import_document, archive(request), caller, scan, meta, station=_text(form, "station")
        )
    finally:
        await form.close()
    return JSONResponse(result.as_json(), status_code=201 if result.status == "stored" else 200)


def _text(form: Any, name: str) -> str | None:
    value = form.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text, not a file", field=name)
    return value


def _required(form: Any, name: str) -> str:
    value = _text(form, name)
    if value is None:
        raise InvalidInput(f"{name} is missing", field=name)
    return value


def _day(form: Any, name: str) -> date | None:
    text = _text(form, name)
    return api.parse_date(text, name) if text else None


# Audit and retention -----------------------------------------------------------------------------------


@router.get("/audit", responses={200: {"model": schemas.AuditPage}, **_ERRORS})
def get_audit(
    request: Request,
    caller: Caller,
    case_number: Annotated[str | None, Query(max_length=64)] = None,
    user: Annotated[str | None, Query(max_length=64)] = None,
    since: Day | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> JSONResponse:
    """Audit entries, newest first (auditors): of a case, of a user, since a day."""
    page = api.audit_entries(
        archive(request), caller, case_number=case_number, user=user, since=since, after=cursor, limit=limit
    )
    return JSONResponse({"entries": [e.as_json() for e in page], "next": page.next})


@router.get("/retention/plan", responses={200: {"model": schemas.PlanPage}, **_ERRORS})
def get_plan(
    request: Request,
    caller: Caller,
    as_of: Day | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> JSONResponse:
    """What a sweep as of `as_of` (today) would delete, and what holds keep back, oldest due first:
    the first `limit` items and how many there are in all (`count`)."""
    items: list[dict[str, Any]] = []
    count = 0
    for item in api.plan(archive(request), caller, as_of=as_of):
        count += 1
        if len(items) < limit:
            items.append(item.as_json())
    return JSONResponse({"items": items, "count": count})


@router.get("/holds", responses={200: {"model": schemas.HoldPage}, **_ERRORS})
def get_holds(
    request: Request,
    caller: Caller,
    include_released: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> JSONResponse:
    """Legal holds in force (or all), oldest first (records managers)."""
    page = api.list_holds(
        archive(request), caller, include_released=include_released, limit=limit, after=cursor
    )
    return JSONResponse({"holds": [h.as_json() for h in page], "next": page.next})


class HoldRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)
    case_number: str | None = Field(default=None, max_length=64)
    document_id: uuid.UUID | None = None
    until: Day | None = None


@router.post("/holds", status_code=201, responses={201: {"model": schemas.Hold}, **_ERRORS})
def post_hold(request: Request, caller: Caller, body: HoldRequest) -> JSONResponse:
    """Put a case or a document under legal hold (records managers)."""
    hold = api.add_hold(
        archive(request), caller, reason=body.reason, case_number=body.case_number,
        document_id=body.document_id, until=body.until,
    )  # fmt: skip
    return JSONResponse(hold.as_json(), status_code=201)


@router.post("/holds/{hold_id}/release", responses={200: {"model": schemas.Hold}, **_ERRORS})
def release_hold(
    request: Request, caller: Caller, hold_id: Annotated[int, PathParam(ge=1, le=2**62)]
) -> JSONResponse:
    """Release a legal hold (records managers)."""
    with hidden("hold"):
        hold = api.release_hold(archive(request), caller, hold_id)
    return JSONResponse(hold.as_json())


# The mail room: cover sheets, reference codes, the Postkorb; the team's new mail --------------------------


class CoverSheetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_number: str | None = Field(default=None, min_length=1, max_length=64)
    document_type: str | None = Field(default=None, min_length=1, max_length=100)
    title: str | None = Field(default=None, max_length=500)
    count: int = Field(default=1, ge=1, le=500, strict=True)


@router.post(
    "/coversheets",
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The sheets, A4, to print"},
        **_ERRORS,
    },
)
def post_coversheets(request: Request, caller: Caller, body: CoverSheetRequest) -> Response:
    """Cover sheets for a case and document type (with a title), or separator sheets (neither), as a PDF to
    print: the benefits software prints one with a letter that asks for proofs. The case number and type
    are checked as an import checks them. Reads nothing of the archive (any signed-in caller)."""
    import io

    pdf = io.BytesIO()
    api.cover_sheets(
        archive(request).settings, pdf, case_number=body.case_number, document_type=body.document_type,
        title=body.title, count=body.count,
    )  # fmt: skip
    name = "trennblatt.pdf" if body.case_number is None else "deckblatt.pdf"
    return Response(
        pdf.getvalue(), media_type="application/pdf", headers={"Content-Disposition": _attachment(name)}
    )


class ReferenceCodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_number: str = Field(min_length=1, max_length=64)
    reference: str | None = Field(default=None, max_length=64)
    format: Literal["svg", "png"] = "svg"
    size_mm: float = Field(default=20.0, ge=15.0, le=60.0, strict=True, allow_inf_nan=False)


@router.post(
    "/reference-codes",
    responses={
        200: {
            "content": {"image/svg+xml": {}, "image/png": {}},
            "description": "The code, `size_mm` square, to print on the letter",
        },
        **_ERRORS,
    },
)
def post_reference_codes(request: Request, caller: Caller, body: ReferenceCodeRequest) -> Response:
    """The reference code (Bezugscode) for a letter of a case, as SVG or PNG (300 dpi): the benefits
    software prints it on the letter, and the archive reads it when the letter or its reply form comes
    back. The case number is checked as an import checks it. Reads nothing of the archive (any signed-in
    caller)."""
    image = api.reference_code(
        archive(request).settings, body.case_number, body.reference, fmt=body.format, size_mm=body.size_mm
    )
    media_type = "image/svg+xml" if body.format == "svg" else "image/png"
    name = f"bezugscode.{body.format}"
    return Response(image, media_type=media_type, headers={"Content-Disposition": _attachment(name)})


@router.get("/postkorb", responses={200: {"model": schemas.PostkorbPage}, **_ERRORS})
def get_postkorb(
    request: Request,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> JSONResponse:
    """The documents waiting in the Postkorb, oldest first, with why (triage role). Read one as any
    document: GET /documents/{id}, /documents/{id}/text, /documents/{id}/pages/{n}."""
    page = api.postkorb(archive(request), caller, limit=limit, after=cursor)
    return JSONResponse({"documents": [e.as_json() for e in page], "next": page.next})


class AssignmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_number: str = Field(min_length=1, max_length=64)
    document_type: str = Field(min_length=1, max_length=100)
    title: str | None = Field(default=None, max_length=500)


@router.post("/postkorb/{document_id}/assignment", responses={200: {"model": schemas.Assignment}, **_ERRORS})
def post_assignment(
    request: Request,
    caller: Caller,
    document_id: Annotated[str, PathParam(max_length=64)],
    body: AssignmentRequest,
) -> JSONResponse:
    """Move a document from the Postkorb into its case, with its type (triage role). 404 for a document
    not waiting there, whether it exists or not."""
    with hidden("document in the Postkorb"):
        done = api.assign_from_postkorb(
            archive(request), caller, _document_id(document_id), body.case_number, body.document_type,
            title=body.title,
        )  # fmt: skip
    return JSONResponse(done.as_json())


@router.post("/postkorb/{document_id}/sort", responses={200: {"model": schemas.Sorted}, **_ERRORS})
def post_sort(
    request: Request, caller: Caller, document_id: Annotated[str, PathParam(max_length=64)]
) -> JSONResponse:
    """File a document of the Postkorb by the case number read with certainty in its first pages, or say
    why not (triage role)."""
    with hidden("document in the Postkorb"):
        done = api.sort_postkorb_document(archive(request), caller, _document_id(document_id))
    return JSONResponse(done.as_json())


class ReturnRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


@router.post("/postkorb/{document_id}/return", responses={200: {"model": schemas.Returned}, **_ERRORS})
def post_return(
    request: Request,
    caller: Caller,
    document_id: Annotated[str, PathParam(max_length=64)],
    body: ReturnRequest,
) -> JSONResponse:
    """Send a document of the Postkorb back to the scanning station, with why, and delete its scan (a line
    in the deletion protocol); triage role. 404 for a document not waiting there, whether it exists or
    not; 422 (`kept`) under a legal hold or the store's Object Lock."""
    with hidden("document in the Postkorb"):
        done = api.return_to_station(archive(request), caller, _document_id(document_id), body.reason)
    return JSONResponse(done.as_json())


@router.get("/postkorb-returns", responses={200: {"model": schemas.ReturnsPage}, **_ERRORS})
def get_returns(
    request: Request,
    caller: Caller,
    station: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    open_only: Annotated[bool, Query(alias="open")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> JSONResponse:
    """The documents sent back to the scanning stations, oldest first (`station`: to one; `open`: not
    taken back yet): what the station needs to find the paper, and why. Scan operators and triage."""
    page = api.returned_documents(
        archive(request), caller, station=station, open_only=open_only, limit=limit, after=cursor
    )
    return JSONResponse({"documents": [r.as_json() for r in page], "next": page.next})


@router.post(
    "/postkorb-returns/{document_id}/taken-back", responses={200: {"model": schemas.Returned}, **_ERRORS}
)
def post_taken_back(
    request: Request, caller: Caller, document_id: Annotated[str, PathParam(max_length=64)]
) -> JSONResponse:
    """The station has the paper of a returned document back (recorded once: the first call stands)."""
    with hidden("returned document"):
        done = api.take_back(archive(request), caller, _document_id(document_id))
    return JSONResponse(done.as_json())


# Replacement scanning (TR-RESISCAN) --------------------------------------------------------------------


@router.get("/scan-batches/{batch_id}/protocol", responses={200: {"model": schemas.ScanProtocol}, **_ERRORS})
def get_scan_protocol(
    request: Request, caller: Caller, batch_id: Annotated[str, PathParam(max_length=64)]
) -> JSONResponse:
    """A batch's scan protocol: its files, stacks, documents with their transfer notes, refusals, the
    check and the seal (scan operators, triage, records managers, auditors; no content). 404 alike for
    a batch that does not exist and a caller who may not read protocols."""
    with hidden("batch"):
        found = api.scan_protocol(archive(request), caller, api.parse_batch_id(batch_id))
    return JSONResponse(found.as_json())


@router.get("/scan-batches/{batch_id}/sample", responses={200: {"model": schemas.Sample}, **_ERRORS})
def get_scan_sample(
    request: Request, caller: Caller, batch_id: Annotated[str, PathParam(max_length=64)]
) -> JSONResponse:
    """The documents of a batch its second person's check looks at (the setting check_sample)."""
    with hidden("batch"):
        found = api.check_sample(archive(request), caller, api.parse_batch_id(batch_id))
    return JSONResponse(found.as_json())


@router.post("/scan-batches/{batch_id}/start", responses={200: {"model": schemas.Sample}, **_ERRORS})
def post_scan_start(
    request: Request, caller: Caller, batch_id: Annotated[str, PathParam(max_length=64)]
) -> JSONResponse:
    """Take a batch's check on: the sample is drawn and kept, and its documents' pages are the caller's
    to see (`GET /documents/{id}/pages/{n}`) until the check is recorded or 8 hours have passed. 422 with
    `own-batch`, `already-checked`, `checked-by-another`, `unfinished`, `empty-batch` or
    `needs-health-clearance`."""
    with hidden("batch"):
        found = api.start_check(archive(request), caller, api.parse_batch_id(batch_id))
    return JSONResponse(found.as_json())


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: Literal["passed", "failed"]
    note: str | None = Field(default=None, max_length=1000)


@router.post("/scan-batches/{batch_id}/check", responses={200: {"model": schemas.CheckResult}, **_ERRORS})
def post_scan_check(
    request: Request, caller: Caller, batch_id: Annotated[str, PathParam(max_length=64)], body: CheckRequest
) -> JSONResponse:
    """Record the second person's check of a batch and seal it (scan operators and triage, never one who
    scanned the batch; once). 422 with `own-batch`, `already-checked`, `unfinished`, `empty-batch`,
    `needs-health-clearance` or `not-verified` when it cannot be recorded."""
    with hidden("batch"):
        done = api.check_batch(
            archive(request), caller, api.parse_batch_id(batch_id), passed=body.result == "passed",
            note=body.note,
        )  # fmt: skip
    return JSONResponse(done.as_json())


@router.get("/scan-status", responses={200: {"model": schemas.PaperStatusList}, **_ERRORS})
def get_scan_status(
    request: Request, caller: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> JSONResponse:
    """Which batches' paper may be destroyed now, and which must be kept, and why: the newest `limit`
    batches, oldest first."""
    found = api.paper_status(archive(request), caller, limit=limit)

    return JSONResponse({"batches": [s.as_json() for s in found]})


@router.get(
    "/documents/{document_id}/transfer-note", responses={200: {"model": schemas.TransferNote}, **_ERRORS}
)
def get_transfer_note(
    request: Request, caller: Caller, document_id: Annotated[str, PathParam(max_length=64)]
) -> JSONResponse:
    """A document's transfer note (Transfervermerk), for whoever may see the document's metadata."""
    with hidden("document"):
        note = api.transfer_note(archive(request), caller, _document_id(document_id))
    return JSONResponse(note.as_json())


@router.get("/inbox", responses={200: {"model": schemas.Inbox}, **_ERRORS})
def get_inbox(
    request: Request, caller: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> JSONResponse:
    """The cases of the caller's teams with documents no one of the team has opened yet, newest first."""
    cases = api.team_inbox(archive(request), caller, limit=limit)
    return JSONResponse({"cases": [c.as_json() for c in cases]})


# The Aussonderung (xdomea) ---------------------------------------------------------------------------------


def _transfer_folder(request: Request) -> Path:
    """The service's transfer folder (archive_transfer_dir), made (private) on first use."""
    folder = archive(request).settings.archive_transfer_dir
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return Path(folder)


@router.get("/archive/processes", responses={200: {"model": schemas.ProcessPage}, **_ERRORS})
def get_archive_processes(
    request: Request,
    caller: Caller,
    process: Annotated[str | None, Query(max_length=36)] = None,
) -> JSONResponse:
    """The Aussonderung's processes, newest first (records managers): their records by state (offered,
    undecided, keep, destroy, handed_over, archived, failed), what is overdue, and their messages."""
    if process is None:
        found = api.archive_status(archive(request), caller)
    else:
        with hidden("archive process"):
            found = api.archive_status(archive(request), caller, process)
    return JSONResponse({"processes": [p.as_json() for p in found]})


class OfferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_of: Day | None = None
    limit: int | None = Field(default=None, ge=1, le=10_000_000, strict=True)  # no true for 1


@router.post(
    "/archive/offers",
    status_code=201,
    responses={
        201: {"model": schemas.OfferReport, "description": "Offered"},
        200: {"model": schemas.OfferReport, "description": "Nothing was due: process_id is null"},
        409: _ERRORS[422],
        **_ERRORS,
    },
)
def post_archive_offer(request: Request, caller: Caller, body: OfferRequest) -> JSONResponse:
    """Offer what is due (rules with `disposition = "offer"`, not held, not offered before) to the
    archive: an Anbieteverzeichnis (0501) into the service's transfer folder (records managers).
    Nothing due: 200 with `process_id` null."""
    folder = _transfer_folder(request)
    report = api.offer_to_archive(archive(request), caller, folder, as_of=body.as_of, limit=body.limit)
    return JSONResponse(report.as_json(), status_code=201 if report.process_id else 200)


@router.post(
    "/archive/messages",
    responses={200: {"model": schemas.ReceiveReport}, 409: _ERRORS[422], 413: _ERRORS[422], **_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/xml": {"schema": {"type": "string", "format": "binary"}},
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def post_archive_message(
    request: Request,
    caller: Caller,
    name: Annotated[str, Query(min_length=1, max_length=200)] = "message.xml",
) -> JSONResponse:
    """A message of the archive (0502, 0504, 0506, 0507; the XML or its zip) as the body; `name` is its
    file name, for the record. Validated against xdomea 3.1.0 before anything in it is believed; a 0502
    is answered with a 0505 in the transfer folder (records managers)."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > api.MAX_MESSAGE_BYTES:
            raise Problem(413, "too-large", f"A message is at most {api.MAX_MESSAGE_BYTES // 2**20} MiB.")
    folder = _transfer_folder(request)
    report = await run_in_threadpool(
        api.receive_from_archive, archive(request), caller, bytes(data), Path(name).name or "message", folder
    )
    return JSONResponse(report.as_json())


@router.post(
    "/archive/processes/{process_id}/hand-over",
    status_code=201,
    responses={201: {"model": schemas.HandOverReport}, 409: _ERRORS[422], **_ERRORS},
)
def post_archive_hand_over(
    request: Request, caller: Caller, process_id: Annotated[str, PathParam(min_length=1, max_length=36)]
) -> JSONResponse:
    """Hand over what the archive keeps (A) in a process: the Aussonderung (0503) with the originals and
    their text, one zip into the transfer folder (records managers)."""
    folder = _transfer_folder(request)
    with hidden("archive process"):
        report = api.hand_over_to_archive(archive(request), caller, process_id, folder)
    return JSONResponse(report.as_json(), status_code=201)
