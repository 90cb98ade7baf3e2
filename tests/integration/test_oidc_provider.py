"""The test OpenID provider (tests/oidc_provider.py) against the real oidc-provider: discovery, client
credentials, the authorization code flow with PKCE, logout, key rotation and crafted tokens, each token
checked with PyJWT against the provider's JWKS."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import jwt
import pytest

from tests.oidc_provider import (
    AUDIENCE,
    SERVICE_CLIENT_ID,
    SERVICE_CLIENT_SECRET,
    WEB_CLIENT_ID,
    WEB_CLIENT_SECRET,
    OidcProvider,
    make_key,
    missing_requirements,
    pkce_pair,
    public_jwk,
)
from tests.services import unavailable

CALLBACK = "http://127.0.0.1:8123/auth/callback"  # registered without a port: loopback ones match any


def decoded(part: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return result


def header_and_claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a token says, unverified."""
    header, claims, _ = token.split(".")
    return decoded(header), decoded(claims)


def verified(provider: OidcProvider, token: str) -> dict[str, Any]:
    """The token's claims once PyJWT has checked signature, audience, issuer and lifetime against the JWKS."""
    jwks = jwt.PyJWKSet.from_dict(httpx.get(provider.jwks_uri, timeout=10).json())
    header = jwt.get_unverified_header(token)
    key = jwks[header["kid"]]
    claims: dict[str, Any] = jwt.decode(
        token, key.key, algorithms=[header["alg"]], audience=provider.audience, issuer=provider.issuer
    )
    return claims


