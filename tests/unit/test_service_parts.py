"""The service's small parts without a server: whom X-Forwarded-For is believed from, byte ranges, the
service's settings."""

from __future__ import annotations

import ipaddress

import pytest

from ekakte.errors import ConfigError
from ekakte.service.http import client_address
from ekakte.service.routes import _byte_range
from ekakte.service.settings import load_service_settings

PROXY = (ipaddress.ip_network("10.0.0.5/32"),)


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("10.0.0.5", "192.0.2.7", (), "10.0.0.5"),  # no proxy configured: the header is anybody's
        ("192.0.2.9", "192.0.2.7", PROXY, "192.0.2.9"),  # not from the proxy: ignored
        ("10.0.0.5", "192.0.2.7", PROXY, "192.0.2.7"),
        ("10.0.0.5", "6.6.6.6, 192.0.2.7", PROXY, "192.0.2.7"),  # the client wrote the left part
        ("10.0.0.5", "192.0.2.7, 10.0.0.5", PROXY, "192.0.2.7"),  # two hops through the proxy
        ("10.0.0.5", "not an address", PROXY, "10.0.0.5"),
        ("::ffff:10.0.0.5", "192.0.2.7", PROXY, "192.0.2.7"),  # a dual-stack listener's IPv4 peer
        ("10.0.0.5", None, PROXY, "10.0.0.5"),
    ],
)
def test_the_client_address(peer: str, forwarded: str | None, trusted: tuple, client: str) -> None:  # type: ignore[type-arg]
    assert client_address(peer, forwarded, trusted) == client


@pytest.mark.parametrize(
    ("header", "answer"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-10", (990, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=900-5000", (900, 999)),
        ("bytes=1000-", "unsatisfiable"),
        ("bytes=-0", "unsatisfiable"),
        ("bytes=5-1", None),
        ("bytes=0-1,5-9", None),  # several ranges: the whole object
        ("items=0-1", None),
        ("bytes=a-b", None),
        ("bytes=-", None),
    ],
)
def test_byte_ranges(header: str, answer: object) -> None:
    assert _byte_range(header, 1000) == answer


def test_service_settings() -> None:
    settings = load_service_settings(
        {
            "EKAKTE_OIDC_ISSUER": "https://idp.example/realms/jc/",
            "EKAKTE_OIDC_CLIENT_ID": "ekakte-web",
            "EKAKTE_OIDC_AUDIENCE": "ekakte-api",
            "EKAKTE_TRUSTED_PROXIES": "10.0.0.5, 10.1.0.0/16",
            "EKAKTE_PUBLIC_URL": "https://akte.example/",
            "EKAKTE_SESSION_IDLE_MINUTES": "15",
        }
    )
    assert settings.oidc is not None and settings.oidc.issuer == "https://idp.example/realms/jc"
    assert settings.oidc.username_claim == "preferred_username"
    assert settings.public_url == "https://akte.example" and settings.secure_cookies
    assert settings.session_idle_seconds == 900 and len(settings.trusted_proxies) == 2
    for bad in (
        {"EKAKTE_OIDC_ISSUER": "http://idp.example"},  # plain http off loopback
        {"EKAKTE_OIDC_ISSUER": "https://idp.example"},  # no client id, no audience
        {"EKAKTE_TRUSTED_PROXIES": "proxy.example"},
        {"EKAKTE_SESSION_IDLE_MINUTES": "0"},
        {"EKAKTE_MAX_UPLOAD_MB": "lots"},
    ):
        with pytest.raises(ConfigError):
            load_service_settings(bad)


@pytest.mark.parametrize(
    ("claims", "name"),
    [
        ({"preferred_username": "lena", "sub": "f81d4fae", "client_id": "ekakte-web"}, "lena"),
        ({"sub": "fachverfahren", "client_id": "fachverfahren"}, "fachverfahren"),  # RFC 9068 client token
        ({"sub": "5d2e…oid", "azp": "3f1c-app-id", "idtyp": "app"}, "3f1c-app-id"),  # Entra ID app token
        ({"sub": "5d2e…oid", "appid": "3f1c-app-id", "idtyp": "app"}, "3f1c-app-id"),  # Entra ID v1
        ({"sub": "someone", "client_id": "ekakte-web"}, None),  # a user token without the user's name
    ],
)
def test_whom_a_token_names(claims: dict[str, str], name: str | None) -> None:
    from ekakte.service.oidc import Issuer
    from ekakte.service.problems import Problem
    from ekakte.service.settings import OidcSettings

    issuer = Issuer(OidcSettings("https://idp.example", "ekakte-web", audience="ekakte-api"))
    if name is None:
        with pytest.raises(Problem):
            issuer.username(claims)
    else:
        assert issuer.username(claims) == name
