"""The service when the database or the object store goes away mid-request, when it is killed during an
upload, and when two clients upload the same bytes at once: a 503 problem, nothing half-stored, no restart
needed once the server is back; a retry stores a document once."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.db.models import Document
from ekakte.integrity import gc, verify
from ekakte.service.app import create_app
from tests.conftest import ADMIN, CASE, fresh_server_env, scans
from tests.integration.test_serve_process import BOUNDARY, multipart, start
from tests.integration.test_service import bearer, service_settings, serving
from tests.oidc_provider import OidcProvider
from tests.proxy import Proxy
from tests.services import S3Server

KILL_TRIALS = int(os.environ.get("EKAKTE_KILL_TRIALS", "3"))


def scan_bytes() -> bytes:
    return scans.pdf_bytes([["Seite 1", f"Muster {uuid.uuid4()}"]], dpi=50)


def post(url: str, token: dict[str, str], data: bytes, name: str = "scan.pdf") -> httpx.Response:
    fields = {"case_number": CASE, "type": "Antrag", "received_on": "2026-11-02"}
    return httpx.post(
        f"{url}/api/v1/documents", headers=token, data=fields, files={"file": (name, data)}, timeout=60
    )


def stored(archive: Archive, data: bytes) -> int:
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    with archive.reading() as session:
        return int(
            session.scalar(select(func.count()).select_from(Document).where(Document.sha256 == digest)) or 0
        )


@pytest.mark.server
@pytest.mark.parametrize("server", ["object store", "database"])
def test_a_server_going_away_answers_503_and_the_service_recovers_by_itself(
    server: str, pg_url: str, s3: S3Server, tmp_path: Path, oidc_provider: OidcProvider
) -> None:
    settings = load_settings(fresh_server_env(tmp_path / "home", pg_url, s3))
    if server == "object store":
        endpoint = urlsplit(s3.endpoint)
        proxy = Proxy(endpoint.hostname or "127.0.0.1", endpoint.port or 80)
        through = replace(settings, s3_endpoint=f"http://127.0.0.1:{proxy.port}")
    else:
        url = make_url(settings.database_url)
        proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
        through = replace(
            settings, database_url=url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        )
    with proxy, Archive.open(through) as archive:
        app = create_app(through, service_settings(oidc_provider), archive=archive)
        with serving(app) as base:
            operator, reader = bearer(oidc_provider, "scan-operator"), bearer(oidc_provider, "caseworker")
            before = post(base, operator, scan_bytes())
            assert before.status_code == 201
            doc = before.json()["document_id"]

            proxy.cut()
            lost = scan_bytes()
            answers = [
                httpx.get(f"{base}/readyz"),
                post(base, operator, lost),
                httpx.get(f"{base}/api/v1/documents/{doc}/original", headers=reader),
            ]
            if server == "database":
                answers.append(httpx.get(f"{base}/api/v1/cases/{CASE}", headers=reader))
            for answer in answers:
                assert answer.status_code == 503, answer.text
                assert answer.headers["content-type"] == "application/problem+json"
                assert "Traceback" not in answer.text and "127.0.0.1" not in answer.text
            assert server in answers[0].json()["detail"]

            proxy.restore()
            assert httpx.get(f"{base}/readyz").status_code == 200
            again = post(base, operator, lost)
            assert again.status_code == 201, again.text
            got = httpx.get(f"{base}/api/v1/documents/{doc}/original", headers=reader)
            assert got.status_code == 200
    with Archive.open(settings) as archive:
        assert stored(archive, lost) == 1
        gc(archive, ADMIN, grace_hours=0)
        assert verify(archive, ADMIN).problems == []


def test_two_clients_uploading_the_same_bytes_make_one_document(
    settings: object, archive: Archive, oidc_provider: OidcProvider
) -> None:
    app = create_app(archive.settings, service_settings(oidc_provider), archive=archive)
    data = scan_bytes()
    with serving(app) as base:
        operator = bearer(oidc_provider, "scan-operator")
        answers: list[httpx.Response] = []
        start_together = threading.Barrier(4)

        def send() -> None:
            start_together.wait()
            answers.append(post(base, operator, data))

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert len({a.json()["document_id"] for a in answers}) == 1
    assert stored(archive, data) == 1


def test_kill_9_during_an_upload_leaves_nothing_half_stored_and_a_retry_stores_once(
    stack_env: dict[str, str], oidc_provider: OidcProvider
) -> None:
    """SIGKILL at a random moment of an upload whose body trickles in for a second (EKAKTE_KILL_TRIALS
    trials): whatever the moment, the client's retry on a new server stores the document exactly once."""
    rng = random.Random(17)
    token = oidc_provider.sign(oidc_provider.user_claims("scan-operator"), oidc_provider.keys[0])
    headers = {"Authorization": f"Bearer {token}"}
    settings = load_settings(stack_env)
    for _trial in range(KILL_TRIALS):
        data = scan_bytes()
        process, url = start(stack_env, oidc_provider)
        first, last = multipart(data, "killed.pdf")

        def body(first: bytes = first, last: bytes = last) -> Iterator[bytes]:
            for i in range(0, len(first), 4096):
                yield first[i : i + 4096]
                time.sleep(0.02)
            yield last

        def send(url: str = url, body: object = body) -> None:
            with contextlib.suppress(httpx.TransportError):  # the server was killed
                httpx.post(
                    f"{url}/api/v1/documents",
                    content=body(),  # type: ignore[operator]
                    headers={**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
                    timeout=30,
                )

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(rng.uniform(0.05, 1.5))
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
        sender.join(30)

        process, url = start(stack_env, oidc_provider)
        try:
            retry = post(url, headers, data)
            assert retry.status_code in (200, 201), retry.text
        finally:
            process.terminate()
            process.communicate(timeout=30)
        with Archive.open(settings) as archive:
            assert stored(archive, data) == 1
    with Archive.open(settings) as archive:
        gc(archive, ADMIN, grace_hours=0)  # an object a kill left without its row
        assert verify(archive, ADMIN).problems == []
