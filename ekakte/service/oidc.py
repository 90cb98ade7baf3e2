"""Access tokens of the OpenID provider: JWTs checked against the keys the provider publishes.

What a token must be to name a user here: signed with one of the issuer's current keys (its JWKS, found
through the issuer's discovery document), by an algorithm of ALGORITHMS (asymmetric only: never `none`,
never an HMAC, whose "secret" would be the public key anyone can fetch), issued by exactly the configured
issuer, for the configured audience, inside its validity (`exp`, `nbf`, LEEWAY seconds either way for
clocks that differ), and of a type that is an access token's (an ID token has the client as audience, so it
fails that check already). The keys are cached; a token signed with a key the cache does not know makes
one refetch (the provider rotated its keys), at most once every REFETCH_INTERVAL seconds, so that tokens
with made-up key ids cannot make the service hammer the provider.

Only who the token names is taken from it: roles, teams and the health clearance are ekakte's own.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from ekakte.service.problems import Problem
from ekakte.service.settings import OidcSettings

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY = 30  # seconds
DISCOVERY_TTL = 3600.0
REFETCH_INTERVAL = 10.0
TIMEOUT = 5.0
# `typ` of an access token (RFC 9068: at+jwt); providers that predate it write JWT or nothing.
_ACCESS_TOKEN_TYPES = {"at+jwt", "application/at+jwt", "jwt"}
_MAX_TOKEN = 8192


def invalid_token(detail: str) -> Problem:
    return Problem(401, "invalid-token", detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def provider_unreachable() -> Problem:
    return Problem(503, "identity-provider", "The sign-in service cannot be reached; try again later.")


# A published key, and the algorithm it names for itself ("alg" of its JWK), if it names one.
_Key = tuple[jwt.PyJWK, str | None]


@dataclass
class _Keys:
    by_kid: dict[str, _Key]
    unnamed: list[_Key]  # keys without a kid
    fetched: float


class Issuer:
    """One OpenID provider, as the service's processes each know it (its metadata and keys, cached)."""

    def __init__(self, settings: OidcSettings, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self._http = client or httpx.Client(timeout=TIMEOUT, follow_redirects=False)
        self._lock = threading.Lock()
        self._fetching = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: _Keys | None = None
        self.refetch_interval = REFETCH_INTERVAL
        self._failed_at = -1e9  # when a fetch of the metadata last failed (monotonic)
        self._keys_failed_at = -1e9

    # The provider's documents -------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The discovery document, checked to be the configured issuer's (OpenID Connect Discovery §4.3).
        Refreshed after DISCOVERY_TTL; while the provider cannot be reached the last one stays in use, and
        after a failed fetch the next is tried REFETCH_INTERVAL later, not by every request."""
        with self._lock:
            now = time.monotonic()
            fresh = self._metadata is not None and now - self._metadata_at <= DISCOVERY_TTL
            if fresh or now - self._failed_at < self.refetch_interval:
                if self._metadata is None:
                    raise provider_unreachable()
                return self._metadata
            try:
                document = self._get_json(self.settings.issuer + "/.well-known/openid-configuration")
                if document.get("issuer", "").rstrip("/") != self.settings.issuer:
                    raise provider_unreachable()
                if not isinstance(document.get("jwks_uri"), str):
                    raise provider_unreachable()
            except Exception:
                self._failed_at = now
                if self._metadata is not None:
                    return self._metadata
                raise
            self._metadata, self._metadata_at = document, now
            return self._metadata

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = self._http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, json.JSONDecodeError):
            raise provider_unreachable() from None
        if not isinstance(document, dict):
            raise provider_unreachable()
        return document

    def _fetch_keys(self) -> _Keys:
        jwks = self._get_json(self.metadata()["jwks_uri"])
        by_kid: dict[str, _Key] = {}
        unnamed: list[_Key] = []
        for entry in jwks.get("keys", []):
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = (jwt.PyJWK(entry), entry["alg"] if isinstance(entry.get("alg"), str) else None)
            except (jwt.PyJWKError, jwt.InvalidKeyError):
                continue  # a key of a kind this service does not use (or cannot read)
            if isinstance(entry.get("kid"), str):
                by_kid[entry["kid"]] = key
            else:
                unnamed.append(key)
        return _Keys(by_kid, unnamed, time.monotonic())

    def _key(self, kid: str | None) -> _Key:
        def must_fetch(keys: _Keys | None) -> bool:
            if keys is None:
                return True
            unknown = kid is not None and kid not in keys.by_kid
            return unknown and time.monotonic() - keys.fetched >= self.refetch_interval

        keys = self._keys
        if must_fetch(keys):
            with self._fetching:  # one fetch at a time; those who waited use its result
                keys = self._keys
                if must_fetch(keys):
                    if time.monotonic() - self._keys_failed_at < self.refetch_interval and keys is None:
                        raise provider_unreachable()  # tried a moment ago: not again for every request
                    try:
                        keys = self._keys = self._fetch_keys()
                    except Problem:
                        self._keys_failed_at = time.monotonic()
                        if keys is None:
                            raise
                        keys.fetched = time.monotonic()  # keep the keys we have; try again later
        assert keys is not None
        if kid is not None:
            if kid in keys.by_kid:
                return keys.by_kid[kid]
            raise invalid_token("the token is signed with a key the identity provider does not publish")
        candidates = list(keys.by_kid.values()) + keys.unnamed
        if len(candidates) == 1:
            return candidates[0]
        raise invalid_token("the token names no key (kid) and the identity provider has several")

    # Tokens ---------------------------------------------------------------------------------------------

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token for this service; a 401 Problem for anything else."""
        return self._verify(token, self.settings.audience, _ACCESS_TOKEN_TYPES)

    def verify_id_token(self, token: str, nonce: str) -> dict[str, Any]:
        """The claims of the ID token of a sign-in this service began (its audience is our client id,
        its nonce the one we sent); a 401 Problem for anything else."""
        claims = self._verify(token, self.settings.client_id, {"jwt"})
        if claims.get("nonce") != nonce:
            raise invalid_token("the sign-in's answer does not belong to the sign-in this service began")
        return claims

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
        """The token endpoint's answer to an authorization code (with the PKCE verifier and the client's
        secret); a 401 Problem when the provider refuses it."""
        endpoint = self.metadata().get("token_endpoint")
        if not isinstance(endpoint, str):
            raise provider_unreachable()
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": code_verifier}  # fmt: skip
        auth = (self.settings.client_id, self.settings.client_secret or "")
        try:
            response = self._http.post(endpoint, data=data, auth=auth, headers={"Accept": "application/json"})
        except httpx.HTTPError:
            raise provider_unreachable() from None
        if response.status_code >= 500:
            raise provider_unreachable()
        try:
            answer = response.json()
        except json.JSONDecodeError:
            raise provider_unreachable() from None
        if response.status_code != 200 or not isinstance(answer, dict) or "id_token" not in answer:
            raise invalid_token("the identity provider did not confirm the sign-in")
        return answer

    def _verify(self, token: str, audience: str, types: set[str]) -> dict[str, Any]:
        if len(token) > _MAX_TOKEN:
            raise invalid_token("the token is too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise invalid_token("the token is not a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise invalid_token("the token's signature algorithm is not accepted")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in types):
            raise invalid_token("the token is not of the kind expected here")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise invalid_token("the token's key id is not text")
        key, declared = self._key(kid)
        # A key that names its algorithm checks only that one; one that names none, the algorithms of its
        # type (an RSA key never an ES256 token), an EC key only the one of its curve.
        if declared is not None and declared != algorithm:
            raise invalid_token("the token's algorithm does not match the key")
        if declared is None and key.algorithm_name != algorithm and not _same_family(key, algorithm):
            raise invalid_token("the token's algorithm does not match the key")
        if types is _ACCESS_TOKEN_TYPES and "nonce" in _unverified_claims(token):
            raise invalid_token("an ID token is not an access token")
        try:
            return jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=audience,
                issuer=self.metadata()["issuer"],
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise invalid_token("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise invalid_token("the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise invalid_token("the token is not meant for this service (audience)") from None
        except jwt.InvalidIssuerError:
            raise invalid_token("the token is not from the configured identity provider") from None
        except jwt.PyJWTError:
            raise invalid_token("the token is invalid") from None

    def username(self, claims: dict[str, Any]) -> str:
        """The ekakte principal the token names: the configured claim (preferred_username), or, for a
        token without a user (client credentials: RFC 9068 §2.2 makes `sub` the client; Entra ID marks
        such tokens `idtyp: app`), the client's id (`client_id`, or `azp` / `appid`)."""
        name = claims.get(self.settings.username_claim)
        if isinstance(name, str) and name:
            return name
        client = claims.get("client_id") or claims.get("azp") or claims.get("appid")
        without_user = claims.get("sub") == client or claims.get("idtyp") == "app"
        if isinstance(client, str) and client and without_user:
            return client
        raise invalid_token(f"the token names no user ({self.settings.username_claim})")


def _unverified_claims(token: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise invalid_token("the token is invalid") from None
    return claims if isinstance(claims, dict) else {}


def _same_family(key: jwt.PyJWK, algorithm: str) -> bool:
    """Whether a key without an `alg` of its own may check `algorithm`: by the key's type."""
    # An EC key's curve names its one algorithm (P-256: ES256), which PyJWK takes as the key's own.
    families = {"RSA": ("RS", "PS"), "OKP": ("EdDSA",)}
    kty = key.key_type if hasattr(key, "key_type") else None
    return kty in families and algorithm.startswith(families[kty])
