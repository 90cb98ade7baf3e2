"""Signing in and out: at the identity provider (authorization code flow with PKCE, for browsers) and with
a local password (the embedded archive, a break-glass admin). Both end in a session: a cookie (HttpOnly,
SameSite=Lax, Secure and __Host- prefixed behind TLS) whose SHA-256 the database keeps (ekakte.sessions),
so that any server process takes any request. The web pages come with the web app; these are the routes
they stand on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ekakte import api
from ekakte.service.identity import (
    CSRF_HEADER,
    base_url,
    check_csrf,
    clear_session_cookie,
    end_session,
    not_signed_in,
    session,
    set_session_cookie,
)
from ekakte.service.oidc import Issuer
from ekakte.service.problems import Problem

router = APIRouter(prefix="/auth", include_in_schema=False)
_FLOW_COOKIE = "ekakte-sign-in"


def _request_actor(request: Request, name: str) -> api.Actor:
    return api.Actor(
        name, channel="web", client_address=request.state.client_address, request_id=request.state.request_id
    )


def _issuer(request: Request) -> Issuer:
    issuer: Issuer | None = request.app.state.issuer
    if issuer is None:
        raise Problem(404, "no-identity-provider", "This archive signs in with local passwords only.")
    return issuer


def _lifetime(request: Request) -> timedelta:
    return timedelta(seconds=request.app.state.settings.session_lifetime_seconds)


@router.get("/login")
def login(request: Request, return_to: Annotated[str, Query(max_length=500)] = "/") -> RedirectResponse:
    """Off to the identity provider: a new sign-in with its state, nonce and PKCE challenge (S256)."""
    issuer = _issuer(request)
    endpoint = issuer.metadata().get("authorization_endpoint")
    if not isinstance(endpoint, str):
        raise Problem(503, "identity-provider", "The sign-in service cannot be reached; try again later.")
    flow = api.begin_provider_sign_in(request.app.state.archive, return_to)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(flow.code_verifier.encode()).digest()).rstrip(b"=")
    query = {
        "response_type": "code",
        "client_id": issuer.settings.client_id,
        "redirect_uri": base_url(request) + "/auth/callback",
        "scope": "openid profile",
        "state": flow.state,
        "nonce": flow.nonce,
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
    }
    response = RedirectResponse(f"{endpoint}?{urllib.parse.urlencode(query)}", status_code=302)
    # The sign-in belongs to this browser: the callback must come back with this cookie, so that a link
    # with someone else's code and state cannot sign a victim in as that someone (login CSRF).
    secure = request.app.state.settings.secure_cookies
    response.set_cookie(
        _FLOW_COOKIE, flow.state, max_age=600, path="/auth/", secure=secure, httponly=True, samesite="lax"
    )
    return response


@router.get("/callback")
def callback(
    request: Request,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=2000)] = "",
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Back from the identity provider: the sign-in this service began (by its state) is finished with
    the code, the ID token checked (signature, issuer, audience, nonce), and the user's session begins."""
    issuer = _issuer(request)
    if not hmac.compare_digest(request.cookies.get(_FLOW_COOKIE, "").encode(), state.encode()):
        raise Problem(401, "not-authenticated", "This sign-in was not begun in this browser; sign in again.")
    flow = api.finish_provider_sign_in(request.app.state.archive, state)
    if error is not None or not code:
        raise Problem(401, "not-authenticated", "The identity provider did not sign you in.")
    tokens = issuer.exchange_code(code, base_url(request) + "/auth/callback", flow.code_verifier)
    claims = issuer.verify_id_token(str(tokens["id_token"]), flow.nonce)
    name = issuer.username(claims)
    signed_in = api.sign_in_with_provider(
        request.app.state.archive, _request_actor(request, name), lifetime=_lifetime(request)
    )
    response = set_session_cookie(RedirectResponse(flow.return_to, status_code=303), request, signed_in)
    response.delete_cookie(_FLOW_COOKIE, path="/auth/")
    return response


@router.post("/password")
def password(
    request: Request,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    """A local password: the session in a cookie, and the session's facts (its CSRF token) as JSON. A
    browser's request from another site is refused (its Origin is not this service's): no other site signs
    a browser in to an account of its choosing."""
    origin = request.headers.get("origin")
    if origin is not None and origin.rstrip("/") != base_url(request).rstrip("/"):
        raise Problem(403, "csrf", "A sign-in from another site is not taken.")
    signed_in = api.sign_in_with_password(
        request.app.state.archive, _request_actor(request, username), password, lifetime=_lifetime(request)
    )
    body = {"user": signed_in.principal, "csrf_token": signed_in.csrf_token,
            "expires_at": signed_in.expires_at.isoformat()}  # fmt: skip
    return set_session_cookie(JSONResponse(body), request, signed_in)


@router.get("/session")
def current(request: Request) -> JSONResponse:
    """Who this session is (and its CSRF token, which requests that change something must carry)."""
    found = session(request)
    if found is None:
        raise not_signed_in()
    return JSONResponse(
        {
            "user": found.principal,
            "method": found.method,
            "csrf_token": found.csrf_token,
            "expires_at": found.expires_at.isoformat(),
        }
    )


@router.post("/logout")
def logout(request: Request) -> Response:
    """End the session here, and at the identity provider when it began there."""
    found = session(request)
    if found is None:
        return clear_session_cookie(RedirectResponse("/", status_code=303), request)
    if not check_csrf(found, request.headers.get(CSRF_HEADER, "")):
        raise Problem(403, "csrf", "The request lacks this session's CSRF token.")
    return end_session(request, found, then="/")
