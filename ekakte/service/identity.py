"""Who is asking: the user a request's bearer token names, and whom a `service` acts for.

The token says who; whether that name is an ekakte principal, which roles, teams and clearance it holds,
and whether it may act for another user is decided by the use case the request calls, like every other
decision (`ekakte.access.resolve`), and audited there: a request of an unknown user, or one that asks to
act for someone without being a `service`, is refused and recorded by the use case, not here.
"""

from __future__ import annotations

import re

from starlette.requests import Request

from ekakte.api import Actor
from ekakte.service.oidc import Issuer, invalid_token
from ekakte.service.problems import Problem

ACT_FOR = "X-Ekakte-Act-For"
# Principal names as `ekakte user add` takes them: no spaces, no controls, not too long.
_NAME = re.compile(r"[^\s\x00-\x1f\x7f]{1,64}")


def not_signed_in() -> Problem:
    return Problem(
        401, "not-authenticated", "Sign in first: a bearer token of the identity provider is needed.",
        headers={"WWW-Authenticate": "Bearer"},
    )  # fmt: skip


def actor(request: Request) -> Actor:
    """The acting user of an API request (a FastAPI dependency)."""
    issuer: Issuer | None = request.app.state.issuer
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise not_signed_in()
    if issuer is None:
        raise not_signed_in()
    claims = issuer.verify(token.strip())
    name = issuer.username(claims)
    if not _NAME.fullmatch(name):
        raise invalid_token("the token's user name is not one ekakte knows")
    on_behalf_of = request.headers.get(ACT_FOR)
    if on_behalf_of is not None and not _NAME.fullmatch(on_behalf_of):
        raise Problem(422, "invalid-input", f"{ACT_FOR} must name one user", headers={})
    request.state.user = name
    return Actor(
        name,
        on_behalf_of or None,
        channel="api",
        client_address=request.state.client_address,
        request_id=request.state.request_id,
    )
