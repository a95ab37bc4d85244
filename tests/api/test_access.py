"""The access matrix: every route × no token, wrong token, another unit, the right unit, an admin; each
attempt audited, without file names or transcript text."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from tests.api.conftest import JFK, SECRET_WORDS, Actor, Service, stored_job
from verbatim.ops.db import AuditEntry

WRONG = {"Authorization": "Bearer vbt_" + "x" * 43}

# (method, path, needs a job, expected status for the right unit)
JOB_ROUTES = [
    ("GET", "/v1/jobs/{id}", 200),
    ("GET", "/v1/jobs/{id}/transcript?format=srt", 200),
    ("GET", "/v1/jobs/{id}/custody", 200),
    ("GET", "/v1/jobs/{id}/transcript?format=txt&view=pseudonymized", 200),
    ("DELETE", "/v1/jobs/{id}", 204),
]
OTHER_ROUTES = [
    ("GET", "/v1/jobs", 200),
    ("GET", "/metrics", 200),
    ("POST", "/v1/jobs", 202),
    ("POST", "/v1/audio/transcriptions", 200),
    ("POST", "/v1/audio/translations", 200),
    ("GET", "/v1/audit", 200),
]


def _disposable_job(service: Service, owner: Actor) -> str:
    """A job to delete: a row and a stored original, nothing dispatched."""
    return stored_job(service, owner, filename="secret-name.flac")


def _call(service: Service, method: str, path: str, headers: dict[str, str]) -> Any:
    client_id = uuid.uuid4().hex
    headers = {**headers, "X-Request-ID": client_id}
    if method == "POST":
        data = {"model": "whisper-1"} if "audio" in path else {"language": "en", "diarize": "false"}
        with JFK.open("rb") as fh:
            response = service.client.post(path, headers=headers, files={"file": (JFK.name, fh)}, data=data)
    else:
        response = service.client.request(method, path, headers=headers)
    # the server makes its own request id (a client's is only logged apart)
    request_id = response.headers["x-request-id"]
    assert request_id != client_id
    return response, request_id


def _entries(service: Service, request_id: str) -> list[AuditEntry]:
    with service.state.sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.request_id == request_id)))


@pytest.mark.parametrize(("method", "path", "ok"), JOB_ROUTES + OTHER_ROUTES)
@pytest.mark.parametrize("who", ["none", "wrong"])
def test_without_a_valid_token_every_route_answers_401(
    service: Service, done_job: dict[str, Any], method: str, path: str, ok: int, who: str
) -> None:
    headers = {} if who == "none" else WRONG
    response, request_id = _call(service, method, path.format(id=done_job["id"]), headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "error" in response.json()
    # refusals are audited once per burst of a client, not once per try (verbatim.api.security)
    entries = _entries(service, request_id)
    assert all((e.action, e.outcome, e.user_id) == ("login", "denied", None) for e in entries)


@pytest.mark.parametrize(("method", "path", "ok"), JOB_ROUTES)
def test_another_units_job_answers_404_like_a_missing_one(
    service: Service, done_job: dict[str, Any], method: str, path: str, ok: int
) -> None:
    target = _disposable_job(service, service.investigator) if method == "DELETE" else done_job["id"]
    response, request_id = _call(service, method, path.format(id=target), service.outsider.headers)
    absent = str(uuid.uuid4())
    missing, _ = _call(service, method, path.format(id=absent), service.outsider.headers)
    assert response.status_code == missing.status_code == 404
    # Same answer, word for word: nothing tells an existing job of another unit from no job at all.
    assert response.json()["error"].replace(target, "X") == missing.json()["error"].replace(absent, "X")
    [entry] = _entries(service, request_id)
    assert (entry.outcome, entry.job_id, entry.unit, entry.role) == ("denied", target, "court-b", "clerk")
    # Still there for its own unit.
    assert service.client.get(f"/v1/jobs/{target}", headers=service.investigator.headers).status_code == 200


@pytest.mark.parametrize(("method", "path", "ok"), JOB_ROUTES + OTHER_ROUTES)
@pytest.mark.parametrize("who", ["colleague", "admin"])
def test_right_unit_and_admin_get_through(
    service: Service, done_job: dict[str, Any], method: str, path: str, ok: int, who: str
) -> None:
    actor: Actor = getattr(service, who)
    if path in ("/v1/audit", "/metrics") and who != "admin":
        ok = 403  # the audit log and metrics are the admins'; the routes' existence is no secret
    target = _disposable_job(service, service.investigator) if method == "DELETE" else done_job["id"]
    response, request_id = _call(service, method, path.format(id=target), actor.headers)
    assert response.status_code == ok, response.text
    if path == "/metrics":
        return  # scrapes are not audited (no job touched, every few seconds)
    entries = _entries(service, request_id)
    assert entries, "every access is audited"
    expected_outcome = "denied" if ok == 403 else "ok"
    assert all(e.outcome == expected_outcome for e in entries)
    assert {(e.user_id, e.role, e.unit) for e in entries} == {
        (actor.user.id, actor.user.role, actor.user.unit)
    }
    if "{id}" in path:
        assert {e.job_id for e in entries} == {target}


def test_audit_is_admin_only_and_pages(service: Service, done_job: dict[str, Any]) -> None:
    forbidden = service.client.get("/v1/audit", headers=service.investigator.headers)
    assert forbidden.status_code == 403
    first = service.client.get("/v1/audit?limit=2", headers=service.admin.headers).json()
    assert len(first["entries"]) == 2 and first["next_after_id"] == first["entries"][-1]["id"]
    second = service.client.get(
        f"/v1/audit?limit=2&after_id={first['next_after_id']}", headers=service.admin.headers
    ).json()
    assert second["entries"][0]["id"] > first["entries"][-1]["id"]


def test_the_audit_log_holds_no_file_name_or_transcript_text(
    service: Service, done_job: dict[str, Any]
) -> None:
    with service.state.sessions() as session:
        entries = list(session.scalars(select(AuditEntry)))
    assert len(entries) > 10
    for entry in entries:
        text = " ".join(str(v) for v in (entry.detail, entry.action, entry.outcome, entry.request_id)).lower()
        assert "secret-name" not in text and ".flac" not in text
        assert not any(word in text for word in SECRET_WORDS), entry.detail


@pytest.mark.parametrize("path", ["/v1/audit?after_id=", "/v1/jobs?offset="])
def test_integers_too_large_for_the_database_are_refused_clearly(service: Service, path: str) -> None:
    """Found by the schema fuzzer: an id past 64 bits used to reach SQLite and fail there (500)."""
    r = service.client.get(f"{path}{2**63}", headers=service.admin.headers)
    assert r.status_code == 422, r.text
    # The largest the database holds is a valid (empty) page.
    assert service.client.get(f"{path}{2**63 - 1}", headers=service.admin.headers).status_code == 200


def test_a_word_index_too_large_for_the_database_is_refused(service: Service) -> None:
    edit = {"segment_id": 2**63, "word_index": 0, "before": "a", "after": "b"}
    headers = service.investigator.headers
    r = service.client.post(f"/v1/jobs/{uuid.uuid4()}/edits", json={"edits": [edit]}, headers=headers)
    assert r.status_code == 422, r.text
