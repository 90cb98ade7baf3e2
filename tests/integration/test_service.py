"""`ekakte serve`'s API over real HTTP (uvicorn on loopback), signed in by a real OpenID provider
(oidc-provider under node), on both stacks: SQLite + folder, and PostgreSQL + S3."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from ekakte import api
from ekakte.archive import Archive
from ekakte.config import Settings
from ekakte.principals import add_user
from ekakte.service.app import create_app
from ekakte.service.settings import OidcSettings, ServiceSettings
from tests.conftest import ADMIN, CASE, OTHER_TEAM
from tests.oidc_provider import (
    SERVICE_CLIENT_ID,
    SERVICE_CLIENT_SECRET,
    WEB_CLIENT_ID,
    OidcProvider,
    make_key,
)
from tests.services import free_port

CASEWORKER = "caseworker"  # of TEAM, with the health clearance (conftest.organise)
OPERATOR = "scan-operator"
STRANGER = "cw-other"  # a caseworker of OTHER_TEAM
NO_CASE = "99999BG9999999"


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a thread of this process; its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def service_settings(provider: OidcProvider, **changes: Any) -> ServiceSettings:
    oidc = OidcSettings(issuer=provider.issuer, client_id=WEB_CLIENT_ID, audience=provider.audience)
    return ServiceSettings(oidc=oidc, **changes)


@pytest.fixture
def service(
    settings: Settings, archive: Archive, oidc_provider: OidcProvider
) -> Iterator[tuple[str, Archive, OidcProvider]]:
    add_user(archive, ADMIN, STRANGER, ["caseworker"], [OTHER_TEAM], health_clearance=True)
    add_user(archive, ADMIN, SERVICE_CLIENT_ID, ["service"])
    add_user(archive, ADMIN, "auditor", ["auditor"])
    add_user(archive, ADMIN, "records", ["records_manager"])
    app = create_app(
        settings, service_settings(oidc_provider, max_upload_bytes=5 * 1024 * 1024), archive=archive
    )
    with serving(app) as url:
        yield url, archive, oidc_provider


def bearer(provider: OidcProvider, user: str, **changes: Any) -> dict[str, str]:
    return {
        "Authorization": "Bearer " + provider.sign(provider.user_claims(user, **changes), provider.keys[0])
    }


def upload(url: str, headers: dict[str, str], path: Path, **fields: str) -> httpx.Response:
    data = {"case_number": CASE, "type": "Antrag", "received_on": "2026-11-02", **fields}
    with path.open("rb") as fh:
        return httpx.post(
            f"{url}/api/v1/documents", headers=headers, data=data, files={"file": (path.name, fh)}
        )


def test_health_ready_metrics_and_openapi(service: tuple[str, Archive, OidcProvider]) -> None:
    url, _, _ = service
    assert httpx.get(f"{url}/healthz").text == "ok\n"
    assert httpx.get(f"{url}/readyz").status_code == 200
    spec = httpx.get(f"{url}/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/cases/{case_number}" in spec["paths"]
    metrics = httpx.get(f"{url}/metrics").text
    assert 'ekakte_http_requests_total{method="GET",route="/readyz",status="200"}' in metrics


def test_without_a_token_401_problem(service: tuple[str, Archive, OidcProvider]) -> None:
    url, _, _ = service
    response = httpx.get(f"{url}/api/v1/cases/{CASE}", headers={"X-Request-ID": "req-1"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["x-request-id"] == "req-1"
    body = response.json()
    assert body["status"] == 401 and body["code"] == "not-authenticated" and body["request_id"] == "req-1"


def test_upload_read_and_search_through_the_api(
    service: tuple[str, Archive, OidcProvider], make_scan: Callable[..., Path]
) -> None:
    url, archive, provider = service
    scan = make_scan("Antrag März.pdf", pages=2, seed=7)
    operator = bearer(provider, OPERATOR)

    first = upload(url, operator, scan, title="Weiterbewilligungsantrag")
    assert first.status_code == 201, first.text
    stored = first.json()
    assert stored["status"] == "stored" and stored["file"] == "Antrag März.pdf"
    again = upload(url, operator, scan, title="Weiterbewilligungsantrag")
    assert again.status_code == 200 and again.json()["document_id"] == stored["document_id"]

    reader = bearer(provider, CASEWORKER)
    case = httpx.get(f"{url}/api/v1/cases/{CASE}", headers=reader).json()
    assert [d["id"] for d in case["documents"]] == [stored["document_id"]]
    doc_id = stored["document_id"]

    facts = httpx.get(f"{url}/api/v1/documents/{doc_id}", headers=reader).json()
    assert facts["sha256"] == hashlib.sha256(scan.read_bytes()).hexdigest()
    assert [(p["page"], p["ocr_state"]) for p in facts["pages"]] == [(1, "pending"), (2, "pending")]

    original = httpx.get(f"{url}/api/v1/documents/{doc_id}/original", headers=reader)
    assert original.status_code == 200
    assert original.content == scan.read_bytes()
    assert original.headers["etag"] == f'"{facts["sha256"]}"'
    assert original.headers["cache-control"] == "no-store"
    assert "filename*=UTF-8''Antrag%20M%C3%A4rz.pdf" in original.headers["content-disposition"]

    page = httpx.get(f"{url}/api/v1/documents/{doc_id}/pages/2?width=300", headers=reader)
    assert page.status_code == 200 and page.headers["content-type"] in ("image/png", "image/jpeg")
    assert page.headers["x-page-count"] == "2"
    beyond = httpx.get(f"{url}/api/v1/documents/{doc_id}/pages/3", headers=reader)
    assert beyond.status_code == 404 and beyond.json()["code"] == "no-page"  # the document was shown

    text = httpx.get(f"{url}/api/v1/documents/{doc_id}/text", headers=reader).json()
    assert [p["page"] for p in text["pages"]] == [1, 2]

    found = httpx.post(f"{url}/api/v1/search", headers=reader, json={"query": "Weiterbewilligungsantrag"})
    assert found.status_code == 200 and set(found.json()) == {"results", "window_full", "ignored", "next"}

    # Every request is in the trail as `api`, with the client's address and the request id.
    entries = api.audit_entries(archive, api.Actor("auditor"), case_number=CASE, limit=50).items
    via_api = [e for e in entries if e.channel == "api"]
    assert via_api and all(e.client_address == "127.0.0.1" and e.request_id for e in via_api)
    by_reader = api.audit_entries(archive, api.Actor("auditor"), user=CASEWORKER, limit=50).items
    search_entries = [e for e in by_reader if e.action == "search" and e.channel == "api"]
    assert search_entries and "Weiterbewilligungsantrag" in (search_entries[0].reason or "")


def test_refused_and_nonexistent_answer_alike(
    service: tuple[str, Archive, OidcProvider], make_scan: Callable[..., Path]
) -> None:
    url, _, provider = service
    stored = upload(url, bearer(provider, OPERATOR), make_scan()).json()
    stranger = {**bearer(provider, STRANGER), "X-Request-ID": "same"}

    def answer(path: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        response = httpx.get(url + path, headers=stranger)
        headers = {k: v for k, v in response.headers.items() if k not in ("date", "content-length")}
        return response.status_code, response.json(), headers

    for refused, missing in [
        (f"/api/v1/cases/{CASE}", f"/api/v1/cases/{NO_CASE}"),
        (f"/api/v1/documents/{stored['document_id']}", f"/api/v1/documents/{uuid.uuid4()}"),
        (f"/api/v1/documents/{stored['document_id']}/original", f"/api/v1/documents/{uuid.uuid4()}/original"),
        (f"/api/v1/documents/{stored['document_id']}/text", f"/api/v1/documents/{uuid.uuid4()}/text"),
        (f"/api/v1/documents/{stored['document_id']}/pages/1", f"/api/v1/documents/{uuid.uuid4()}/pages/1"),
    ]:
        assert answer(refused)[0] == 404
        assert answer(refused) == answer(missing), refused


def test_the_benefits_software_acts_for_a_caseworker(
    service: tuple[str, Archive, OidcProvider], make_scan: Callable[..., Path]
) -> None:
    url, archive, provider = service
    upload(url, bearer(provider, OPERATOR), make_scan())
    token = provider.client_credentials_token(SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET)
    as_service = {"Authorization": f"Bearer {token}"}

    acting = httpx.get(f"{url}/api/v1/cases/{CASE}", headers={**as_service, "X-Ekakte-Act-For": CASEWORKER})
    assert acting.status_code == 200 and len(acting.json()["documents"]) == 1
    # The service alone sees no case contents; a caseworker may not act for anyone.
    assert httpx.get(f"{url}/api/v1/cases/{CASE}", headers=as_service).status_code == 404
    not_a_service = {**bearer(provider, STRANGER), "X-Ekakte-Act-For": CASEWORKER}
    assert httpx.get(f"{url}/api/v1/cases/{CASE}", headers=not_a_service).status_code == 404

    entries = api.audit_entries(archive, api.Actor("auditor"), case_number=CASE, limit=50).items
    shows = [(e.actor, e.on_behalf_of, e.outcome) for e in entries if e.action == "case.show"]
    assert (SERVICE_CLIENT_ID, CASEWORKER, "allowed") in shows
    assert (STRANGER, CASEWORKER, "denied") in shows


@pytest.mark.parametrize(
    "why",
    ["expired", "not yet valid", "wrong audience", "wrong issuer", "tampered", "alg none", "alg HS256",
     "unknown key", "no user"],
)  # fmt: skip
def test_tokens_that_are_refused(service: tuple[str, Archive, OidcProvider], why: str) -> None:
    url, _, provider = service
    key, now = provider.keys[0], int(time.time())
    claims = provider.user_claims(CASEWORKER)
    alg: str | None = None
    if why == "expired":
        claims.update(iat=now - 3600, exp=now - 120)
    elif why == "not yet valid":
        claims.update(nbf=now + 300)
    elif why == "wrong audience":
        claims.update(aud="another-api")
    elif why == "wrong issuer":
        claims.update(iss=provider.issuer + "/other")
    elif why == "alg none":
        alg = "none"
    elif why == "alg HS256":
        alg = "HS256"
    elif why == "no user":
        claims.pop("preferred_username")
    signing_key = make_key("intruder") if why == "unknown key" else key
    token = provider.sign(claims, signing_key, alg)
    if why == "tampered":
        head, body, signature = token.split(".")
        token = ".".join([head, body[:-4] + ("AAAA" if body[-4:] != "AAAA" else "BBBB"), signature])
    response = httpx.get(f"{url}/api/v1/cases/{CASE}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "invalid-token"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_valid_token_of_the_provider_itself_is_taken(service: tuple[str, Archive, OidcProvider]) -> None:
    url, _, provider = service
    ok = httpx.get(f"{url}/api/v1/cases/{CASE}", headers=bearer(provider, CASEWORKER))
    assert ok.status_code == 200


def test_key_rotation(settings: Settings, archive: Archive, tmp_path: Path) -> None:
    """The provider signs with a new key: the service fetches the keys again, once, and takes it."""
    with OidcProvider(tmp_path / "idp", keys=[make_key("old")]) as provider:
        app = create_app(settings, service_settings(provider), archive=archive)
        app.state.issuer.refetch_interval = 1.0  # 10 s in service: the test need not wait that long
        with serving(app) as url:
            assert (
                httpx.get(f"{url}/api/v1/cases/{CASE}", headers=bearer(provider, CASEWORKER)).status_code
                == 200
            )
            provider.restart(keys=[make_key("new"), *provider.keys])
            time.sleep(1.1)  # the service fetches keys at most every refetch_interval seconds
            new = httpx.get(f"{url}/api/v1/cases/{CASE}", headers=bearer(provider, CASEWORKER))
            assert new.status_code == 200, new.text


def test_bad_requests_are_problems(
    service: tuple[str, Archive, OidcProvider], make_scan: Callable[..., Path], tmp_path: Path
) -> None:
    url, archive, provider = service
    operator = bearer(provider, OPERATOR)
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"not a pdf at all")
    refused = upload(url, operator, junk)
    assert refused.status_code == 415 and refused.headers["content-type"] == "application/problem+json"
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * (6 * 1024 * 1024))
    assert upload(url, operator, big).status_code == 413

    def trickle() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n%PDF-1.4\n'
        for _ in range(7):
            yield b"0" * (1024 * 1024)

    chunked = httpx.post(
        f"{url}/api/v1/documents", content=trickle(),
        headers={**operator, "Content-Type": "multipart/form-data; boundary=b"},
    )  # fmt: skip
    assert chunked.status_code == 413, chunked.text
    missing_field = httpx.post(f"{url}/api/v1/documents", headers=operator, files={"file": ("a.pdf", b"x")})
    assert missing_field.status_code == 422 and missing_field.json()["field"] == "case_number"
    bad_limit = httpx.get(f"{url}/api/v1/cases/{CASE}?limit=0", headers=bearer(provider, CASEWORKER))
    assert bad_limit.status_code == 422 and bad_limit.json()["field"] == "limit"
    assert httpx.get(f"{url}/api/v1/nothing-here").json()["code"] == "no-such-route"
    reader = bearer(provider, CASEWORKER)
    broken_json = httpx.post(
        f"{url}/api/v1/search", content=b'{"query":', headers={**reader, "Content-Type": "application/json"}
    )
    assert broken_json.status_code == 400 and broken_json.json()["detail"] == "The body is not valid JSON."
    assert httpx.head(f"{url}/healthz").status_code == 200
    style = httpx.get(f"{url}/static/app.css")  # the same for everyone: cached, unlike every page
    assert style.status_code == 200 and style.headers["cache-control"] == "public, max-age=3600"
    with archive.reading() as session:
        from sqlalchemy import func, select

        from ekakte.db.models import Document

        assert session.scalar(select(func.count()).select_from(Document)) == 0


def test_byte_ranges_of_an_original(
    service: tuple[str, Archive, OidcProvider], make_scan: Callable[..., Path]
) -> None:
    url, _, provider = service
    scan = make_scan(pages=3, seed=11)
    data = scan.read_bytes()
    doc = upload(url, bearer(provider, OPERATOR), scan).json()["document_id"]
    reader = bearer(provider, CASEWORKER)
    where = f"{url}/api/v1/documents/{doc}/original"
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    size = len(data)
    for asked, first, last in [
        ("bytes=0-99", 0, 99),
        ("bytes=-10", size - 10, size - 1),
        ("bytes=100-", 100, size - 1),
    ]:
        part = httpx.get(where, headers={**reader, "Range": asked})
        assert part.status_code == 206, (asked, part.text)
        assert part.headers["content-range"] == f"bytes {first}-{last}/{size}"
        assert part.content == data[first : last + 1]
    stale = httpx.get(where, headers={**reader, "Range": "bytes=0-9", "If-Range": '"another"'})
    assert stale.status_code == 200 and stale.content == data
    fresh = httpx.get(where, headers={**reader, "Range": "bytes=0-9", "If-Range": etag})
    assert fresh.status_code == 206 and fresh.content == data[:10]
    beyond = httpx.get(where, headers={**reader, "Range": f"bytes={size}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{size}"


@pytest.mark.parametrize("stack_env", ["embedded"], indirect=True)
def test_a_corrupt_original_never_arrives_whole(
    service: tuple[str, Archive, OidcProvider], make_scan: Callable[..., Path]
) -> None:
    url, archive, provider = service
    scan = make_scan(pages=2, seed=12)
    data = scan.read_bytes()
    doc = upload(url, bearer(provider, OPERATOR), scan).json()["document_id"]
    info = api.get_document(archive, api.Actor(CASEWORKER), uuid.UUID(doc))
    stored = Path(archive.settings.home / "objects" / info.storage_key)
    assert stored.read_bytes() == data
    stored.chmod(0o600)
    stored.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))  # the last byte flipped, the size the same
    reader = bearer(provider, CASEWORKER)
    where = f"{url}/api/v1/documents/{doc}/original"
    with pytest.raises(httpx.HTTPError):  # the transfer ends before its last bytes
        response = httpx.get(where, headers=reader)
        assert len(response.content) < len(data)
        raise httpx.TransportError("short")
    part = httpx.get(where, headers={**reader, "Range": "bytes=0-99"})
    assert part.status_code == 500 and part.headers["content-type"] == "application/problem+json"
    assert data[:50] not in part.content
    failed = [
        e
        for e in api.audit_entries(archive, api.Actor("auditor"), case_number=CASE, limit=20).items
        if e.outcome == "failed"
    ]
    assert len(failed) == 2 and all("not read" in (e.reason or "") for e in failed)


def test_an_unexpected_error_is_a_500_with_the_request_id_and_nothing_else(
    service: tuple[str, Archive, OidcProvider],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, _, provider = service

    secret = "Kontoauszug März 12345BG0001234 SELECT … parameters"

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(secret)  # as a driver quoting a statement's parameters would

    monkeypatch.setattr(api, "case_documents", broken)
    response = httpx.get(
        f"{url}/api/v1/cases/{CASE}", headers={**bearer(provider, CASEWORKER), "X-Request-ID": "r-500"}
    )
    assert response.status_code == 500 and response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["request_id"] == "r-500" and body["code"] == "internal"
    assert (
        "Kontoauszug" not in response.text
        and "Traceback" not in response.text
        and "RuntimeError" not in response.text
    )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "r-500" in logged and "RuntimeError" in logged
    assert "Kontoauszug" not in logged and all(
        r.exc_info is None for r in caplog.records if "r-500" in r.getMessage()
    )
