"""The worker's side of a re-translation: it reads the job's current revision, answers JSON, writes nothing;
the in-process dispatcher runs it on a thread of its own and gives up after the timeout.

No model is loaded: the segments translated here are already in the target language (the route that copies
the corrected text), and the failures are those met before a model would be (the model routes themselves
are tests/jobs/test_retranslate.py's).
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.workers.helpers import succeeded_job, transcript_doc
from verbatim.errors import AudioDecodeError, TranslationUnavailableError
from verbatim.jobs import documents
from verbatim.jobs.layout import ArtifactKind, artifact
from verbatim.jobs.retranslate import (
    Retranslation,
    RetranslationFailedError,
    error_payload,
    outcome_of,
    outcome_payload,
)
from verbatim.ops.db import Job, TranscriptEdit, User
from verbatim.ops.settings import Settings
from verbatim.ops.storage import LocalObjectStore
from verbatim.ops.storage.encrypted import IntegrityError
from verbatim.workers import dispatch
from verbatim.workers.dispatch import InProcessDispatcher
from verbatim.workers.retranslate import run_retranslation


def _document() -> dict[str, Any]:
    words = [{"start": 2.0, "end": 2.5, "text": "Yes.", "probability": 0.9}]
    return transcript_doc(
        [
            {"id": 0, "start": 0.0, "end": 2.0, "speaker": "S1", "language": "fr", "text": "Oui.",
             "words": []},
            # an English answer in a French hearing translated into English: its translation is its text
            {"id": 1, "start": 2.0, "end": 3.0, "speaker": "S1", "language": "en", "text": "Yes.",
             "words": words, "translation": {"language": "en", "text": "Yes.", "model": "original"}},
        ]
    )  # fmt: skip


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", models_dir=tmp_path / "no-models")


@pytest.fixture
def job_id(sessions: sessionmaker[Session], store: LocalObjectStore, owner: User) -> str:
    return succeeded_job(sessions, store, owner, _document())


def _rows(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(TranscriptEdit)) or 0)


def test_the_worker_translates_the_current_revision_and_writes_nothing(
    sessions: sessionmaker[Session], store: LocalObjectStore, settings: Settings, owner: User, job_id: str
) -> None:
    run = lambda: run_retranslation(job_id, 1, settings=settings, sessions=sessions, store=store)  # noqa: E731
    assert run() == {"text": "Yes.", "model": "original", "revision_sha256": None}
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        documents.record(
            session, store, job=job, user=owner, operations=[documents.WordEdit(1, 0, "Yes.", "No.")]
        )
        revision = artifact(job, ArtifactKind.REVISION)
        assert revision is not None
        sha = revision.sha256
    assert _rows(sessions) == 1
    # the corrected text, and the revision it was read from (the API refuses it over a newer one)
    assert run() == {"text": "No.", "model": "original", "revision_sha256": sha}
    assert _rows(sessions) == 1, "the worker records nothing: the API does, once"


def test_the_workers_failures_are_answered_by_kind_never_raised(
    sessions: sessionmaker[Session],
    store: LocalObjectStore,
    settings: Settings,
    job_id: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def run(job: str, segment: int) -> dict[str, Any]:
        return run_retranslation(job, segment, settings=settings, sessions=sessions, store=store)

    assert run("no-such-job", 1)["error"] == "job_not_ready"
    assert run(job_id, 9)["error"] == "invalid_option"  # no such segment
    assert run(job_id, 0)["error"] == "invalid_option"  # no translation to make again

    def crash(*_: object) -> Retranslation:
        raise RuntimeError("Il dit qu'il était chez lui")  # an unexpected error quoting the transcript

    monkeypatch.setattr("verbatim.workers.retranslate.retranslate_segment", crash)
    with caplog.at_level(logging.INFO, logger="verbatim.worker"):
        assert run(job_id, 1) == {"error": "internal", "message": ""}  # no text crosses the broker
    assert f"job={job_id} segment=1" in caplog.text


def test_an_answer_reads_back_as_the_translation_or_the_error_the_worker_met() -> None:
    made = Retranslation("Yes.", "original", "ab" * 32)
    assert outcome_of(json.loads(json.dumps(outcome_payload(made)))) == made
    for error in (
        TranslationUnavailableError("no route fr→de"),
        AudioDecodeError("SHA-256 mismatch"),
        IntegrityError("authentication failed"),
    ):
        with pytest.raises(type(error), match=str(error)) as raised:
            outcome_of(error_payload(error))
        assert type(raised.value) is type(error)
    with pytest.raises(RetranslationFailedError):
        outcome_of(error_payload(KeyError("x")))


def test_the_in_process_dispatcher_answers_beside_a_running_job_and_gives_up_in_time(
    sessions: sessionmaker[Session],
    store: LocalObjectStore,
    settings: Settings,
    job_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    busy, release = threading.Event(), threading.Event()

    def long_job(*_: object, **__: object) -> str:
        busy.set()
        release.wait(30)
        return "succeeded"

    monkeypatch.setattr(dispatch, "process_job", long_job)
    dispatcher = InProcessDispatcher(settings, sessions=sessions, store=store, recover=False)
    try:
        dispatcher.submit("an-hour-long-recording")
        assert busy.wait(10)
        # not queued behind the job the worker thread is busy with
        answer = dispatcher.retranslate(job_id, 1, timeout_s=30)
        assert answer == {"text": "Yes.", "model": "original", "revision_sha256": None}

        threads: list[str] = []

        def slow(*_: object, **__: object) -> dict[str, Any]:
            threads.append(threading.current_thread().name)
            release.wait(30)
            return {"text": "late", "model": "m"}

        monkeypatch.setattr(dispatch, "run_retranslation", slow)
        with pytest.raises(TimeoutError):
            dispatcher.retranslate(job_id, 1, timeout_s=0.2)
        assert threads and threads[0].startswith("verbatim-retranslate")
    finally:
        release.set()
        dispatcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        dispatcher.retranslate(job_id, 1, timeout_s=1)
