"""The re-translation route only dispatches: the worker's answer is recorded once, its failures mapped.

The app is given a recording dispatcher (no worker, no model): what the route does with a worker's answer —
record it as one ``translation`` row and audit it, or answer 504/503/409/422 with nothing recorded — is
asserted, and the API process is made unable to load a model at all (the stages' getters raise), so a route
that loaded one here would fail. The real worker path is in tests/api/test_editor_ops.py (in-process) and
tests/api/test_distributed.py (Celery).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.conftest import make_settings
from tests.services import RecordingDispatcher
from tests.workers.helpers import succeeded_job, transcript_doc
from verbatim.api.deps import ServiceState
from verbatim.jobs import stages
from verbatim.ops.accounts import create_user
from verbatim.ops.db import AuditEntry, TranscriptEdit
from verbatim.server import create_app

BEFORE = "He says he was at home."


def _document() -> dict[str, Any]:
    return transcript_doc(
        [
            {"id": 0, "start": 0.0, "end": 3.0, "speaker": "S1", "language": "fr",
             "text": "Il dit qu'il était chez lui.", "words": [],
             "translation": {"language": "en", "text": BEFORE, "model": "opus-mt-fr-en", "outdated": True}},
        ]
    )  # fmt: skip


@dataclass
class World:
    client: TestClient
    state: ServiceState
    dispatcher: RecordingDispatcher
    job_id: str
    headers: dict[str, str]

    @property
    def url(self) -> str:
        return f"/v1/jobs/{self.job_id}/segments/0/retranslate"

    def rows(self) -> list[TranscriptEdit]:
        with self.state.sessions() as session:
            return list(session.scalars(select(TranscriptEdit).where(TranscriptEdit.job_id == self.job_id)))

    def audit(self) -> list[tuple[str, str]]:
        with self.state.sessions() as session:
            entries = session.scalars(select(AuditEntry).where(AuditEntry.detail.contains("retranslate")))
            return [(e.outcome, e.detail) for e in entries]


class _NoModelHere(AssertionError):
    pass


def _refuse(*_: object, **__: object) -> Any:
    raise _NoModelHere("a model was loaded in the API process")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for name in ("get_asr", "get_translator", "get_diarizer"):
        monkeypatch.setattr(stages, name, _refuse)
    dispatcher = RecordingDispatcher()
    app = create_app(make_settings(tmp_path / "home"), dispatcher=dispatcher)
    with TestClient(app) as client:
        state: ServiceState = app.state.verbatim
        with state.sessions() as session:
            user, token = create_user(session, name="greffiere", role="clerk", unit="tj-paris")
        job_id = succeeded_job(state.sessions, state.store, user, _document())
        yield World(client, state, dispatcher, job_id, {"Authorization": f"Bearer {token}"})


def test_the_route_records_the_workers_answer_once_and_loads_no_model(world: World) -> None:
    world.dispatcher.answer = {"text": "He says Julie was at home.", "model": "opus-mt-fr-en"}
    r = world.client.post(world.url, headers=world.headers, json={"before": BEFORE})
    assert r.status_code == 200, r.text
    assert world.dispatcher.retranslated == [(world.job_id, 0)]  # handed over, by ids only
    [row] = r.json()["edits"]
    assert (row["kind"], row["before"], row["after"], row["speaker"]) == (
        "translation", BEFORE, "He says Julie was at home.", "opus-mt-fr-en",
    )  # fmt: skip
    assert [e.id for e in world.rows()] == [row["id"]]
    doc = world.client.get(f"/v1/jobs/{world.job_id}/transcript", headers=world.headers).json()
    translation = doc["segments"][0]["translation"]
    assert translation["text"] == "He says Julie was at home." and "outdated" not in translation
    assert world.audit() == [("ok", "retranslate segment=0 recorded=1")]


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (TimeoutError("no answer"), 504, "retranslate_timeout"),
        (ConnectionError("broker unreachable"), 503, "service_unavailable"),
    ],
)
def test_no_answer_in_time_or_no_broker_records_nothing(
    world: World, failure: Exception, status: int, code: str
) -> None:
    def retranslate(job_id: str, segment_id: int, *, timeout_s: float) -> dict[str, Any]:
        assert timeout_s == world.state.settings.retranslate_timeout_s
        raise failure

    world.dispatcher.retranslate = retranslate  # type: ignore[method-assign]
    r = world.client.post(world.url, headers=world.headers, json={"before": BEFORE})
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert world.rows() == []
    [(outcome, detail)] = world.audit()
    assert outcome == "error" and detail.startswith("retranslate segment=0;")
    messages = world.client.get("/web/messages.json").json()["messages"]
    assert "rien n'a été enregistré" in messages["retranslate_timeout"]["fr"]


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        ({"error": "translation_unavailable", "message": "no model translates fr into de"}, 422,
         "invalid_option"),
        ({"error": "audio_unreadable", "message": "The stored recording does not match the SHA-256"}, 415,
         "audio_unreadable"),
        ({"error": "integrity", "message": "an encrypted object failed authentication"}, 503,
         "service_unavailable"),
        ({"error": "internal", "message": ""}, 500, "internal"),
        # the transcript was corrected while the worker translated: its answer is for an older revision
        ({"text": "x", "model": "m", "revision_sha256": "ff" * 32}, 409, "edit_conflict"),
    ],
)  # fmt: skip
def test_a_workers_failure_is_answered_as_its_kind_and_records_nothing(
    world: World, answer: dict[str, Any], status: int, code: str
) -> None:
    world.dispatcher.answer = answer
    r = world.client.post(world.url, headers=world.headers, json={"before": BEFORE})
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert world.rows() == []
    assert [outcome for outcome, _ in world.audit()] == ["error"]


def test_a_stale_before_is_refused_after_the_answer(world: World) -> None:
    world.dispatcher.answer = {"text": "new", "model": "m"}
    r = world.client.post(world.url, headers=world.headers, json={"before": "not what the page showed"})
    assert (r.status_code, r.json()["code"]) == (409, "edit_conflict"), r.text
    assert world.rows() == []
