"""Structured logs: one JSON object per line, ids only, never a file name, a query or transcript text."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Actor, make_settings
from tests.conftest import tone, write_audio
from tests.services import RecordingDispatcher
from verbatim.api.deps import ServiceState
from verbatim.ops.accounts import create_user
from verbatim.ops.logs import configure_logging
from verbatim.server import create_app


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging("json", "INFO", stream=stream)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


def records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_requests_are_logged_as_json_with_route_templates_and_no_personal_data(
    json_log: io.StringIO, tmp_path: Path
) -> None:
    app = create_app(make_settings(tmp_path / "home"), dispatcher=RecordingDispatcher())
    clip = write_audio(tmp_path / "x.wav", tone(0.5)).read_bytes()
    with TestClient(app) as client:
        state: ServiceState = app.state.verbatim
        with state.sessions() as session:
            actor = Actor(*create_user(session, name="Julie Martin", role="investigator", unit="brigade-a"))
        r = client.post(
            "/v1/jobs",
            headers=actor.headers,
            files={"file": ("audition Julie Martin 12 rue des Lilas.wav", clip)},
        )
        assert r.status_code == 202
        job_id = r.json()["id"]
        assert client.get(f"/v1/jobs/{job_id}?q=Martin", headers=actor.headers).status_code == 200
        assert client.get("/v1/jobs/nope", headers={"Authorization": "Bearer wrong"}).status_code == 401
    # what the server wrote (the test client's own httpx log quotes the URLs it requested)
    text = "\n".join(json.dumps(e) for e in records(json_log) if not str(e["logger"]).startswith("httpx"))
    assert "Julie" not in text and "Martin" not in text and "Lilas" not in text
    access = [e for e in records(json_log) if e["logger"] == "verbatim.access"]
    routes = [(e["method"], e["route"], e["status"]) for e in access]
    assert ("POST", "/v1/jobs", 202) in routes
    assert ("GET", "/v1/jobs/{job_id}", 200) in routes
    assert ("GET", "/v1/jobs/{job_id}", 401) in routes
    created = next(e for e in access if e["route"] == "/v1/jobs")
    assert created["user_id"] == actor.user.id
    assert isinstance(created["duration_ms"], float) and created["request_id"] == r.headers["X-Request-ID"]


def test_exceptions_are_logged_by_type_and_frames_without_their_message(json_log: io.StringIO) -> None:
    log = logging.getLogger("verbatim.test")
    try:
        raise ValueError("cannot read /uploads/Julie Martin.wav")
    except ValueError:
        log.exception("decoding failed", extra={"job_id": "j1", "upload_name": "Julie Martin.wav"})
    (entry,) = [e for e in records(json_log) if e["logger"] == "verbatim.test"]
    assert entry["exc_type"] == "ValueError" and "test_logs.py" in str(entry["stack"])
    assert entry["job_id"] == "j1" and "upload_name" not in entry
    assert "Julie" not in json_log.getvalue()


def test_text_format_keeps_the_fields_and_drops_exception_messages() -> None:
    stream = io.StringIO()
    handler = configure_logging("text", "INFO", stream=stream)
    try:
        try:
            raise OSError("Julie Martin.wav: not found")
        except OSError:
            logging.getLogger("verbatim.test").exception("failed", extra={"job_id": "j2"})
    finally:
        logging.getLogger().removeHandler(handler)
    line = stream.getvalue()
    assert "failed job_id=j2 [OSError]" in line and "Julie" not in line
