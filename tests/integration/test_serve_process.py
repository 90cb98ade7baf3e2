"""`ekakte serve` as the process operators run: it starts, answers, logs one line a request without the
path, and on SIGTERM lets the request in flight finish, takes no new connection, and stops."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ekakte.archive import Archive
from ekakte.config import load_settings
from tests.conftest import CASE, scans
from tests.oidc_provider import OidcProvider
from tests.services import free_port

BOUNDARY = "ekakte-test-boundary"


def start(
    env: dict[str, str], provider: OidcProvider, *args: str, tls: bool = False
) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ekakte", "serve", "--port", str(port), *args],
        env={
            **os.environ,
            **env,
            "EKAKTE_OIDC_ISSUER": provider.issuer,
            "EKAKTE_OIDC_CLIENT_ID": "ekakte-web",
            "EKAKTE_OIDC_AUDIENCE": provider.audience,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"ekakte serve ended: {process.stderr.read() if process.stderr else ''}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1, verify=False).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("ekakte serve did not answer within 30 s")


def multipart(data: bytes, name: str) -> tuple[bytes, bytes]:
    """The head and tail of a multipart upload of `data` for CASE."""
    fields = {"case_number": CASE, "type": "Antrag", "received_on": "2026-11-02"}
    head = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    head += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    return head + data, f"\r\n--{BOUNDARY}--\r\n".encode()


def test_sigterm_lets_the_running_request_finish(
    stack_env: dict[str, str], oidc_provider: OidcProvider, tmp_path: Path
) -> None:
    process, url = start(stack_env, oidc_provider)
    token = oidc_provider.sign(oidc_provider.user_claims("scan-operator"), oidc_provider.keys[0])
    first, last = multipart(scans.pdf_bytes([["Seite 1", f"Muster {uuid.uuid4()}"]], dpi=50), "slow.pdf")
    sent_first = threading.Event()

    def body() -> Iterator[bytes]:
        yield first
        sent_first.set()
        time.sleep(1.5)  # SIGTERM arrives while the request is in flight
        yield last

    result: dict[str, httpx.Response] = {}

    def send() -> None:
        result["upload"] = httpx.post(
            f"{url}/api/v1/documents",
            content=body(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            },
            timeout=30,
        )

    sender = threading.Thread(target=send)
    sender.start()
    assert sent_first.wait(10)
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    with pytest.raises(httpx.TransportError):  # no new connections once it is stopping
        httpx.get(f"{url}/healthz", timeout=2)
    sender.join(30)
    assert result["upload"].status_code == 201, result["upload"].text
    _, stderr = process.communicate(timeout=30)
    # uvicorn re-raises the signal once it has stopped, as a well-behaved daemon does (systemd counts an
    # end by SIGTERM as a clean stop); after the request had finished and the application shut down.
    assert process.returncode == -signal.SIGTERM, stderr
    assert "Application shutdown complete" in stderr
    # One access line for the upload, with the route's template and no path, query or file name.
    lines = [line for line in stderr.splitlines() if "ekakte.access" in line]
    assert any("POST /api/v1/documents 201" in line for line in lines), stderr
    assert "slow.pdf" not in stderr and CASE not in stderr
    with Archive.open(load_settings(stack_env)) as archive, archive.reading() as session:
        from sqlalchemy import func, select

        from ekakte.db.models import Document

        assert session.scalar(select(func.count()).select_from(Document)) == 1


def test_a_bad_setting_is_one_line(stack_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ekakte", "serve", "--port", str(free_port())],
        env={**os.environ, **stack_env, "EKAKTE_OIDC_ISSUER": "http://idp.example"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 6
    assert done.stderr.strip().count("\n") == 0 and "EKAKTE_OIDC_ISSUER" in done.stderr


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made here."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)  # noqa: E501
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    keyfile.chmod(0o600)
    return certfile, keyfile


@pytest.mark.parametrize("stack_env", ["embedded"], indirect=True)
def test_tls_by_the_service_itself_sends_hsts_and_secure_cookies(
    stack_env: dict[str, str], oidc_provider: OidcProvider, tmp_path: Path
) -> None:
    from ekakte import api

    certfile, keyfile = self_signed(tmp_path)
    with Archive.open(load_settings(stack_env)) as archive:
        api.set_password(archive, api.Actor("admin"), "caseworker", "Korrekt Pferd Batterie Heftklammer")
    process, url = start(
        stack_env, oidc_provider, "--certfile", str(certfile), "--keyfile", str(keyfile), tls=True
    )
    try:
        with httpx.Client(base_url=url, verify=ssl.create_default_context(cafile=str(certfile))) as client:
            health = client.get("/healthz")
            assert health.headers["strict-transport-security"].startswith("max-age=")
            signed_in = client.post(
                "/auth/password",
                data={"username": "caseworker", "password": "Korrekt Pferd Batterie Heftklammer"},
            )
            cookie = signed_in.headers["set-cookie"]
            assert cookie.startswith("__Host-ekakte-session=") and "Secure" in cookie and "HttpOnly" in cookie
    finally:
        process.terminate()
        process.communicate(timeout=30)
