"""The worker's side of a re-translation: it translates the revision the API checked the request against,
records the row itself (once, refused over a newer revision), and answers a status of ids, never text; the
in-process dispatcher runs it on a thread of its own and gives up waiting after the timeout, while a worker
already at it still records.

No model is loaded: the segments translated here are already in the target language (the route that copies
the corrected text), or the model call is replaced by a fixed translation; the failures are those met
before a model would be (the model routes themselves are tests/jobs/test_retranslate.py's).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.workers.helpers import succeeded_job, transcript_doc
from verbatim.errors import AudioDecodeError, TranslationUnavailableError
from verbatim.jobs import documents
from verbatim.jobs.documents import EditConflictError
from verbatim.jobs.layout import ArtifactKind, artifact
from verbatim.jobs.retranslate import (
    Retranslation,
    RetranslationFailedError,
    error_payload,
    recorded_ids,
    recorded_payload,
)
from verbatim.ops.db import Job, TranscriptEdit, User
from verbatim.ops.settings import Settings
from verbatim.ops.storage import LocalObjectStore
from verbatim.ops.storage.encrypted import IntegrityError
from verbatim.workers import dispatch
from verbatim.workers import retranslate as worker_step
from verbatim.workers.dispatch import InProcessDispatcher
from verbatim.workers.retranslate import run_retranslation

NEW = "He answered yes to the investigator."
"""A translation made by the (replaced) model call: it must be in the database, never in the status."""


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


def _rows(sessions: sessionmaker[Session]) -> list[TranscriptEdit]:
    with sessions() as session:
        return list(session.scalars(select(TranscriptEdit).order_by(TranscriptEdit.id)))


def _no_text(status: dict[str, Any], doc: dict[str, Any]) -> None:
    """The status a worker puts in the result backend holds no transcript or translation text."""
    payload = json.dumps(status, ensure_ascii=False)
    texts = [NEW] + [s["text"] for s in doc["segments"]]
    texts += [s["translation"]["text"] for s in doc["segments"] if "translation" in s]
    assert not [t for t in texts if t in payload], payload
    assert set(status) <= {"ok", "edit_ids", "error"}, status


class Run(Protocol):
    def __call__(
        self, job_id: str, segment_id: int, *, revision_sha256: str | None = None, user_id: int | None = None
    ) -> dict[str, Any]: ...


@pytest.fixture
def run(sessions: sessionmaker[Session], store: LocalObjectStore, settings: Settings, owner: User) -> Run:
    """The worker's step, asked by ``owner`` unless another user id is given."""

    def run_(
        job_id: str, segment_id: int, *, revision_sha256: str | None = None, user_id: int | None = None
    ) -> dict[str, Any]:
        return run_retranslation(
            job_id, segment_id, user_id=owner.id if user_id is None else user_id,
            revision_sha256=revision_sha256, settings=settings, sessions=sessions, store=store,
        )  # fmt: skip

    return run_


