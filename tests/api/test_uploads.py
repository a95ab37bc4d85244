"""Refused uploads: too large (413, nothing stored), not audio or video (415), a bad option (422)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.api.conftest import JFK, Actor, make_settings
from tests.services import RecordingDispatcher
from verbatim.api.deps import ServiceState
from verbatim.ops.accounts import create_user
from verbatim.ops.db import AuditEntry, Job
from verbatim.server import create_app


@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[TestClient, ServiceState, Actor, RecordingDispatcher]]:
    recorder = RecordingDispatcher()
    app = create_app(make_settings(tmp_path / "home", max_upload_bytes=100_000), dispatcher=recorder)
    with TestClient(app) as client:
        state: ServiceState = app.state.verbatim
        with state.sessions() as session:
            actor = Actor(*create_user(session, name="inv", role="investigator", unit="brigade-a"))
        yield client, state, actor, recorder


def _post(client: TestClient, actor: Actor, name: str, data: bytes, **options: str) -> tuple[int, str]:
    r = client.post("/v1/jobs", headers=actor.headers, files={"file": (name, data)}, data=options)
    return r.status_code, r.json().get("error", "") if r.status_code >= 400 else ""


def _nothing_stored(state: ServiceState, recorder: RecordingDispatcher) -> None:
    assert state.store.list("jobs/") == []
    with state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0
        refusals = session.scalars(select(AuditEntry).where(AuditEntry.action == "write")).all()
    assert refusals and all(e.outcome == "error" for e in refusals)
    assert recorder.submitted == []


def test_too_large_is_413_and_nothing_is_stored(
    small: tuple[TestClient, ServiceState, Actor, RecordingDispatcher],
) -> None:
    client, state, actor, recorder = small
    assert JFK.stat().st_size > 100_000
    status, error = _post(client, actor, "big.flac", JFK.read_bytes())
    assert status == 413 and "100000 bytes" in error
    _nothing_stored(state, recorder)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("statement.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n" * 20),
        ("notes.txt", "Procès-verbal d'audition, page 1.\n".encode() * 50),
        ("empty.wav", b""),
    ],
)
def test_not_audio_is_415(
    small: tuple[TestClient, ServiceState, Actor, RecordingDispatcher], name: str, data: bytes
) -> None:
    client, state, actor, recorder = small
    status, error = _post(client, actor, name, data)
    assert status == 415 and "audio" in error
    assert name not in error  # the uploader's file name is not echoed
    _nothing_stored(state, recorder)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"language": "klingon"}, "klingon"),
        ({"num_speakers": "0"}, "num_speakers"),
        ({"task": "summarise"}, "task"),
        ({"diarize": "maybe"}, "diarize"),
        ({"channels": "left"}, "channels"),
        ({"min_speakers": "4", "max_speakers": "2"}, "min_speakers"),
    ],
)
def test_bad_option_is_422_naming_it(
    small: tuple[TestClient, ServiceState, Actor, RecordingDispatcher], options: dict[str, str], named: str
) -> None:
    client, state, actor, recorder = small
    status, error = _post(client, actor, "a.flac", JFK.read_bytes()[:50_000], **options)
    assert status == 422 and named in error, error
    _nothing_stored(state, recorder)


def test_missing_file_is_422(small: tuple[TestClient, ServiceState, Actor, RecordingDispatcher]) -> None:
    client, _, actor, _ = small
    r = client.post("/v1/jobs", headers=actor.headers, data={"language": "fr"})
    assert r.status_code == 422 and "file" in r.json()["error"]


def test_accepted_upload_is_stored_unmodified_and_dispatched(
    small: tuple[TestClient, ServiceState, Actor, RecordingDispatcher], tmp_path: Path
) -> None:
    from tests.conftest import tone, write_audio

    client, state, actor, recorder = small
    clip = write_audio(tmp_path / "tone.wav", tone(1.0))
    r = client.post("/v1/jobs", headers=actor.headers, files={"file": ("tone.wav", clip.read_bytes())})
    assert r.status_code == 202 and r.json()["status"] == "queued"
    job_id = r.json()["id"]
    assert recorder.submitted == [job_id]
    assert state.store.get_bytes(f"jobs/{job_id}/original") == clip.read_bytes()


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
    small: tuple[TestClient, ServiceState, Actor, RecordingDispatcher],
) -> None:
    client, state, actor, recorder = small
    body = JFK.read_bytes() * 7  # about 1.5 MB: over the 100 kB limit plus the 1 MiB multipart allowance
    r = client.post("/v1/jobs", headers=actor.headers, files={"file": ("long.flac", body)})
    assert r.status_code == 413 and "100000 bytes" in r.json()["error"]
    assert r.headers["X-Request-ID"]
    assert state.store.list("jobs/") == [] and recorder.submitted == []


def _multipart_chunks(payload: bytes, boundary: str = "verbatimtestboundary") -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="stream.flac"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    for i in range(0, len(payload), 64 * 1024):
        yield payload[i : i + 64 * 1024]
    yield f"\r\n--{boundary}--\r\n".encode()


def test_a_body_without_declared_length_is_cut_off_at_the_limit(
    small: tuple[TestClient, ServiceState, Actor, RecordingDispatcher],
) -> None:
    client, state, actor, recorder = small
    body = JFK.read_bytes() * 7  # about 1.5 MB, sent chunked: no Content-Length to refuse up front
    r = client.post(
        "/v1/jobs",
        headers={**actor.headers, "Content-Type": "multipart/form-data; boundary=verbatimtestboundary"},
        content=_multipart_chunks(body),
    )
    assert "content-length" not in r.request.headers
    assert r.status_code == 413 and "100000 bytes" in r.json()["error"]
    assert r.headers["X-Request-ID"]
    assert state.store.list("jobs/") == [] and recorder.submitted == []


def test_a_chunked_body_under_the_limit_is_accepted(
    small: tuple[TestClient, ServiceState, Actor, RecordingDispatcher], tmp_path: Path
) -> None:
    from tests.conftest import tone, write_audio

    client, state, actor, _ = small
    clip = write_audio(tmp_path / "tone.wav", tone(1.0)).read_bytes()
    r = client.post(
        "/v1/jobs",
        headers={**actor.headers, "Content-Type": "multipart/form-data; boundary=verbatimtestboundary"},
        content=_multipart_chunks(clip),
    )
    assert r.status_code == 202, r.text
    assert state.store.get_bytes(f"jobs/{r.json()['id']}/original") == clip


def test_the_default_policy_setting_applies_to_api_jobs_and_a_form_may_give_a_policy_document(
    tmp_path: Path,
) -> None:
    """VERBATIM_PSEUDONYMIZATION__DEFAULT_POLICY chooses the policy of API jobs that name none (it is
    resolved at upload and stored with the job); a form may also give a whole policy document, as the
    CLI's --policy file does."""
    from tests.conftest import tone, write_audio

    settings = make_settings(tmp_path / "home", pseudonymization={"default_policy": "open-data"})
    clip = write_audio(tmp_path / "tone.wav", tone(1.0)).read_bytes()
    with TestClient(create_app(settings, dispatcher=RecordingDispatcher())) as client:
        state: ServiceState = client.app.state.verbatim  # type: ignore[attr-defined]
        with state.sessions() as session:
            actor = Actor(*create_user(session, name="inv", role="investigator", unit="brigade-a"))

        def options_of(**form: str) -> dict[str, object]:
            r = client.post("/v1/jobs", headers=actor.headers, files={"file": ("t.wav", clip)}, data=form)
            assert r.status_code == 202, r.text
            job = client.get(f"/v1/jobs/{r.json()['id']}", headers=actor.headers).json()
            options: dict[str, object] = job["options"]
            return options

        assert options_of(pseudonymize="true")["pseudonymization_policy"] == "open-data"
        assert options_of(pseudonymization_policy="hearing")["pseudonymization_policy"] == "hearing"
        document = '{"name": "court", "base": "hearing", "operators": {"AGE": "redact"}}'
        stored = options_of(pseudonymize="true", pseudonymization_policy=document)["pseudonymization_policy"]
        assert isinstance(stored, dict) and stored["name"] == "court"
        assert stored["operators"]["AGE"] == "redact" and stored["operators"]["PER"] == "pseudonym"
