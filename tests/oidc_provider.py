"""A real OpenID provider for the tests: oidc-provider (tests/oidc/provider.mjs) under node on loopback.

What its tokens hold (oidc-provider 9.13.3, both signed by the first key of the set, header
``{"alg": <its alg>, "typ": "at+jwt", "kid": <its kid>}``, RFC 9068):

- a user's access token (authorization code + PKCE): ``iss``, ``sub`` = the login name, ``aud`` = the
  audience, ``iat``, ``exp``, ``jti``, ``client_id`` (the web client), ``scope`` (the requested scopes
  the API grants, i.e. ``"api"`` when the authorization request asked for it; absent otherwise, and the
  token response's ``scope`` is then ``""``), ``preferred_username`` = the login name;
- a client-credentials token: ``iss``, ``sub`` = ``client_id`` = the client's id, ``aud`` = the audience,
  ``iat``, ``exp``, ``jti``, and ``scope`` only when the client asked for ``scope=api``; no
  ``preferred_username``.

A user is any login name: the login form accepts every name with any password and consent is granted
without asking. The web client is ``native`` in OAuth's sense only so that oidc-provider accepts its
loopback redirect URIs on any port (RFC 8252 §7.3): a service under test on a free port can log in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.services import free_port, unavailable

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
PROVIDER_SCRIPT = OIDC_DIR / "provider.mjs"

AUDIENCE = "ekakte-api"
WEB_CLIENT_ID = "ekakte-web"
WEB_CLIENT_SECRET = "ekakte-web-test-secret"
WEB_REDIRECT_URI = "http://127.0.0.1/auth/callback"
SERVICE_CLIENT_ID = "fachverfahren"
SERVICE_CLIENT_SECRET = "fachverfahren-test-secret"
START_TIMEOUT = 20.0
NODE_MINIMUM = (20, 18)  # oidc-provider 9 calls URL.parse and crypto.hash


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_b64(value: int, length: int | None = None) -> str:
    return _b64(value.to_bytes(length or (value.bit_length() + 7) // 8, "big"))


def _b64_int(text: str) -> int:
    return int.from_bytes(_unb64(text), "big")


def make_key(kid: str, alg: str = "RS256") -> dict[str, Any]:
    """A private JWK: RSA 2048 for RS256 and PS256, P-256 for ES256."""
    if alg in ("RS256", "PS256"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = key.private_numbers()
        public = numbers.public_numbers
        return {
            "kty": "RSA",
            "kid": kid,
            "alg": alg,
            "use": "sig",
            "n": _int_b64(public.n),
            "e": _int_b64(public.e),
            "d": _int_b64(numbers.d),
            "p": _int_b64(numbers.p),
            "q": _int_b64(numbers.q),
            "dp": _int_b64(numbers.dmp1),
            "dq": _int_b64(numbers.dmq1),
            "qi": _int_b64(numbers.iqmp),
        }
    if alg == "ES256":
        ec_key = ec.generate_private_key(ec.SECP256R1())
        ec_numbers = ec_key.private_numbers()
        return {
            "kty": "EC",
            "kid": kid,
            "alg": alg,
            "use": "sig",
            "crv": "P-256",
            "x": _int_b64(ec_numbers.public_numbers.x, 32),
            "y": _int_b64(ec_numbers.public_numbers.y, 32),
            "d": _int_b64(ec_numbers.private_value, 32),
        }
    raise ValueError(f"make_key: unsupported algorithm {alg}")


def public_jwk(key: dict[str, Any]) -> dict[str, Any]:
    """The public half of a private JWK made by make_key."""
    private = {"d", "p", "q", "dp", "dq", "qi"}
    return {name: value for name, value in key.items() if name not in private}


def _private_key(key: dict[str, Any]) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    if key["kty"] == "RSA":
        public = rsa.RSAPublicNumbers(_b64_int(key["e"]), _b64_int(key["n"]))
        return rsa.RSAPrivateNumbers(
            _b64_int(key["p"]),
            _b64_int(key["q"]),
            _b64_int(key["d"]),
            _b64_int(key["dp"]),
            _b64_int(key["dq"]),
            _b64_int(key["qi"]),
            public,
        ).private_key()
    ec_public = ec.EllipticCurvePublicNumbers(_b64_int(key["x"]), _b64_int(key["y"]), ec.SECP256R1())
    return ec.EllipticCurvePrivateNumbers(_b64_int(key["d"]), ec_public).private_key()


def _signature(key: dict[str, Any], alg: str, data: bytes) -> bytes:
    if alg == "none":
        return b""
    private = _private_key(key)
    if alg == "HS256":
        # The algorithm-confusion attack: the public key's PEM used as an HMAC secret.
        mac = hmac.HMAC(
            private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            hashes.SHA256(),
        )
        mac.update(data)
        return mac.finalize()
    if alg == "RS256" and isinstance(private, rsa.RSAPrivateKey):
        return private.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if alg == "PS256" and isinstance(private, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=hashes.SHA256.digest_size)
        return private.sign(data, pss, hashes.SHA256())
    if alg == "ES256" and isinstance(private, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    raise ValueError(f"sign: cannot sign {alg} with a {key['kty']} key")


def pkce_pair() -> tuple[str, str]:
    """A PKCE code_verifier and its S256 code_challenge."""
    verifier = secrets.token_urlsafe(48)
    return verifier, _b64(hashlib.sha256(verifier.encode("ascii")).digest())


def web_client(
    redirect_uris: list[str] | None = None, post_logout_redirect_uris: list[str] | None = None
) -> dict[str, Any]:
    """The archive's web front end: confidential, authorization code (with PKCE, which the provider
    demands of every client). Loopback redirect URIs match on any port."""
    return {
        "client_id": WEB_CLIENT_ID,
        "client_secret": WEB_CLIENT_SECRET,
        "application_type": "native",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "redirect_uris": redirect_uris or [WEB_REDIRECT_URI],
        "post_logout_redirect_uris": post_logout_redirect_uris
        or ["http://127.0.0.1/", "http://127.0.0.1/auth/logged-out"],
        "token_endpoint_auth_method": "client_secret_basic",
    }


def service_client() -> dict[str, Any]:
    """A specialist application (Fachverfahren) calling the API as itself: client credentials only."""
    return {
        "client_id": SERVICE_CLIENT_ID,
        "client_secret": SERVICE_CLIENT_SECRET,
        "grant_types": ["client_credentials"],
        "response_types": [],
        "redirect_uris": [],
        "token_endpoint_auth_method": "client_secret_basic",
    }


def missing_requirements() -> str | None:
    """Why the provider cannot run here, or None."""
    node = shutil.which("node")
    if node is None:
        return "node is not installed: run scripts/ensure-oidc.sh (as root it installs Node.js)"
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if tuple(int(part) for part in version.lstrip("v").split(".")[:2]) < NODE_MINIMUM:
        return f"node {version} is too old for oidc-provider 9 (it needs 20.18 or newer)"
    if not (OIDC_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        return "the npm package oidc-provider is not installed: run scripts/ensure-oidc.sh"
    return None


class _Form(HTMLParser):
    """The first form of a page: its action and its named inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action", "")
        elif tag == "input" and self.action is not None and not self._done and "name" in values:
            self.fields[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.action is not None:
            self._done = True


class OidcProvider:
    """oidc-provider under node on a loopback port, configured through a JSON file in `workdir`."""

    def __init__(
        self,
        workdir: Path,
        *,
        keys: list[dict[str, Any]] | None = None,
        clients: list[dict[str, Any]] | None = None,
        audience: str = AUDIENCE,
        access_token_ttl: int = 600,
        port: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.keys = keys or [make_key("key-1")]
        self.clients = clients if clients is not None else [web_client(), service_client()]
        self.audience = audience
        self.access_token_ttl = access_token_ttl
        self._fixed_port = port is not None
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._log = workdir / "provider.log"

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def resource(self) -> str:
        """The API's resource indicator (RFC 8707 wants an absolute URI; the audience need not be one)."""
        return self.audience if ":" in self.audience else f"urn:{self.audience}"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/jwks"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start node and wait for its `ready`; a port taken meanwhile is replaced once unless fixed."""
        if self.running:
            raise RuntimeError("the OpenID provider is already running")
        try:
            self._start()
        except RuntimeError as exc:
            if self._fixed_port or "EADDRINUSE" not in str(exc):
                raise
            self.port = free_port()
            self._start()

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "provider.json"
        config.write_text(
            json.dumps(
                {
                    "port": self.port,
                    "issuer": self.issuer,
                    "jwks": {"keys": self.keys},
                    "clients": self.clients,
                    "audience": self.audience,
                    "resource": self.resource,
                    "access_token_ttl": self.access_token_ttl,
                }
            )
        )
        # NODE_ENV, NODE_OPTIONS or DEBUG of the caller would change how the provider behaves or talks.
        env = {key: value for key, value in os.environ.items() if not key.startswith(("NODE_", "DEBUG"))}
        with self._log.open("wb") as log:
            process = subprocess.Popen(
                ["node", str(PROVIDER_SCRIPT), str(config)],
                cwd=OIDC_DIR,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
            )
        self._process = process
        assert process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while (left := deadline - time.monotonic()) > 0 and selector.select(left):
                line = process.stdout.readline()
                if not line:  # the process ended
                    break
                if line.strip() == b"ready":
                    return
        try:
            code: int | None = process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            code = None
        self.stop()
        what = f"exited with code {code}" if code is not None else f"was not ready in {START_TIMEOUT:.0f} s"
        raise RuntimeError(
            f"the OpenID provider on port {self.port} {what}:\n" + self._log.read_text(errors="replace")
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def restart(self, keys: list[dict[str, Any]] | None = None) -> None:
        """Stop and start again on the same port and issuer, with a new key set if given (key rotation).
        Sessions, codes and grants are gone: they live in the provider's memory."""
        self.stop()
        if keys is not None:
            self.keys = keys
        self._fixed_port = True
        self.start()

    def __enter__(self) -> OidcProvider:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def discovery(self) -> dict[str, Any]:
        response = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def _token_request(self, client_id: str, client_secret: str, data: dict[str, str]) -> dict[str, Any]:
        response = httpx.post(f"{self.issuer}/token", data=data, auth=(client_id, client_secret), timeout=10)
        if response.status_code != 200:
            raise RuntimeError(f"token endpoint answered {response.status_code}: {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def client_credentials_token(self, client_id: str, client_secret: str, scope: str | None = None) -> str:
        data = {"grant_type": "client_credentials"}
        if scope is not None:
            data["scope"] = scope
        return str(self._token_request(client_id, client_secret, data)["access_token"])

    def token_for_code(
        self, client_id: str, client_secret: str, code: str, redirect_uri: str, code_verifier: str
    ) -> dict[str, Any]:
        """The token endpoint's answer for an authorization code: access_token, id_token, expires_in ..."""
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        return self._token_request(client_id, client_secret, data)

    def authorization_code_login(
        self, authorize_url: str, username: str, browser: httpx.Client | None = None
    ) -> str:
        """Log `username` in from an authorization request, as a browser would: follow the provider's
        redirects and submit its forms until it redirects away from itself. Returns that redirect's URL
        (the client's redirect_uri with code, state and iss, or with error=...) without following it.
        A `browser` passed in keeps the provider's session cookie: its next login needs no form, and
        end_session with it ends that session."""
        location = self._browse(authorize_url, {"login": username, "password": "any password"}, browser)
        if location.startswith(f"{self.issuer}/"):
            raise RuntimeError(f"the OpenID provider's login ended on its own page {location}")
        return location

    def end_session(self, logout_url: str, browser: httpx.Client | None = None) -> str:
        """Follow an RP-initiated logout request (end_session_endpoint with id_token_hint,
        post_logout_redirect_uri, state), confirm it, and return where the provider sends the browser: the
        post_logout_redirect_uri with state, or the URL of its own "signed out" page."""
        return self._browse(logout_url, {"logout": "yes"}, browser)

    def _browse(self, url: str, inputs: dict[str, str], browser: httpx.Client | None) -> str:
        """Follow redirects and submit forms (the first form of each page, with `inputs` added) until the
        provider redirects elsewhere or shows a page without a form; returns that URL."""
        own = browser is None
        client = browser if browser is not None else httpx.Client(timeout=10)
        try:
            response = client.get(url, follow_redirects=False)
            for _ in range(20):
                if response.is_redirect:
                    location = urljoin(str(response.url), response.headers["location"])
                    if not location.startswith(f"{self.issuer}/"):
                        return location
                    response = client.get(location, follow_redirects=False)
                    continue
                form = _Form()
                form.feed(response.text)
                if response.status_code != 200:
                    raise RuntimeError(
                        f"the OpenID provider answered {response.status_code} at {response.url}: "
                        + response.text[:2000]
                    )
                if form.action is None:
                    return str(response.url)
                fields = {**form.fields, **inputs}
                response = client.post(
                    urljoin(str(response.url), form.action), data=fields, follow_redirects=False
                )
            raise RuntimeError(f"the OpenID provider sent more than 20 pages from {url}")
        finally:
            if own:
                client.close()

    def user_claims(self, username: str, *, lifetime: int = 600, **changes: Any) -> dict[str, Any]:
        """Claims like those of the provider's access token for a user, for sign(); a change whose value is
        None removes that claim."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": username,
            "aud": self.audience,
            "iat": now,
            "exp": now + lifetime,
            "jti": secrets.token_urlsafe(16),
            "client_id": WEB_CLIENT_ID,
            "scope": "api",
            "preferred_username": username,
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}

    def sign(
        self,
        claims: dict[str, Any],
        key: dict[str, Any],
        alg: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> str:
        """A JWS of `claims` made with a private JWK (usually one of self.keys): for expired,
        not-yet-valid, wrong-audience or forged tokens. `alg` defaults to the key's; "none" makes an
        unsigned token and "HS256" one MACed with the key's public PEM (algorithm confusion). The header
        is {alg, typ: at+jwt, kid} updated with `headers`, where a None value removes that header."""
        header: dict[str, Any] = {"alg": alg or key["alg"], "typ": "at+jwt", "kid": key["kid"]}
        header.update(headers or {})
        header = {name: value for name, value in header.items() if value is not None}
        signing_input = (
            _b64(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64(json.dumps(claims, separators=(",", ":")).encode())
        )
        return signing_input + "." + _b64(_signature(key, alg or key["alg"], signing_input.encode("ascii")))


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """A started provider with the web client (ekakte-web) and a client-credentials one (fachverfahren)."""
    missing = missing_requirements()
    if missing:
        unavailable(missing)
    with OidcProvider(tmp_path_factory.mktemp("oidc")) as provider:
        yield provider
