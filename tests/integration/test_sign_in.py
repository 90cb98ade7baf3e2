"""Signing in to the service: at the real OpenID provider (authorization code with PKCE, through the
provider's own login form), and with local passwords (argon2id, throttled per user and per client
address, lock-outs audited); the sessions both lead to (cookie flags, CSRF token, idle end, sign-out)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from ekakte import api
from ekakte.archive import Archive
from ekakte.config import Settings
from ekakte.db.models import AuditEntry, LoginThrottle, Principal, WebSession
from ekakte.service.app import create_app
from ekakte.service.settings import OidcSettings, ServiceSettings
from ekakte.sessions import FAILURES
from tests.conftest import ADMIN, CASE
from tests.integration.test_service import serving
from tests.oidc_provider import WEB_CLIENT_ID, WEB_CLIENT_SECRET, OidcProvider

PASSWORD = "Korrekt Pferd Batterie Heftklammer"
READER = "caseworker"


@pytest.fixture
def base(settings: Settings, archive: Archive, oidc_provider: OidcProvider) -> Iterator[str]:
    oidc = OidcSettings(
        issuer=oidc_provider.issuer, client_id=WEB_CLIENT_ID, client_secret=WEB_CLIENT_SECRET,
        audience=oidc_provider.audience,
    )  # fmt: skip
    api.set_password(archive, ADMIN, READER, PASSWORD)
    with serving(create_app(settings, ServiceSettings(oidc=oidc), archive=archive)) as url:
        yield url


def sign_in(client: httpx.Client, user: str = READER, password: str = PASSWORD) -> httpx.Response:
    return client.post("/auth/password", data={"username": user, "password": password})


def entries(archive: Archive, action: str) -> list[AuditEntry]:
    with archive.reading() as session:
        return list(
            session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        )


def test_a_password_session_reads_and_needs_its_csrf_token_to_change_anything(
    base: str, archive: Archive
) -> None:
    with httpx.Client(base_url=base) as client:
        signed_in = sign_in(client)
        assert signed_in.status_code == 200, signed_in.text
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "ekakte-session=" in cookie
        csrf = signed_in.json()["csrf_token"]
        assert client.get("/auth/session").json()["user"] == READER
        assert client.get(f"/api/v1/cases/{CASE}").status_code == 200
        without = client.post("/api/v1/search", json={"query": "Muster"})
        assert without.status_code == 403 and without.json()["code"] == "csrf"
        assert (
            client.post(
                "/api/v1/search", json={"query": "Muster"}, headers={"X-CSRF-Token": csrf}
            ).status_code
            == 200
        )
        out = client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/"
        assert client.get(f"/api/v1/cases/{CASE}").status_code == 401
    assert [e.outcome for e in entries(archive, "auth.sign-in")] == ["allowed"]
    assert [(e.actor, e.channel) for e in entries(archive, "auth.sign-out")] == [(READER, "web")]


def test_a_wrong_password_and_an_unknown_user_answer_alike(base: str, archive: Archive) -> None:
    with httpx.Client(base_url=base) as client:
        wrong = sign_in(client, password="falsch falsch falsch")
        unknown = sign_in(client, user="niemand")
    assert wrong.status_code == unknown.status_code == 401
    assert {k: v for k, v in wrong.json().items() if k != "request_id"} == {
        k: v for k, v in unknown.json().items() if k != "request_id"
    }
    recorded = entries(archive, "auth.sign-in")
    assert [(e.actor, e.outcome) for e in recorded] == [(READER, "denied"), ("(unknown)", "denied")]
    assert all("niemand" not in (e.reason or "") for e in recorded)


def test_failures_lock_the_user_out_and_the_lock_out_is_audited(base: str, archive: Archive) -> None:
    with httpx.Client(base_url=base) as client:
        for _ in range(FAILURES):
            assert sign_in(client, password="falsch falsch falsch").status_code == 401
        assert sign_in(client).status_code == 401  # the right password, but locked: not even checked
        outcomes = [e.outcome for e in entries(archive, "auth.sign-in")]
        assert outcomes == ["denied"] * (FAILURES - 1) + ["locked", "denied"]
        with archive.transaction() as session:  # fifteen minutes later
            session.execute(
                update(LoginThrottle).values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
            )
        assert sign_in(client).status_code == 200


def test_failures_from_one_address_lock_that_address_out_for_every_user(base: str, archive: Archive) -> None:
    api.set_password(archive, ADMIN, "scan-operator", PASSWORD)
    with httpx.Client(base_url=base) as client:
        for i in range(FAILURES):
            assert sign_in(client, user=f"probe{i}", password="rate mal rate mal").status_code == 401
        assert sign_in(client, user="scan-operator").status_code == 401
    with archive.reading() as session:
        assert session.get(LoginThrottle, "address:127.0.0.1").locked_until is not None  # type: ignore[union-attr]


def test_an_idle_session_ends(base: str, archive: Archive) -> None:
    with httpx.Client(base_url=base) as client:
        assert sign_in(client).status_code == 200
        with archive.transaction() as session:
            session.execute(update(WebSession).values(last_seen_at=datetime.now(UTC) - timedelta(minutes=31)))
        assert client.get("/auth/session").status_code == 401
    with archive.reading() as session:
        assert session.scalar(select(WebSession.id)) is None


def test_a_new_password_ends_the_users_sessions(base: str, archive: Archive) -> None:
    with httpx.Client(base_url=base) as client:
        assert sign_in(client).status_code == 200
        api.set_password(archive, ADMIN, READER, "ein ganz anderes Passwort")
        assert client.get("/auth/session").status_code == 401


def test_single_sign_on_through_the_provider(
    base: str, archive: Archive, oidc_provider: OidcProvider
) -> None:
    with httpx.Client(base_url=base) as client, httpx.Client() as browser:
        start = client.get("/auth/login", params={"return_to": f"/akte/{CASE}"})
        assert start.status_code == 302
        authorize = start.headers["location"]
        query = parse_qs(urlsplit(authorize).query)
        assert query["code_challenge_method"] == ["S256"] and query["client_id"] == [WEB_CLIENT_ID]
        back = oidc_provider.authorization_code_login(authorize, READER, browser)
        assert back.startswith(f"{base}/auth/callback?"), back
        done = client.get(back.removeprefix(base))
        assert done.status_code == 303 and done.headers["location"] == f"/akte/{CASE}"
        session = client.get("/auth/session").json()
        assert (session["user"], session["method"]) == (READER, "oidc")
        assert client.get(back.removeprefix(base)).status_code == 401  # a state is taken once

        out = client.post("/auth/logout", headers={"X-CSRF-Token": session["csrf_token"]})
        assert out.headers["location"].startswith(oidc_provider.issuer)  # ended at the provider too
        assert "post_logout_redirect_uri" in out.headers["location"]
        assert client.get("/auth/session").status_code == 401
    assert [(e.actor, e.outcome, e.reason) for e in entries(archive, "auth.sign-in")] == [
        (READER, "allowed", "identity provider")
    ]


def test_a_sign_in_finishes_only_in_the_browser_that_began_it(
    base: str, archive: Archive, oidc_provider: OidcProvider
) -> None:
    """Someone who begins a sign-in and sends the callback link (their own code and state) to a victim
    does not sign the victim in as themselves."""
    with httpx.Client(base_url=base) as attacker, httpx.Client(base_url=base) as victim:
        authorize = attacker.get("/auth/login").headers["location"]
        back = oidc_provider.authorization_code_login(authorize, READER)
        refused = victim.get(back.removeprefix(base))
        assert refused.status_code == 401 and "set-cookie" not in refused.headers
        assert victim.get("/auth/session").status_code == 401
    for bad in ("//evil.example/", "/\\evil.example/", "https://evil.example/", "/ok\nSet-Cookie: x"):
        with httpx.Client(base_url=base) as client:
            assert client.get("/auth/login", params={"return_to": bad}).status_code == 422, bad


def test_a_provider_user_who_is_no_archive_user_is_refused(
    base: str, archive: Archive, oidc_provider: OidcProvider
) -> None:
    with httpx.Client(base_url=base) as client:
        authorize = client.get("/auth/login").headers["location"]
        back = oidc_provider.authorization_code_login(authorize, "fremd")
        refused = client.get(back.removeprefix(base))
        assert refused.status_code == 401 and "set-cookie" not in refused.headers
    assert [(e.actor, e.outcome) for e in entries(archive, "auth.sign-in")] == [("(unknown)", "denied")]


def test_user_password_command(stack_env: dict[str, str], archive: Archive) -> None:
    def run(*args: str, given: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ekakte", *args], input=given, capture_output=True, text=True,
            env={**os.environ, **stack_env, "USER": "admin"}, timeout=60,
        )  # fmt: skip

    # The CLI acts as the OS login: make it the archive's admin for this test.
    import pwd

    me = pwd.getpwuid(os.geteuid()).pw_name
    if me != ADMIN.name:
        api.add_user(archive, ADMIN, me, ["admin"])
    short = run("user", "password", READER, "--stdin", given="kurz\n")
    assert short.returncode == 3 and short.stderr.count("\n") == 1 and "12 characters" in short.stderr
    ok = run("user", "password", READER, "--stdin", given=PASSWORD + "\n")
    assert ok.returncode == 0, ok.stderr
    with archive.reading() as session:
        stored = session.scalar(select(Principal.password_hash).where(Principal.name == READER))
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored


def test_parallel_guesses_are_counted_one_after_another(archive: Archive) -> None:
    """Eight wrong passwords at once for one user: each is answered alike and audited, five lock the user
    out, and the right password is then refused too."""
    import threading

    from ekakte.errors import NotAuthenticated

    api.set_password(archive, ADMIN, READER, PASSWORD)
    answers: list[str] = []

    def guess() -> None:
        actor = api.Actor(READER, channel="web", client_address="192.0.2.7")
        try:
            api.sign_in_with_password(archive, actor, "falsch falsch falsch", lifetime=timedelta(hours=1))
            answers.append("signed in")
        except NotAuthenticated:
            answers.append("refused")
        except Exception as exc:  # what must not happen: a 500 and no entry
            answers.append(type(exc).__name__)

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == ["refused"] * 8
    assert sorted(e.outcome for e in entries(archive, "auth.sign-in")) == ["denied"] * 7 + ["locked"]
    with pytest.raises(NotAuthenticated):
        api.sign_in_with_password(
            archive, api.Actor(READER, channel="web"), PASSWORD, lifetime=timedelta(hours=1)
        )
    with archive.reading() as session:
        keys = list(session.scalars(select(LoginThrottle.key)))
    assert all(READER not in key for key in keys)  # the typed name is not kept
