"""The re-translation route only dispatches ids: the worker records the row, the route reads it back and
maps the worker's failures.

The app is given a recording dispatcher: either it answers a given status (no worker), or it runs the
worker's step itself (:func:`run_retranslation`, its model call replaced by a fixed translation). The API
process is made unable to load a model at all (the stages' getters raise), so a route that loaded one here
would fail. What is asserted: what the route hands over (ids and a revision hash, no text), the row recorded
once and answered as before, the audit entry, 504/503/409/422 with nothing recorded by the route, and, with
the embedded deployment's real in-process worker, what a late worker does after a 504. The real models are
in tests/api/test_editor_ops.py (in-process) and tests/api/test_distributed.py (Celery).
"""

from __future__ import annotations

import threading
import time
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
from verbatim.jobs import documents, stages
from verbatim.jobs.retranslate import Retranslation
from verbatim.ops.accounts import create_user
from verbatim.ops.db import AuditEntry, Job, TranscriptEdit, User
from verbatim.server import create_app
from verbatim.workers import retranslate as worker_step

BEFORE = "He says he was at home."
AFTER = "He says Julie was at home."


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
    user_id: int
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
        yield World(client, state, dispatcher, job_id, user.id, {"Authorization": f"Bearer {token}"})


def _translated(made: Retranslation) -> Any:
    """A stand-in for the model call of the worker's step: answers ``made``."""
    return lambda *_: made