def test_the_worker_records_the_translation_once_and_answers_ids_only(
    sessions: sessionmaker[Session],
    store: LocalObjectStore,
    owner: User,
    job_id: str,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a translation that comes out as it was records no row
    assert run(job_id, 1) == {"ok": True, "edit_ids": []} and _rows(sessions) == []
    monkeypatch.setattr(worker_step, "retranslate_segment", lambda *_: Retranslation(NEW, "opus-mt-en-fr"))
    status = run(job_id, 1)
    [row] = _rows(sessions)
    assert status == {"ok": True, "edit_ids": [row.id]}
    _no_text(status, _document())
    assert (row.kind, row.before, row.after, row.speaker, row.user_id) == (
        "translation", "Yes.", NEW, "opus-mt-en-fr", owner.id,
    )  # fmt: skip
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        revision = artifact(job, ArtifactKind.REVISION)
        assert revision is not None and revision.sha256 == row.revision_sha256
        assert json.loads(documents.load_current(store, job))["segments"][1]["translation"]["text"] == NEW
    # delivered again (a worker lost before its acknowledgement): the revision moved on, recorded once
    assert run(job_id, 1) == {"error": "edit_conflict"}
    assert len(_rows(sessions)) == 1
    # the revision it was asked for: recorded again over it (the text is the same: no row)
    assert run(job_id, 1, revision_sha256=revision.sha256) == {"ok": True, "edit_ids": []}


def test_the_workers_failures_are_answered_by_kind_never_raised(
    sessions: sessionmaker[Session],
    job_id: str,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert run("no-such-job", 1) == {"error": "job_not_ready"}
    assert run(job_id, 9) == {"error": "invalid_option"}  # no such segment
    assert run(job_id, 0) == {"error": "invalid_option"}  # no translation to make again

    def crash(*_: object) -> Retranslation:
        raise RuntimeError("Il dit qu'il était chez lui")  # an unexpected error quoting the transcript

    monkeypatch.setattr(worker_step, "retranslate_segment", crash)
    with caplog.at_level(logging.INFO, logger="verbatim.worker"):
        assert run(job_id, 1) == {"error": "internal"}  # no text crosses the broker
    assert f"job={job_id} segment=1" in caplog.text
    monkeypatch.setattr(worker_step, "retranslate_segment", lambda *_: Retranslation(NEW, "m"))
    assert run(job_id, 1, user_id=999) == {"error": "internal"}  # no such user: nothing recorded
    assert _rows(sessions) == []


def test_a_status_reads_back_as_the_rows_or_the_error_the_worker_met() -> None:
    assert recorded_ids(json.loads(json.dumps(recorded_payload([3, 4])))) == [3, 4]
    for error in (
        TranslationUnavailableError("no route fr→de"),
        AudioDecodeError("SHA-256 mismatch"),
        IntegrityError("authentication failed"),
        EditConflictError("the transcript was corrected"),
    ):
        status = error_payload(error)
        assert list(status) == ["error"]  # its kind only: the worker's message stays with the worker
        with pytest.raises(type(error)) as raised:
            recorded_ids(json.loads(json.dumps(status)))
        assert type(raised.value) is type(error)
    with pytest.raises(RetranslationFailedError):
        recorded_ids(error_payload(KeyError("x")))


def test_the_in_process_dispatcher_answers_beside_a_running_job_and_a_late_worker_still_records(
    sessions: sessionmaker[Session],
    store: LocalObjectStore,
    settings: Settings,
    owner: User,
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

    def ask(timeout_s: float) -> dict[str, Any]:
        return dispatcher.retranslate(job_id, 1, user_id=owner.id, revision_sha256=None, timeout_s=timeout_s)

    try:
        dispatcher.submit("an-hour-long-recording")
        assert busy.wait(10)
        # not queued behind the job the worker thread is busy with
        assert ask(30) == {"ok": True, "edit_ids": []}

        threads: list[str] = []

        def slow(*_: object) -> Retranslation:
            threads.append(threading.current_thread().name)
            release.wait(30)
            return Retranslation(NEW, "m")

        monkeypatch.setattr(worker_step, "retranslate_segment", slow)
        with pytest.raises(TimeoutError):
            ask(0.2)
        assert threads and threads[0].startswith("verbatim-retranslate")
        assert _rows(sessions) == []
        release.set()
        deadline = time.monotonic() + 10
        while not _rows(sessions):  # the worker the API stopped waiting for records its row
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert [row.after for row in _rows(sessions)] == [NEW]
    finally:
        release.set()
        dispatcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        ask(1)


class _FakeResult:
    """A Celery AsyncResult stand-in that fails when two threads wait on the result consumer at once."""

    waiting = 0
    overlaps = 0
    guard = threading.Lock()

    def __init__(self, number: int) -> None:
        self.number = number
        self.revoked = False

    def get(self, timeout: float, propagate: bool) -> dict[str, Any]:
        with _FakeResult.guard:
            _FakeResult.waiting += 1
            _FakeResult.overlaps += _FakeResult.waiting > 1
        time.sleep(0.05)
        with _FakeResult.guard:
            _FakeResult.waiting -= 1
        return {"ok": True, "edit_ids": [self.number]}

    def forget(self) -> None:
        pass

    def revoke(self) -> None:
        self.revoked = True


class _FakeApp:
    def __init__(self) -> None:
        self.sent: list[_FakeResult] = []

    def send_task(self, name: str, args: list[Any], expires: float) -> _FakeResult:
        self.sent.append(result := _FakeResult(len(self.sent)))
        return result


def test_celery_waits_for_statuses_one_thread_at_a_time() -> None:
    from verbatim.workers.dispatch import CeleryDispatcher

    app = _FakeApp()
    dispatcher = CeleryDispatcher(app)  # type: ignore[arg-type]
    answers: list[dict[str, Any]] = []

    def ask(segment: int) -> None:
        answers.append(dispatcher.retranslate("job", segment, user_id=1, revision_sha256=None, timeout_s=10))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _FakeResult.overlaps == 0
    assert sorted(a["edit_ids"][0] for a in answers) == [0, 1, 2, 3]  # each thread got its own status
    # a thread that cannot get the consumer before its deadline gives up, revoking its task
    with dispatcher._results, pytest.raises(TimeoutError):
        dispatcher.retranslate("job", 9, user_id=1, revision_sha256=None, timeout_s=0.05)
    assert app.sent[-1].revoked
