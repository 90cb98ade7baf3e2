"""Errors as application/problem+json (RFC 9457). The status is the one `ekakte.errors.OUTCOMES` gives
the error, the `type` names the error's code (the same code the CLI's hints are keyed by), and nothing
of the server's inside reaches a client: a 5xx says what failed in general words and the request id."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse

from ekakte.errors import EkakteError, shown

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:ekakte:problem:"

# What a 5xx says: the same words whatever the cause (a host name, a path or a driver's message in
# the error text is the server's business, and the client can act on none of it).
_SERVER_SIDE = {
    500: "The archive could not answer this request. Quote the request id to its administrators.",
    502: "The object store refused the request.",
    503: "The archive is not reachable at the moment (database or object store); try again later.",
}


class Problem(Exception):
    """An answer of the service's own (not of a use case): authentication, limits, unknown routes."""

    def __init__(self, status: int, code: str, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers or {}


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    request_id: str | None,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if field:
        body["field"] = field
    if request_id:
        body["request_id"] = request_id
    return JSONResponse(
        body,
        status_code=status,
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def from_error(exc: EkakteError, request_id: str | None) -> JSONResponse:
    status = exc.http_status
    if status >= 500:
        return problem_response(
            status, exc.code, _SERVER_SIDE.get(status, _SERVER_SIDE[500]), request_id=request_id
        )
    return problem_response(status, exc.code, shown(str(exc))[:500], request_id=request_id, field=exc.field)


def internal(request_id: str | None) -> JSONResponse:
    return problem_response(500, "internal", _SERVER_SIDE[500], request_id=request_id)
