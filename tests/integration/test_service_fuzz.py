"""The API's OpenAPI document, fuzzed by schemathesis through real HTTP: generated requests (valid and
invalid) for every operation, as a user of the role each operation is for. No answer may be a 5xx, and
every answer must be one the document describes (status, content type, headers, body schema); invalid
input must be refused with a 4xx.

EKAKTE_FUZZ_EXAMPLES sets the examples per operation (default 12; a few hundred for a deeper run)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.principals import add_user
from ekakte.service.app import create_app
from ekakte.setup import initialize
from tests.conftest import ADMIN, embedded_env, organise
from tests.integration.test_aussonderung import ARCHIVE_ENV
from tests.integration.test_service import service_settings, serving
from tests.oidc_provider import OidcProvider

EXAMPLES = int(os.environ.get("EKAKTE_FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def running_api(tmp_path_factory: pytest.TempPathFactory, oidc_provider: OidcProvider) -> Iterator[str]:
    env = {**embedded_env(tmp_path_factory.mktemp("fuzz") / "home"), **ARCHIVE_ENV}
    initialize(load_settings(env))
    organise(load_settings(env))
    with Archive.open(load_settings(env)) as archive:
        add_user(archive, ADMIN, "auditor", ["auditor"])
        add_user(archive, ADMIN, "records", ["records_manager"])
        add_user(archive, ADMIN, "posteingang", ["triage"])
        app = create_app(load_settings(env), service_settings(oidc_provider), archive=archive)
        with serving(app) as url:
            yield url


def user_for(path: str, method: str) -> str:
    if path.startswith(("/api/v1/audit", "/api/v1/scan")):
        return "auditor"

    if path.startswith(("/api/v1/retention", "/api/v1/holds", "/api/v1/archive")):
        return "records"
    if method == "POST" and path == "/api/v1/documents":
        return "scan-operator"
    if path.startswith("/api/v1/postkorb"):
        return "posteingang"
    return "caseworker"


def operations(url: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{url}/api/v1/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_answers_as_its_document_says(
    running_api: str, oidc_provider: OidcProvider, mode: GenerationMode
) -> None:
    """Every operation, with requests that fit the document and with requests that do not. (Through
    hypothesis directly: schemathesis' pytest plugin does not run under pytest 9.)"""
    checked = []
    for operation in operations(running_api):
        user = user_for(operation.path, operation.method.upper())
        token = oidc_provider.sign(oidc_provider.user_claims(user), oidc_provider.keys[0])
        fuzz(operation, mode, {"Authorization": f"Bearer {token}"})
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert len(checked) >= 11, checked


def fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