def authorize_url(provider: OidcProvider, challenge: str, scope: str = "openid profile api") -> str:
    query = {
        "client_id": WEB_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "scope": scope,
        "state": "state-1",
        "nonce": "nonce-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{provider.issuer}/auth?{urlencode(query)}"


def user_tokens(provider: OidcProvider, username: str, browser: httpx.Client | None = None) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    redirect = provider.authorization_code_login(authorize_url(provider, challenge), username, browser)
    query = parse_qs(urlparse(redirect).query)
    assert redirect.startswith(f"{CALLBACK}?"), redirect
    assert query["state"] == ["state-1"]
    assert query["iss"] == [provider.issuer]
    return provider.token_for_code(WEB_CLIENT_ID, WEB_CLIENT_SECRET, query["code"][0], CALLBACK, verifier)


def require_node() -> None:
    missing = missing_requirements()
    if missing:
        unavailable(missing)


@pytest.fixture
def own_provider(tmp_path: Path) -> Iterator[OidcProvider]:
    """A provider of the test's own, for tests that restart it or change its keys."""
    require_node()
    with OidcProvider(tmp_path / "oidc") as provider:
        yield provider


def test_discovery_names_the_endpoints_and_demands_s256(oidc_provider: OidcProvider) -> None:
    discovery = oidc_provider.discovery()
    issuer = oidc_provider.issuer
    assert discovery["issuer"] == issuer
    assert discovery["jwks_uri"] == oidc_provider.jwks_uri == f"{issuer}/jwks"
    assert discovery["authorization_endpoint"] == f"{issuer}/auth"
    assert discovery["token_endpoint"] == f"{issuer}/token"
    assert discovery["end_session_endpoint"] == f"{issuer}/session/end"
    assert "S256" in discovery["code_challenge_methods_supported"]
    assert {"authorization_code", "client_credentials"} <= set(discovery["grant_types_supported"])


def test_client_credentials_token_is_a_jwt_for_the_api_signed_by_the_first_key(
    oidc_provider: OidcProvider,
) -> None:
    token = oidc_provider.client_credentials_token(SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET)
    header, claims = header_and_claims(token)
    print("client credentials token:", header, claims)
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": oidc_provider.keys[0]["kid"]}
    assert set(claims) == {"iss", "sub", "aud", "iat", "exp", "jti", "client_id"}
    assert claims["sub"] == claims["client_id"] == SERVICE_CLIENT_ID
    assert "preferred_username" not in claims
    assert verified(oidc_provider, token) == claims
    assert claims["aud"] == AUDIENCE
    assert claims["iss"] == oidc_provider.issuer
    assert claims["exp"] - claims["iat"] == 600

    with_scope = oidc_provider.client_credentials_token(SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET, scope="api")
    assert verified(oidc_provider, with_scope)["scope"] == "api"


def test_authorization_code_with_pkce_gives_lena_a_token_naming_her(oidc_provider: OidcProvider) -> None:
    tokens = user_tokens(oidc_provider, "lena")
    header, claims = header_and_claims(tokens["access_token"])
    print("user access token:", header, claims)
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": oidc_provider.keys[0]["kid"]}
    assert set(claims) == {
        "iss",
        "sub",
        "aud",
        "iat",
        "exp",
        "jti",
        "client_id",
        "scope",
        "preferred_username",
    }
    assert verified(oidc_provider, tokens["access_token"]) == claims
    assert claims["sub"] == claims["preferred_username"] == "lena"
    assert claims["aud"] == AUDIENCE
    assert claims["client_id"] == WEB_CLIENT_ID
    assert claims["scope"] == tokens["scope"] == "api"
    assert "refresh_token" not in tokens

    id_token = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert id_token["aud"] == WEB_CLIENT_ID
    assert id_token["nonce"] == "nonce-1"
    assert id_token["preferred_username"] == "lena"


def test_an_authorization_request_without_pkce_is_refused(oidc_provider: OidcProvider) -> None:
    query = {
        "client_id": WEB_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "scope": "openid api",
        "state": "state-2",
    }
    redirect = oidc_provider.authorization_code_login(
        f"{oidc_provider.issuer}/auth?{urlencode(query)}", "lena"
    )
    assert parse_qs(urlparse(redirect).query)["error"] == ["invalid_request"]


def test_logout_returns_to_the_client_and_ends_the_providers_session(oidc_provider: OidcProvider) -> None:
    with httpx.Client(timeout=10) as browser:
        tokens = user_tokens(oidc_provider, "lena", browser)
        # Logged in at the provider: the next authorization needs no form.
        assert user_tokens(oidc_provider, "someone else", browser)["scope"] == "api"
        logout = f"{oidc_provider.issuer}/session/end?" + urlencode(
            {
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": "http://127.0.0.1:8123/auth/logged-out",
                "state": "bye",
            }
        )
        assert oidc_provider.end_session(logout, browser) == "http://127.0.0.1:8123/auth/logged-out?state=bye"
        _, challenge = pkce_pair()
        answer = browser.get(authorize_url(oidc_provider, challenge))
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/interaction/")


def test_restart_with_a_new_first_key_signs_with_it_and_publishes_both(own_provider: OidcProvider) -> None:
    old_key = own_provider.keys[0]
    before = own_provider.client_credentials_token(SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET)
    issuer = own_provider.issuer
    new_key = make_key("key-2")

    own_provider.restart(keys=[new_key, old_key])

    assert own_provider.issuer == issuer
    after = own_provider.client_credentials_token(SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET)
    user = user_tokens(own_provider, "lena")["access_token"]
    assert header_and_claims(after)[0]["kid"] == header_and_claims(user)[0]["kid"] == "key-2"
    published = [key["kid"] for key in httpx.get(own_provider.jwks_uri, timeout=10).json()["keys"]]
    assert published == ["key-2", old_key["kid"]]
    assert verified(own_provider, after)["sub"] == SERVICE_CLIENT_ID
    assert verified(own_provider, before)["sub"] == SERVICE_CLIENT_ID  # the old key still verifies


@pytest.mark.parametrize("alg", ["ES256", "PS256"])
def test_a_key_set_of_another_algorithm_signs_tokens_with_it(tmp_path: Path, alg: str) -> None:
    require_node()
    with OidcProvider(tmp_path / "oidc", keys=[make_key("key-1", alg)]) as provider:
        tokens = user_tokens(provider, "lena")
        service = provider.client_credentials_token(SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET)
        for token in (tokens["access_token"], tokens["id_token"], service):
            assert jwt.get_unverified_header(token)["alg"] == alg
        assert verified(provider, tokens["access_token"])["preferred_username"] == "lena"


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_sign_makes_tokens_the_jwks_verifies(tmp_path: Path, alg: str) -> None:
    require_node()
    key = make_key("crafted", alg)
    with OidcProvider(tmp_path / "oidc", keys=[key]) as provider:
        token = provider.sign(provider.user_claims("lena"), key)
        claims = verified(provider, token)
        assert claims["preferred_username"] == "lena"
        assert jwt.get_unverified_header(token) == {"alg": alg, "typ": "at+jwt", "kid": "crafted"}

        expired = provider.sign(provider.user_claims("lena", exp=int(time.time()) - 60), key)
        with pytest.raises(jwt.ExpiredSignatureError):
            verified(provider, expired)
        not_yet = provider.sign(provider.user_claims("lena", nbf=int(time.time()) + 600), key)
        with pytest.raises(jwt.ImmatureSignatureError):
            verified(provider, not_yet)
        other_audience = provider.sign(provider.user_claims("lena", aud="someone-else"), key)
        with pytest.raises(jwt.InvalidAudienceError):
            verified(provider, other_audience)
        header, _, signature = token.split(".")
        forged = provider.sign(provider.user_claims("admin"), key).split(".")[1]
        with pytest.raises(jwt.InvalidSignatureError):
            verified(provider, f"{header}.{forged}.{signature}")
        unknown_key = provider.sign(provider.user_claims("lena"), make_key("crafted", alg))
        with pytest.raises(jwt.InvalidSignatureError):
            verified(provider, unknown_key)
        unsigned = provider.sign(provider.user_claims("lena"), key, alg="none")
        assert unsigned.endswith(".")
        with pytest.raises(jwt.InvalidAlgorithmError):
            jwt.decode(unsigned, jwt.PyJWK(public_jwk(key)).key, algorithms=[alg], audience=AUDIENCE)
