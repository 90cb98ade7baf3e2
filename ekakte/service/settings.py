"""The service's own settings, from the environment (the archive's come from `ekakte.config`)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ekakte.errors import ConfigError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class OidcSettings:
    """The OpenID provider that signs users in (EKAKTE_OIDC_*)."""

    issuer: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    # The `aud` every access token must carry: the service's own name at the provider.
    audience: str = ""
    username_claim: str = "preferred_username"


@dataclass(frozen=True)
class ServiceSettings:
    oidc: OidcSettings | None = None
    # Proxies whose X-Forwarded-For is believed (EKAKTE_TRUSTED_PROXIES: addresses or networks, comma
    # separated). Without them the client is the peer of the connection.
    trusted_proxies: tuple[IPNetwork, ...] = ()
    # The largest upload taken (EKAKTE_MAX_UPLOAD_MB), and the largest body of any other request.
    max_upload_bytes: int = 200 * 1024 * 1024
    max_body_bytes: int = 64 * 1024
    # Seconds a request's body may pause between two chunks before the request is given up (a client
    # that sends a byte a minute would hold a worker thread and a spool file for ever).
    body_timeout: float = 30.0
    # Whether the service itself speaks TLS (--certfile): then HSTS is sent.
    tls: bool = False
    # The address users reach the service at (EKAKTE_PUBLIC_URL, e.g. https://akte.jobcenter.example):
    # where the identity provider sends them back to. Without it, the address of the request.
    public_url: str | None = None
    # Sessions end after this long unused (EKAKTE_SESSION_IDLE_MINUTES) and this long after sign-in
    # whatever happens (EKAKTE_SESSION_HOURS).
    session_idle_seconds: int = 30 * 60
    session_lifetime_seconds: int = 10 * 3600
    # Cookies only over TLS: set when the service or its proxy speaks TLS (EKAKTE_PUBLIC_URL https://…).
    secure_cookies: bool = False
    # Where users report barriers (EKAKTE_ACCESSIBILITY_CONTACT: an address or a mailbox), shown in the
    # web app's accessibility statement.
    accessibility_contact: str | None = None


def load_service_settings(env: Mapping[str, str] | None = None, *, tls: bool = False) -> ServiceSettings:
    env = os.environ if env is None else env
    public_url = env.get("EKAKTE_PUBLIC_URL", "").strip().rstrip("/") or None
    if public_url is not None and not public_url.startswith(("https://", "http://")):
        raise ConfigError("EKAKTE_PUBLIC_URL must be an http:// or https:// address")
    return ServiceSettings(
        oidc=_oidc(env),
        trusted_proxies=_networks(env.get("EKAKTE_TRUSTED_PROXIES", "")),
        max_upload_bytes=_megabytes(env, "EKAKTE_MAX_UPLOAD_MB", 200),
        tls=tls,
        public_url=public_url,
        session_idle_seconds=60 * _whole(env, "EKAKTE_SESSION_IDLE_MINUTES", 30, 1, 24 * 60),
        session_lifetime_seconds=3600 * _whole(env, "EKAKTE_SESSION_HOURS", 10, 1, 24),
        secure_cookies=tls or (public_url or "").startswith("https://"),
        accessibility_contact=env.get("EKAKTE_ACCESSIBILITY_CONTACT", "").strip() or None,
    )


def _whole(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, not {text!r}")
    return int(text)


def _oidc(env: Mapping[str, str]) -> OidcSettings | None:
    issuer = env.get("EKAKTE_OIDC_ISSUER", "").strip()
    if not issuer:
        return None
    if not issuer.startswith(("https://", "http://127.0.0.1", "http://localhost", "http://[::1]")):
        raise ConfigError("EKAKTE_OIDC_ISSUER must be an https:// address (http only on loopback)")
    client_id = env.get("EKAKTE_OIDC_CLIENT_ID", "").strip()
    audience = env.get("EKAKTE_OIDC_AUDIENCE", "").strip()
    if not client_id:
        raise ConfigError("EKAKTE_OIDC_ISSUER is set but EKAKTE_OIDC_CLIENT_ID is not")
    if not audience:
        raise ConfigError(
            "EKAKTE_OIDC_ISSUER is set but EKAKTE_OIDC_AUDIENCE is not: the audience the access tokens"
            " for this service carry"
        )
    return OidcSettings(
        issuer=issuer.rstrip("/"),
        client_id=client_id,
        client_secret=env.get("EKAKTE_OIDC_CLIENT_SECRET") or None,
        audience=audience,
        username_claim=env.get("EKAKTE_OIDC_USERNAME_CLAIM", "").strip() or "preferred_username",
    )


def _networks(text: str) -> tuple[IPNetwork, ...]:
    networks = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(f"EKAKTE_TRUSTED_PROXIES: {part!r} is not an address or network") from None
    return tuple(networks)


def _megabytes(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default * 1024 * 1024
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of megabytes, not {text!r}") from None
    if not 1 <= value <= 10240:
        raise ConfigError(f"{name} must be between 1 and 10240")
    return value * 1024 * 1024
