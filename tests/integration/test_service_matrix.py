"""The use-case × role matrix (test_use_case_matrix.py) again, through the API: every route, for every
role with and without the health clearance, a disabled and an unknown user, the caller's own team's case
and another's, restricted documents and others. The API must decide as the role table says, answer a
refusal with 404 where the route names a thing (the same as a thing that does not exist) and 403 where it
does not, and leave exactly one audit entry per request, under the route's action, from the channel `api`."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ekakte import api
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import Settings
from ekakte.service.app import create_app
from tests.conftest import CASE, OTHER_CASE, make_stack
from tests.integration.test_service import service_settings, serving
from tests.integration.test_use_case_matrix import RECORDS, World, entries, expected, last_entry, principals
from tests.oidc_provider import OidcProvider


@pytest.fixture(params=["embedded"])
def stack_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    return make_stack(request, tmp_path)


# (route, the action it is decided under, refused as 404 (it names a thing) or 403, scope: by case, by
# document or neither). `request` prepares what the request needs (own team's case or not, a document) and
# returns the request to count.
Request = Callable[[World, bool, uuid.UUID], Callable[[httpx.Client], httpx.Response]]
ROUTES: list[tuple[str, str, int, str, Request]] = [
    ("GET /cases/{case}", "case.show", 404, "case", lambda w, own, d: lambda c: c.get(f"/cases/{case(own)}")),
    ("GET /documents/{id}", "doc.show", 404, "doc", lambda w, own, d: lambda c: c.get(f"/documents/{d}")),
    (
        "GET /documents/{id}/text",
        "doc.text",
        404,
        "doc",
        lambda w, own, d: lambda c: c.get(f"/documents/{d}/text"),
    ),
    (
        "GET /documents/{id}/original",
        "doc.get",
        404,
        "doc",
        lambda w, own, d: lambda c: c.get(f"/documents/{d}/original"),
    ),
    (
        "GET /documents/{id}/pages/1",
        "doc.get",
        404,
        "doc",
        lambda w, own, d: lambda c: c.get(f"/documents/{d}/pages/1?width=100"),
    ),
    (
        "POST /search",
        "search",
        403,
        "case",
        lambda w, own, d: lambda c: c.post("/search", json={"query": "Muster", "case_number": case(own)}),
    ),
    (
        "POST /documents",
        "import",
        403,
        "none",
        lambda w, own, d: given(w.scan(), lambda c, scan: upload(c, scan)),
    ),
    ("GET /audit", "audit.read", 403, "none", lambda w, own, d: lambda c: c.get("/audit?limit=1")),
    (
        "GET /retention/plan",
        "retention",
        403,
        "none",
        lambda w, own, d: lambda c: c.get("/retention/plan?limit=1"),
    ),
    ("GET /holds", "retention", 403, "none", lambda w, own, d: lambda c: c.get("/holds")),
    (
        "POST /holds",
        "retention",
        403,
        "none",
        lambda w, own, d: (
            lambda c: c.post("/holds", json={"case_number": CASE, "reason": "SG Köln S 12 AS 345/25"})
        ),
    ),
    (
        "POST /holds/{id}/release",
        "retention",
        404,
        "none",
        lambda w, own, d: given(hold(w), lambda c, held: c.post(f"/holds/{held}/release")),
    ),
]


def given(
    value: Any, request: Callable[[httpx.Client, Any], httpx.Response]
) -> Callable[[httpx.Client], httpx.Response]:
    """The request, with what was made for it before it is counted."""
    return lambda client: request(client, value)


def case(own: bool) -> str:
    return CASE if own else OTHER_CASE


def hold(world: World) -> int:
    return int(api.add_hold(world.archive, RECORDS, case_number=CASE, reason="Az. 1").id)


def upload(client: httpx.Client, scan: Path) -> httpx.Response:
    fields = {"case_number": CASE, "type": "Antrag", "received_on": "2026-11-02"}
    with scan.open("rb") as fh:
        return client.post("/documents", data=fields, files={"file": (scan.name, fh)})


@pytest.fixture
def world(archive: Archive, settings: Settings, tmp_path: Path, make_scan: Any) -> World:
    return World(archive, settings, tmp_path, make_scan)


@pytest.fixture
def base_url(world: World, settings: Settings, oidc_provider: OidcProvider) -> Iterator[str]:
    app = create_app(settings, service_settings(oidc_provider), archive=world.archive)
    with serving(app) as url:
        yield url + "/api/v1"


def test_every_route_decides_as_the_role_table_says_and_leaves_one_entry(
    world: World, base_url: str, oidc_provider: OidcProvider
) -> None:
    archive = world.archive
    wrong = []
    made = 0
    callers: list[tuple[Actor, str | None, bool]] = list(principals(archive))
    for who, role, health in callers:
        token = oidc_provider.sign(oidc_provider.user_claims(who.name), oidc_provider.keys[0])
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as client:
            for name, action, refused_as, scope, request in ROUTES:
                scopes = {"case": [(True, False), (False, False)], "none": [(True, False)]}.get(
                    scope, list(itertools.product((True, False), (False, True)))
                )
                for own, restricted in scopes:
                    doc = world.docs[(own, restricted)]
                    send = request(world, own, doc)
                    before = entries(archive)
                    response = send(client)
                    made += 1
                    want = expected(action, role, own, restricted, health)
                    entry = last_entry(archive)
                    got = (
                        response.status_code < 300 if want else response.status_code,
                        entries(archive) - before,
                        entry.actor, entry.action, entry.outcome, entry.channel,
                    )  # fmt: skip
                    should = (
                        True if want else refused_as, 1, who.name, action,
                        "allowed" if want else "denied", "api",
                    )  # fmt: skip
                    if got != should:
                        wrong.append((name, who.name, own, restricted, got, should, response.text[:200]))
    assert wrong == []
    assert made == len(callers) * sum({"case": 2, "none": 1}.get(scope, 4) for _, _, _, scope, _ in ROUTES)
