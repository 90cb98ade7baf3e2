"""Who is asking: the user a request's bearer token names (or its session cookie), and whom a `service`
acts for.

The token says who; whether that name is an ekakte principal, which roles, teams and clearance it holds,
and whether it may act for another user is decided by the use case the request calls, like every other
decision (`ekakte.access.resolve`), and audited there: a request of an unknown user, or one that asks to
act for someone without being a `service`, is refused and recorded by the use case, not here.
"""

from __future__ import annotations

import hmac
import re
import urllib.parse
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ekakte import api
from ekakte.api import Actor
from ekakte.service.oidc import Issuer, invalid_token
from ekakte.service.problems import Problem

ACT_FOR = "X-Ekakte-Act-For"
# Principal names as `ekakte user add` takes them: no spaces, no controls, not too long.
_NAME = re.compile(r"[^\s\x00-\x1f\x7f]{1,64}")


CSRF_HEADER = "X-CSRF-Token"
_SAFE = {"GET", "HEAD", "OPTIONS"}


def not_signed_in() -> Problem:
    return Problem(
        401, "not-authenticated", "Sign in first: a bearer token of the identity provider, or a session.",
        headers={"WWW-Authenticate": "Bearer"},
    )  # fmt: skip


def cookie_name(request: Request) -> str:
    """The session cookie: __Host- prefixed (Secure, this host only, every path) when served over TLS."""
    return "__Host-ekakte-session" if request.app.state.settings.secure_cookies else "ekakte-session"


def session(request: Request) -> api.SessionInfo | None:
    """The live session of the request's cookie, if it has one."""
    cookie = request.cookies.get(cookie_name(request))
    if not cookie:
        return None
    idle = timedelta(seconds=request.app.state.settings.session_idle_seconds)
    return api.session_of(request.app.state.archive, cookie, idle=idle)


def actor(request: Request) -> Actor:
    """The acting user of an API request (a FastAPI dependency): the bearer token's, else the session's.
    A request that changes something on the strength of a session cookie must carry the session's CSRF
    token in X-CSRF-Token (a page of another site can make the browser send the cookie, not the token)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if header:
        if scheme.lower() != "bearer" or not token.strip() or request.app.state.issuer is None:
            raise not_signed_in()
        issuer: Issuer = request.app.state.issuer
        name = issuer.username(issuer.verify(token.strip()))
    else:
        found = session(request)
        if found is None:
            raise not_signed_in()
        if request.method not in _SAFE and not check_csrf(found, request.headers.get(CSRF_HEADER, "")):
            raise Problem(403, "csrf", "The request lacks this session's CSRF token.")
        name = found.principal
    if not _NAME.fullmatch(name):
        raise invalid_token("the token's user name is not one ekakte knows")
    on_behalf_of = request.headers.get(ACT_FOR)
    if on_behalf_of is not None and not _NAME.fullmatch(on_behalf_of):
        raise Problem(422, "invalid-input", f"{ACT_FOR} must name one user", headers={})
    request.state.user = f"{name} for={on_behalf_of}" if on_behalf_of else name
    return Actor(
        name,
        on_behalf_of or None,
        channel="api",
        client_address=request.state.client_address,
        request_id=request.state.request_id,
    )


# What the API's sign-in routes (signin.py) and the web app's forms (web/pages.py) both do.


def base_url(request: Request) -> str:
    """Where users reach the service: EKAKTE_PUBLIC_URL, or the address of this request."""
    configured: str | None = request.app.state.settings.public_url
    return configured or str(request.base_url).rstrip("/")


def set_session_cookie(response: Response, request: Request, signed_in: api.SignedIn) -> Response:
    settings = request.app.state.settings
    response.set_cookie(
        cookie_name(request), signed_in.cookie, max_age=settings.session_lifetime_seconds, path="/",
        secure=settings.secure_cookies, httponly=True, samesite="lax",
    )  # fmt: skip
    return response


def check_csrf(found: api.SessionInfo, sent: str) -> bool:
    """Whether `sent` is the session's CSRF token (compared in constant time)."""
    return hmac.compare_digest(sent.encode(), found.csrf_token.encode())


def end_session(request: Request, found: api.SessionInfo, *, then: str) -> Response:
    """Sign the session out (audited) and send the browser on: to the identity provider's end-session
    endpoint when the session began there (it comes back to the start page, which the provider has
    registered for this client: docs/deployment.md), else to `then`."""
    actor = Actor(
        found.principal, channel="web", client_address=request.state.client_address,
        request_id=request.state.request_id,
    )  # fmt: skip
    api.sign_out(request.app.state.archive, actor, request.cookies.get(cookie_name(request), ""))
    target = then
    issuer = request.app.state.issuer
    end = issuer.metadata().get("end_session_endpoint") if issuer and found.method == "oidc" else None
    if isinstance(end, str):
        query = {"client_id": issuer.settings.client_id, "post_logout_redirect_uri": base_url(request) + "/"}
        target = f"{end}?{urllib.parse.urlencode(query)}"
    return clear_session_cookie(RedirectResponse(target, status_code=303), request)


def clear_session_cookie(response: Response, request: Request) -> Response:
    secure = request.app.state.settings.secure_cookies
    response.delete_cookie(cookie_name(request), path="/", secure=secure, httponly=True, samesite="lax")
    return response