@pytest.fixture
def worker(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """The recording dispatcher runs the worker's step (its model call answering :data:`AFTER`)."""
    monkeypatch.setattr(
        worker_step, "retranslate_segment", _translated(Retranslation(AFTER, "opus-mt-fr-en"))
    )
    state = world.state
    world.dispatcher.worker = lambda *args, **kwargs: worker_step.run_retranslation(
        *args, **kwargs, settings=state.settings, sessions=state.sessions, store=state.store
    )
    return world


def test_the_worker_records_the_row_once_the_route_answers_it_and_loads_no_model(worker: World) -> None:
    r = worker.client.post(worker.url, headers=worker.headers, json={"before": BEFORE})
    assert r.status_code == 200, r.text
    # handed over by ids and the revision's hash only (no revision yet: the original), never a text
    assert worker.dispatcher.retranslated == [(worker.job_id, 0, worker.user_id, None)]
    [row] = r.json()["edits"]
    assert (row["kind"], row["before"], row["after"], row["speaker"], row["user_name"]) == (
        "translation", BEFORE, AFTER, "opus-mt-fr-en", "greffiere",
    )  # fmt: skip
    assert [e.id for e in worker.rows()] == [row["id"]]
    doc = worker.client.get(f"/v1/jobs/{worker.job_id}/transcript", headers=worker.headers).json()
    translation = doc["segments"][0]["translation"]
    assert translation["text"] == AFTER and "outdated" not in translation
    assert r.json()["revision_sha256"] == worker.rows()[0].revision_sha256
    assert worker.audit() == [("ok", "retranslate segment=0 recorded=1")]


def test_a_correction_made_while_the_worker_translates_is_not_overwritten(
    worker: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's check, in its recording transaction: the transcript is no longer the revision the
    request was checked against, so its translation is not recorded."""

    def meanwhile(*_: object) -> Retranslation:
        with worker.state.sessions() as session:
            job, clerk = session.get(Job, worker.job_id), session.get(User, worker.user_id)
            assert job is not None and clerk is not None
            edit = documents.SpanEdit(0, 0, 0, "", "Alors")  # another tab inserts a word
            documents.record(session, worker.state.store, job=job, user=clerk, operations=[edit])
        return Retranslation(AFTER, "opus-mt-fr-en")

    monkeypatch.setattr(worker_step, "retranslate_segment", meanwhile)
    r = worker.client.post(worker.url, headers=worker.headers, json={"before": BEFORE})
    assert (r.status_code, r.json()["code"]) == (409, "edit_conflict"), r.text
    assert [e.kind for e in worker.rows()] == ["span"]
    assert [outcome for outcome, _ in worker.audit()] == ["error"]


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (TimeoutError("no answer"), 504, "retranslate_timeout"),
        (ConnectionError("broker unreachable"), 503, "service_unavailable"),
    ],
)
def test_no_answer_in_time_or_no_broker_is_answered_and_audited(
    world: World, failure: Exception, status: int, code: str
) -> None:
    def retranslate(job_id: str, segment_id: int, *, timeout_s: float, **_: object) -> dict[str, Any]:
        assert timeout_s == world.state.settings.retranslate_timeout_s
        raise failure

    world.dispatcher.retranslate = retranslate  # type: ignore[method-assign,assignment]
    r = world.client.post(world.url, headers=world.headers, json={"before": BEFORE})
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert world.rows() == []
    [(outcome, detail)] = world.audit()
    assert outcome == "error" and detail.startswith("retranslate segment=0;")
    messages = world.client.get("/web/messages.json").json()["messages"]
    # a worker already at it may still record: the clerk is told to reload, not that nothing was recorded
    assert "rechargez avant de réessayer" in messages["retranslate_timeout"]["fr"]


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("translation_unavailable", 422, "invalid_option"),
        ("audio_unreadable", 415, "audio_unreadable"),
        ("integrity", 503, "service_unavailable"),
        ("internal", 500, "internal"),
        ("edit_conflict", 409, "edit_conflict"),  # the transcript was corrected while the worker translated
    ],
)
def test_a_workers_failure_is_answered_as_its_kind(world: World, kind: str, status: int, code: str) -> None:
    world.dispatcher.answer = {"error": kind}
    r = world.client.post(world.url, headers=world.headers, json={"before": BEFORE})
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert world.rows() == []
    assert [outcome for outcome, _ in world.audit()] == ["error"]


def test_a_stale_before_is_refused_before_a_worker_is_asked(world: World) -> None:
    r = world.client.post(world.url, headers=world.headers, json={"before": "not what the page showed"})
    assert (r.status_code, r.json()["code"]) == (409, "edit_conflict"), r.text
    assert world.dispatcher.retranslated == [] and world.rows() == []


def test_a_late_worker_records_after_the_504_and_the_row_shows_on_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded deployment's real in-process worker, slower than the route waits: 504, then the row is
    recorded (once) and shows in the history; a retry with the page's old translation is refused (409)."""
    release = threading.Event()

    def slow(*_: object) -> Retranslation:
        release.wait(30)
        return Retranslation(AFTER, "opus-mt-fr-en")

    monkeypatch.setattr(worker_step, "retranslate_segment", slow)
    settings = make_settings(tmp_path / "home", retranslate_timeout_s=0.3)
    with TestClient(create_app(settings, poll_interval_s=0.05)) as client:
        state: ServiceState = client.app.state.verbatim  # type: ignore[attr-defined]
        with state.sessions() as session:
            user, token = create_user(session, name="greffiere", role="clerk", unit="tj-paris")
        job_id = succeeded_job(state.sessions, state.store, user, _document())
        headers, url = {"Authorization": f"Bearer {token}"}, f"/v1/jobs/{job_id}/segments/0/retranslate"
        try:
            r = client.post(url, headers=headers, json={"before": BEFORE})
            assert (r.status_code, r.json()["code"]) == (504, "retranslate_timeout"), r.text
            assert client.get(f"/v1/jobs/{job_id}/edits", headers=headers).json()["edits"] == []
        finally:
            release.set()
        deadline = time.monotonic() + 10
        while not (edits := client.get(f"/v1/jobs/{job_id}/edits", headers=headers).json()["edits"]):
            assert time.monotonic() < deadline, "the late worker recorded nothing"
            time.sleep(0.05)
        assert [(e["kind"], e["after"], e["user_name"]) for e in edits] == [
            ("translation", AFTER, "greffiere")
        ]
        r = client.post(url, headers=headers, json={"before": BEFORE})
        assert (r.status_code, r.json()["code"]) == (409, "edit_conflict"), r.text
        assert len(client.get(f"/v1/jobs/{job_id}/edits", headers=headers).json()["edits"]) == 1
