"""Schemathesis against the OpenAPI schema: generated requests, bounded, and no answer is a 5xx.

The app runs under uvicorn on loopback with a recording dispatcher (no worker: the point is the HTTP edge),
an admin's token on every request so that every route is reached past authentication.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.api.conftest import make_settings
from tests.services import RecordingDispatcher
from verbatim.api.deps import ServiceState
from verbatim.api.serving import ApiThread
from verbatim.ops.accounts import create_user
from verbatim.ops.settings import Settings
from verbatim.server import create_app


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiThread, str]]:
    home = tmp_path_factory.mktemp("fuzz-home")
    # small limits, so that generated requests cross them (issue 15: bodies, durations)
    limits = make_settings(
        home, max_upload_bytes=2_000_000, max_json_body_bytes=4096, max_duration_s=60.0, api_docs="token"
    )
    server = ApiThread(create_app(limits, dispatcher=RecordingDispatcher()))
    try:
        state: ServiceState = server.app.state.verbatim
        with state.sessions() as session:
            _, token = create_user(session, name="fuzz-admin", role="admin", unit="hq")
        yield server, token
    finally:
        server.stop()


# The schema is built without starting the app (no lifespan, no database): it depends on the routes only.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(home=Path("/nonexistent"), models_dir=Path("/nonexistent"))).openapi()
)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same requests on every run: a failure reproduces
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_gets_a_server_error(case: Any, fuzz_server: tuple[ApiThread, str]) -> None:
    server, token = fuzz_server
    response = case.call(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    )
    _secure_headers(response)


def _secure_headers(response: Any) -> None:
    def header(name: str) -> str:
        # schemathesis' response: lower-case names, each with the list of its values
        values = {k.lower(): v for k, v in response.headers.items()}[name.lower()]
        return str(values[0] if isinstance(values, list) else values)

    assert re.fullmatch(r"[0-9a-f]{32}", header("X-Request-ID"))
    assert header("X-Content-Type-Options") == "nosniff"
    assert header("Cache-Control") in ("no-store", "no-cache")
    assert "frame-ancestors 'none'" in header("Content-Security-Policy")


@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_without_a_token_no_generated_request_gets_past_the_door(
    case: Any, fuzz_server: tuple[ApiThread, str]
) -> None:
    server, _ = fuzz_server
    response = case.call(base_url=server.base_url, headers={"X-Request-ID": "client-chosen"})
    if case.formatted_path == "/healthz":
        assert response.status_code < 500
    elif case.formatted_path.endswith(("/audio", "/audio/pseudonymized")):
        assert response.status_code in (401, 404, 405, 422), response.text[:300]  # a ticket's route
    else:
        # refused at the door (401), or a method the route does not have (405): never reached
        assert response.status_code in (401, 405), (
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
        )
    _secure_headers(response)
